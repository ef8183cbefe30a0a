# %% [markdown]
# # 4. Multi-boundary consistency distillation, and the summary
#
# *Lecture 4, "ODE-Based Diffusion Distillation": the slides "3. Multiboundary CD" and
# "Summary" (with "Ours, 4 steps" vs "Teacher, 50 steps").*
#
# Consistency distillation (notebook 03) trains one jump from any noise level straight to the
# data, and its one-step samples are its weak point. Multi-boundary CD (MBCD) **splits the
# interval**: with $K$ boundaries the student only has to jump to the next boundary, and
# sampling takes $K$ jumps. This notebook follows the slides:
#
# 1. splitting the interval into segments;
# 2. the slide's 2-boundary example, reproduced bit for bit with the exact optimum, then a
#    trained student making the same two calls;
# 3. $K = 1, 2, 4$: each student against its exact per-segment optimum and the exact ODE;
# 4. an explorer: move $K$ and the boundaries and see where the trajectory bends;
# 5. "Ours, 4 steps" vs "Teacher, 50 steps" on real 8 × 8 digits;
# 6. the Summary slide as a table: at equal NFE, each student's gap split into **training
#    error** (student vs its exact optimum) and **method error** (exact optimum vs exact ODE);
# 7. exercises, each with a worked solution.
#
# **Setting.** The 2-D `clusters` data set (20 points in clusters of different scales and
# weights); the teacher is its exact denoiser $\mathbb E[x_0 \mid x]$ with Heun steps on the
# ascending distillation grid $t_1 = \sigma_{\min} = 0.002 < \dots < t_N = \sigma_{\max} = 80$.
# **Measurement convention**: every sample is the state at $\sigma_{\min} = 0.002$ (no final
# step to $\sigma = 0$, which would snap it onto the nearest data point), compared with the
# exact PF-ODE state at $\sigma_{\min}$ of the same noise $x_T$; cost is counted as NFE
# (network or denoiser evaluations per sample).
#
# Every knob is in a frozen Config you can edit (`dataclasses.replace`) and every figure is
# drawn from what the cell above it just computed: change a Config, re-run, and the picture
# and the sentences change with it. `FAST=1` (CI) trains smaller students, so its numbers
# differ; the `check` lines hold in both modes.

# %%
import itertools
import os
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np

from ideal_diffusion.distill.mbcd import choose_boundaries
from ideal_diffusion.distill.optima import (
    ConsistencyOracle,
    distill_grid,
    lower_boundary,
    teacher_chain,
    teacher_step,
)
from ideal_diffusion.distill.sampling import kjump_sample
from ideal_diffusion.experiments import boundaries, common, images, mbcd, names, students, summary
from ideal_diffusion.experiments.cd import student_vs_optimum
from ideal_diffusion.figures import notebook_style
from ideal_diffusion.figures.notebook import check, explore, say
from ideal_diffusion.metrics import paired_bootstrap

FAST = os.environ.get("IDEAL_DIFFUSION_FAST") == "1"  # CI: small students, small digit runs
TRAIN_MISSING = not FAST  # train a digit student whose checkpoint is missing (minutes each)

# %matplotlib inline
# %config InlineBackend.figure_format = 'png'
notebook_style()  # the slide style of figures/, at 80 dpi inline

# The students of this notebook: those of the summary table (printed below), with
# K = 1 (plain CD), 2 and 4 boundaries. Edit it, e.g. replace(MB, Ks=(1, 2, 3, 6)).
MB = replace(mbcd.SUMMARY, Ks=(1, 2, 4))
if FAST:
    MB = replace(MB, cd=replace(MB.cd, hidden=64, train=MB.cd.train.replace(steps=150)))

DATA, SOLVER = MB.cd.data, MB.cd.solver
points = common.dataset(DATA).points
den = common.ideal_denoiser(DATA)
grid = distill_grid(MB.cd.N)  # ascending t_1 .. t_N
N = grid.size
ref = common.reference(DATA, MB.cd.n_test, MB.cd.test_seed)  # held-out x_T, exact states
t = MB.cd.train
print(f"FAST = {FAST}; data {DATA!r}: {len(points)} points in {points.shape[1]}-D; "
      f"{len(ref.x_T)} held-out noises")
print(f"students: MLP {MB.cd.hidden}x{MB.cd.depth}, {t.steps} steps x batch {t.batch}, "
      f"EMA target mu = {t.ema}; K = {MB.Ks}")
print(f"grid t_1..t_N (N = {N}, {SOLVER} teacher): " + " ".join(f"{s:.3g}" for s in grid))

# %% [markdown]
# ## 4.1 Splitting the interval (slide "3. Multiboundary CD")
#
# Choose boundaries $b_0 = t_1 < b_1 < \dots < b_{K-1}$ on the grid ($b_K := t_N$). A level
# $t_n$ in the segment $(b_k, b_{k+1}]$ is trained to map to **the state of its trajectory at
# $b_k$**, the segment's lower boundary (the top point of a segment belongs to it, so sampling
# jumps $b_{k+1} \to b_k$). The loss is CD's, except that the target is $\hat x_{n-1}$ itself
# whenever $t_{n-1}$ is the segment's lower boundary: a boundary condition $f(x, b_k) = x$ at
# every boundary. $K = 1$ is plain CD. `choose_boundaries` spaces the boundaries evenly in
# grid position (the Karras spread):

# %%
fig, ax = plt.subplots(figsize=(9, 0.7 + 0.5 * len(MB.Ks)))
for row, K in enumerate(MB.Ks):
    b = choose_boundaries(grid, K)
    low = lower_boundary(grid, b, grid)  # the target level of every grid level
    seg = np.searchsorted(b, low)  # segment index of every level
    tops = np.append(b[1:], grid[-1])
    print(f"K = {K}: boundaries {np.round(b, 3).tolist()}; levels per segment "
          f"{[int(np.sum((grid > lo) & (grid <= hi))) for lo, hi in zip(b, tops)]}")
    ax.scatter(grid, np.full(N, row), c=plt.get_cmap("tab10")(seg % 10), s=25, zorder=3)
    ax.scatter(b, np.full(K, row), marker="|", s=400, c="k", zorder=4)
ax.set_xscale("log")
ax.set_yticks(range(len(MB.Ks)), [f"K = {K}" for K in MB.Ks])
ax.set_xlabel(r"grid level $t_n = \sigma$ (colour: segment; bar: its lower boundary $b_k$)")
ax.set_title("Segments of the distillation grid")
ax.set_ylim(-0.6, len(MB.Ks) - 0.4)
fig.tight_layout()
plt.show()
low4 = lower_boundary(grid, choose_boundaries(grid, 4), grid)
check("K = 4: every level maps at or below itself, and t_1 to itself",
      np.all(low4 <= grid) and low4[0] == grid[0])

# %% [markdown]
# ## 4.2 The 2-boundary example, as on the slide
#
# With one extra boundary at $t_n$:
# $$f_\phi(x_1, t_1) = \dots = f_\phi(x_n, t_n) = x_0 \quad\text{(first boundary)},$$
# $$f_\phi(x_{n+1}, t_{n+1}) = \dots = f_\phi(x_N, t_N) = x_{t_n} \quad\text{(second
# boundary)},$$
# and sampling takes two jumps:
# $$1.\ x_N \sim \mathcal N(0, \sigma^2 I),\quad x_n = f_\phi(x_N, t_N); \qquad
# 2.\ x_0 = f_\phi(x_n, t_n).$$
# The exact optimum of the 2-boundary loss is, as in notebook 03, the teacher chained along
# the grid, but only down to the segment's lower boundary
# (`ConsistencyOracle(den, grid, solver, boundaries)`). So the oracle's two jumps are the full
# chain $t_N \to t_1$ cut in two, and must reproduce it **bit for bit**. Then the trained
# 2-boundary student makes the same two calls.

# %%
b2 = choose_boundaries(grid, 2)
t_n, t_N = b2[1], grid[-1]
x_N = ref.x_T
B = len(x_N)
at = lambda s: np.full(B, s)  # noqa: E731  (a noise level for every sample)

orc2 = ConsistencyOracle(den, grid, SOLVER, b2)
x_n = orc2(x_N, at(t_N))  # 1. x_n = f(x_N, t_N): the chain t_N -> t_n
x_0 = orc2(x_n, at(t_n))  # 2. x_0 = f(x_n, t_n): the chain t_n -> t_1
full = teacher_chain(den, x_N, t_N, grid[0], grid, SOLVER)  # the teacher's N - 1 steps
check("oracle jump 1 is the teacher's chain down to t_n, bit for bit",
      np.array_equal(x_n, teacher_chain(den, x_N, t_N, t_n, grid, SOLVER)), t_n=t_n)
check("oracle jumps 1 + 2 are the full chain t_N -> t_1, bit for bit",
      np.array_equal(x_0, full), max_diff=float(np.abs(x_0 - full).max()))

run2 = student_vs_optimum.run(MB.student_config(2))  # the trained 2-boundary student (cached)
f2 = run2.student
s_n = f2(x_N, at(t_N))
s_0 = f2(s_n, at(t_n))
check("the student's two calls are kjump_sample", np.array_equal(s_0, kjump_sample(f2, x_N)))
q_s, q_o = common.measure(s_0, ref), common.measure(x_0, ref)
gap_n = np.median(np.linalg.norm(s_n - x_n, axis=1))
size_n = np.median(np.linalg.norm(x_n, axis=1))
print(f"after jump 1 (state at t_n = {t_n:.3g}): median |student - oracle| = {gap_n:.3g} "
      f"(median |x_n| = {size_n:.3g})")
for who, q in (("student", q_s), ("oracle ", q_o)):
    print(f"after jump 2, {who}: median |x_0 - exact ODE| = {q.err_median:.3g}, "
          f"nearest the exact state's data point: {q.same_basin:.1%}")

# %%
pair_dist = np.linalg.norm(points[:, None] - points[None], axis=-1)
min_spacing = float(pair_dist[np.triu_indices(len(points), 1)].min())
fig, axs = plt.subplots(1, 2, figsize=(11, 4.8))
lo, hi = points.min(axis=0) - 2.5, points.max(axis=0) + 2.5
for a, (title, xo, xs) in zip(axs, ((f"after jump 1: state at $t_n$ = {t_n:.3g}", x_n, s_n),
                                     (r"after jump 2: state at $t_1 = \sigma_{min}$", x_0, s_0))):
    a.scatter(*xo.T, s=14, c="tab:orange", alpha=0.6, label="exact optimum (oracle)")
    a.scatter(*xs.T, s=14, marker="+", c="tab:blue", alpha=0.6, label="trained student")
    a.scatter(*points.T, s=60, marker="x", c="k", label="data points")
    a.set_xlim(lo[0], hi[0])
    a.set_ylim(lo[1], hi[1])
    a.set_aspect("equal")
    a.set_title(title)
axs[0].legend(loc="upper center", bbox_to_anchor=(1.1, -0.08), ncol=3, fontsize=8)
fig.suptitle(f"The slide's two jumps from the same {B} noises x_N")
plt.show()
say("**Reading the numbers.** The oracle reproduces the teacher's chain exactly; what is left "
    "of it against the exact ODE, {eo:.2g}, is the teacher's Heun error on the {N}-level grid "
    "(the method error). The student's first jump lands a median {gn:.2g} from the oracle's "
    "$x_n$ (whose size is {sn:.2g}); after the second jump it is {es:.2g} from the exact ODE "
    "state, {bs:.0%} nearest the right data point (oracle: {bo:.0%}). That fraction is a strict "
    "test on this data set: the two closest data points are only {sp:.2g} apart, so even the "
    "exact optimum's small Heun error puts some samples nearest a neighbour of the exact "
    "state's point.",
    eo=q_o.err_median, N=N, gn=gap_n, sn=size_n, es=q_s.err_median, bs=q_s.same_basin,
    bo=q_o.same_basin, sp=min_spacing)

# %% [markdown]
# ## 4.3 K = 1, 2, 4: students against their exact per-segment optima
#
# `mbcd.run(MB)` trains one student per $K$ with the same loss and budget ($K = 1$ is the
# CD student of notebook 03's summary row; $K > 1$ use the `jump_edm` parameterisation: a DDIM
# step to $b_k$ through an EDM-preconditioned denoiser, so the network's output has data scale
# in every segment). For each $K$ it measures the $K$-jump samples against the oracle's and the
# exact ODE, the error against the per-segment optimum $f^*_K$ at six grid levels, and the
# error of the final sample when **only jump $k$ is the student's** (the other jumps exact).

# %%
res = mbcd.run(MB)
for j, K in enumerate(res.Ks):  # the students by name: the summary's rows, unless labelled
    print(names.report(DATA, MB.label(K), int(K), res.runs[j].measure))
print(f"{'K':>2} {'NFE':>4} {'teacher evals':>14} {'student-exact':>14} {'oracle-exact':>13} "
      f"{'student-oracle':>15} {'same basin':>11}")
for j, K in enumerate(res.Ks):
    print(f"{K:2d} {K:4d} {int(res.teacher_evals[j]):14,d} {res.err[j]:14.4f} "
          f"{res.err_oracle[j]:13.4f} {res.err_to_oracle[j]:15.4f} {res.same_basin[j]:11.1%}")
print("\nfinal-sample error when only jump k is the student's (k = 0: the bottom jump):")
for j, K in enumerate(res.Ks):
    b = res.boundaries[j]
    tops = np.append(b[1:], grid[-1])
    print(f"K = {K}: " + ", ".join(f"{hi_:.3g}->{lo_:.3g}: {e:.4f}"
                                   for lo_, hi_, e in zip(b, tops, res.jump_error[j])))
mbcd.plot(res)
plt.show()
check("the exact optimum's K-jump sample does not depend on K (it is the full chain)",
      np.ptp(res.err_oracle) == 0, oracle_err=float(res.err_oracle[0]))
check("every student is farther from the exact ODE than its optimum",
      np.all(res.err > res.err_oracle), worst_ratio=float(np.min(res.err / res.err_oracle)))

# %%
# Where along the trajectory is the data point decided? For each noise, follow the exact
# chain and find the highest grid level from which the denoiser's most probable data point
# (the argmax of the posterior weights) stays the final one.
states = [ref.x_T]
for i in range(N - 1, 0, -1):
    states.append(teacher_step(den, states[-1], grid[i], grid[i - 1], SOLVER))
states = states[::-1]  # states[i]: the chain at grid[i]
argmax = np.stack([den.posterior(x, at(s)).argmax(axis=1) for x, s in zip(states, grid)])
stays = np.cumprod(argmax == argmax[0], axis=0).astype(bool)  # decided from level 0 up to i
decided = grid[stays.sum(axis=0) - 1]  # per noise: highest level of the final argmax run
q25, q75 = np.percentile(decided, [25, 75])
share = [float(res.jump_error[j][0] / res.err_to_oracle[j]) for j in range(len(res.Ks))]
bottom = [float(res.boundaries[j][1]) if res.Ks[j] > 1 else float(grid[-1])
          for j in range(len(res.Ks))]
inside = [float(np.mean(decided <= top)) for top in bottom]
say("**Reading the numbers.** The exact optimum is {eo:.2g} from the exact ODE for every $K$: "
    "splitting the interval changes nothing for a perfect student, whose $K$ jumps are the "
    "teacher's chain cut into pieces. The students, with the same budget "
    "({te:,} teacher evaluations each), are {errs} from the exact ODE (K = {Ks}; which $K$ "
    "beats which, with its uncertainty, and how much that depends on where the boundaries "
    "sit: section 4.3b). The **bottom jump** makes {most} of each student's error: alone (the "
    "other jumps exact) it costs {shares} of the error of all jumps together.\n\n"
    "Why the bottom? It is the jump that ends at the data, so it must resolve the finest "
    "decisions: the closest data points are {sp:.2g} apart, and a point is told from its "
    "neighbour only once $\\sigma$ is comparable to their distance. Following the exact chain, "
    "the most probable data point of a noise stops changing at $\\sigma$ between {q25:.2g} "
    "and {q75:.2g} for the middle half of the noises; the bottom segment, up to {bots}, "
    "contains that decision for {ins} of them (K = {Ks}). More boundaries make the bottom "
    "segment shorter, so fewer decisions and less bending are left to one jump.",
    eo=float(res.err_oracle[0]), te=int(res.teacher_evals[0]),
    errs=", ".join(f"{e:.3g}" for e in res.err), Ks=", ".join(str(k) for k in res.Ks),
    most="most" if min(share) > 0.5 else "a large part",
    shares=", ".join(f"{s:.0%}" for s in share), sp=min_spacing, q25=q25, q75=q75,
    bots=", ".join(f"{b:.3g}" for b in bottom), ins=", ".join(f"{f:.0%}" for f in inside))

# %% [markdown]
# ## 4.3b Where the boundaries sit decides the $K$ comparison
#
# `choose_boundaries` spreads the boundaries evenly in grid position; nothing says that is
# where they help a student most. The exact optimum cannot choose for us: its $K$ jumps are the
# full chain for every placement (Exercise 2). What changes with the placement is how far each
# jump is from a straight one, i.e. how much a network must bend. `boundaries.run` scores every
# placement of $K$ boundaries on the grid by its $K$ DDIM (Euler) jumps of the exact denoiser
# against the exact optimum's $K$ jumps, on search noises that are **not** the reference
# noises, then trains students at the best-scoring ("searched") and at the default placement
# with the same budget as above, and compares them on the reference noises with a paired
# bootstrap (the 95% interval of the median difference; "beats" only when it excludes 0).

# %%
BND = boundaries.Config(mb=replace(MB, Ks=tuple(k for k in MB.Ks if k > 1)))
bnd = boundaries.run(BND)  # the default-placement students are those of 4.3 (cached)
print(f"{'K':>2} {'placement':>9} {'boundaries':>32} {'DDIM score':>11} {'student err':>12}")
for s_, d_, b_, sr in zip(bnd.searches, bnd.default, bnd.searched, bnd.score_ref):
    for lab, r_, sc in (("default", d_, sr[0]), ("searched", b_, sr[1])):
        print(f"{s_.K:2d} {lab:>9} {', '.join(f'{v:.3g}' for v in r_.boundaries):>32} "
              f"{sc:11.4f} {r_.measure.err_median:12.4f}")
boundaries.plot(bnd)
plt.show()
check("the searched placement, found on other noises, also scores lower on the reference "
      "noises", all(sr[1] < sr[0] for sr in bnd.score_ref),
      scores=[tuple(round(v, 4) for v in sr) for sr in bnd.score_ref])
pairs = {}  # (placement, K_a, K_b) -> PairedComparison of K_b's errors against K_a's
for lab, runs in (("default", bnd.default), ("searched", bnd.searched)):
    for (ka, ra), (kb_, rb) in itertools.combinations(zip(bnd.Ks, runs), 2):
        pairs[lab, ka, kb_] = paired_bootstrap(rb.measure.errors, ra.measure.errors,
                                               rng=BND.search_seed)


def ci_text(v):
    return (f"**{v.verdict}** (median difference {v.diff:+.3g}, 95% CI [{v.lo:.3g}, "
            f"{v.hi:.3g}], closer on {v.win_rate:.0%} of {v.n} noises)")


say("**Placement.** " + " ".join(
    f"With K = {k}, the student at the searched boundaries {ci_text(v)} the one at the "
    "default boundaries." for k, v in zip(bnd.Ks, bnd.vs_default)))
say("**K, at each placement.** " + " ".join(
    f"At the {lab} boundaries, K = {kb_} {ci_text(v)} K = {ka}." for (lab, ka, kb_), v
    in pairs.items()))
flip = [(ka, kb_) for (lab, ka, kb_), v in pairs.items() if lab == "default"
        and v.verdict != pairs["searched", ka, kb_].verdict]
if flip:
    say("So the conclusion about $K$ depends on where the boundaries sit: " + "; ".join(
        f"K = {kb_} {pairs['default', ka, kb_].verdict} K = {ka} at the default boundaries "
        f"but {pairs['searched', ka, kb_].verdict} it at the searched ones" for ka, kb_ in flip)
        + ". Read a $K$ comparison as a comparison of placements too.")
else:
    say("So the conclusion about $K$ is the same at both placements.")


# %% [markdown]
# ## 4.4 Explore: move K and the boundaries
#
# Training a student per slider position is too slow, but the exact optimum is cheap. How hard
# is each segment's jump? A jump whose trajectory is straight is one DDIM (Euler) step of the
# denoiser itself; the further the exact jump lands from that one step, the more the student
# must bend away from the plain denoiser. `ddim_jump_errors` replaces **only jump $k$** by one
# DDIM step (the other jumps exact) and measures the final sample against the exact optimum's
# (this is `mbcd.jump_errors` with a DDIM step as the "student"). The slider `b1` sets the
# grid position of the lowest interior boundary $b_1$; the others are spread evenly above it.
# Left: the trajectories (radius compressed to show $\sigma$ = 80 down to the data), the exact
# boundary states (dots) and each segment's one-step DDIM jump (dashed); right: the per-jump
# errors, the $K$-step DDIM sampler's error at these boundaries, and the exact optimum's.

# %%
def place_boundaries(K, b1):
    """K boundaries: t_1, grid[b1], and K - 2 more spread evenly in grid position above b1."""
    if K == 1:
        return grid[:1]
    b1 = int(np.clip(b1, 1, N - K))
    pos = np.round(np.linspace(b1, N - 1, K - 1, endpoint=False)).astype(int)
    return grid[np.concatenate([[0], pos])]


def ddim_jump(x, sigma, boundary):
    """One DDIM (= Euler) step of the ideal denoiser from sigma straight to the boundary."""
    return teacher_step(den, x, sigma, boundary, "euler")


def ddim_jump_errors(bounds, x_T):
    """Per jump k: final-sample error when only jump k is one DDIM step; and the K-step DDIM
    sampler's and the exact optimum's errors against the exact ODE (medians)."""
    orc = ConsistencyOracle(den, grid, SOLVER, bounds)
    per_jump = mbcd.jump_errors(ddim_jump, orc, x_T)
    x_ddim = kjump_sample(ddim_jump, x_T, grid, bounds)
    return per_jump, common.measure(x_ddim, ref).err_median, common.measure(
        kjump_sample(orc, x_T), ref).err_median


def draw_segments(K=2, b1=8, n_traj=8):
    bounds = place_boundaries(K, b1)
    per_jump, e_ddim, e_orc = ddim_jump_errors(bounds, ref.x_T)
    tops = np.append(bounds[1:], grid[-1])
    warp = lambda x: x * (np.log10(1 + np.linalg.norm(x, axis=-1, keepdims=True) / 0.1)  # noqa: E731
                          / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-300))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12.5, 5.2))
    cols = plt.get_cmap("tab10")
    chain = np.stack(states)[:, :n_traj]  # (N, n_traj, 2)
    seg = np.searchsorted(bounds, lower_boundary(grid, bounds, grid))
    for i in range(N - 1):
        a1.plot(*warp(chain[i:i + 2]).transpose(2, 0, 1), c=cols(seg[i + 1] % 10), lw=1.2)
    for k in range(bounds.size):
        ib, it = np.searchsorted(grid, bounds[k]), np.searchsorted(grid, tops[k])
        a1.scatter(*warp(chain[ib]).T, s=30, color=cols(k % 10), zorder=4,
                   label=f"segment ({bounds[k]:.3g}, {tops[k]:.3g}]")
        one = ddim_jump(chain[it], np.full(n_traj, tops[k]), np.full(n_traj, bounds[k]))
        for j in range(n_traj):
            a1.plot(*warp(np.stack([chain[it, j], one[j]])).T, ls="--", c=cols(k % 10), lw=0.8)
    a1.scatter(*warp(points).T, marker="x", c="k", s=30, zorder=5)
    a1.set_aspect("equal")
    a1.set_title("trajectories (solid), boundary states (dots),\none DDIM step per segment "
                 "(dashed); radius $r \\to \\log_{10}(1 + r / 0.1)$", fontsize=9)
    a1.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=2)
    a2.bar(range(K), np.maximum(per_jump, 1e-5), color=[cols(k % 10) for k in range(K)])
    a2.axhline(e_ddim, c="tab:red", ls="--",
               label=f"K DDIM steps at these boundaries: {e_ddim:.3g}")
    a2.axhline(e_orc, c="tab:orange", ls=":", label=f"exact optimum, K jumps: {e_orc:.3g}")
    a2.set_yscale("log")
    a2.set_ylim(1e-5, 10)
    a2.set_xticks(range(K), [f"jump to\n$b_{k}$ = {bounds[k]:.3g}" for k in range(K)], fontsize=8)
    a2.set_ylabel("median error of the final sample")
    a2.set_title("only jump k is one DDIM step (the rest exact)", fontsize=9)
    a2.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


explore(draw_segments, K=((1, 2, 3, 4, 6), 2), b1=(slice(1, N - 2, 1), 8))
bounds_default = place_boundaries(2, 8)
pj, e_dd, e_or = ddim_jump_errors(bounds_default, ref.x_T)
check("with K = 2, b1 at grid position 8: the exact optimum is still the full chain",
      e_or == res.err_oracle[0], oracle_err=e_or)
say("At the defaults (K = 2, $b_1$ = {b1:.3g}) one DDIM step for the bottom jump alone costs "
    "{e0:.3g}, for the top jump alone {e1:.3g}: the straight step is {r:.0f} times worse in the "
    "{which} segment, the one that holds most of the decisions of section 4.3. Two DDIM steps "
    "at these boundaries are {edd:.3g} from the exact ODE, the exact optimum's two jumps "
    "{eor:.2g}.", b1=bounds_default[1], e0=pj[0], e1=pj[1], r=max(pj) / min(pj),
    which="bottom" if pj[0] > pj[1] else "top", edd=e_dd, eor=e_or)

# %% [markdown]
# ## 4.5 "Ours, 4 steps" vs "Teacher, 50 steps", on real digits (slide "Summary")
#
# The lecture's last figure, on scikit-learn's handwritten 8 × 8 digits ($d = 64$), with the
# **generalising** teacher: the exact denoiser of a Gaussian mixture fitted to the digits
# (`data.digits_gmm()`, section 1.6b of notebook 01). Its exact ODE makes new digits and its
# few-step samplers blur or misplace them, as real image models do. (With the memorising
# delta-mixture teacher, `data="digits"`, plain 4-step samplers already land sharp on a training
# image, often the wrong one: try it.) The summary's 4-boundary student of these digits
# (`mbcd.summary_config("digits_gmm")`, committed in the store; `python -m ideal_diffusion
# retrain` remakes it) against the 50-step Heun teacher, the student's exact optimum making
# the same 4 jumps, and the plain teacher with 4 evaluations (Euler and DPM-Solver++(2M)), all
# from the **same** noises. `images.run(IMG)`
# measures every sampler against the exact ODE state at $\sigma_{\min}$, and the comparison
# with the best plain teacher is a paired bootstrap over the noises: "beats" only when its 95%
# interval lies below 0. The grey scale covers every pixel drawn (the colour bar gives it):
# pixels outside the data's $[-1, 1]$ are overshoot, and the figure prints how many there are.

# %%
IMG = images.Config(data="digits_gmm", K=4, n=64 if FAST else 400)  # edit: data, K, n, show


def digit_spec(K, data="digits_gmm"):
    """The Config of the summary's student of ``data`` with K boundaries (K = 1: plain CD)."""
    return images.student_config(data, K)


def digits_available(committed):
    """True if every committed student (``students.CHECKPOINTED``) is in the store (or we may
    train the missing ones)."""
    missing = [c.name for c in committed if c.load() is None]
    if missing:
        print(f"no checkpoint for {missing}"
              + ("; training now (slow: minutes each)" if TRAIN_MISSING else
                 "; skipped (make them with `python -m ideal_diffusion retrain`, "
                 "or set TRAIN_MISSING = True)"))
    return not missing or TRAIN_MISSING


ours_committed = [c for c in students.CHECKPOINTED.values()
                  if c.config == digit_spec(IMG.K, IMG.data)]
img = images.run(IMG) if digits_available(ours_committed) else None
if img is not None:
    print(f"{IMG.n} noises; the student spent {img.teacher_evals:,} teacher evaluations\n"
          + img.table())
    images.plot(img)
    plt.show()
    ours, teacher = img.get(f"Ours, {IMG.K} steps"), img.samplers[0]
    opt = img.get(f"exact optimum, {IMG.K} jumps")
    print(names.report(IMG.data, digit_spec(IMG.K, IMG.data).label, IMG.K, ours.quality))
    plain = [s for s in img.samplers if s.label.startswith("teacher") and s.nfe == IMG.K]
    best_plain = min(plain, key=lambda s: s.quality.err_median)
    vs = paired_bootstrap(ours.quality.errors, best_plain.quality.errors, rng=IMG.seed)
    basin_word = "component" if IMG.data == "digits_gmm" else "training image"
    check("the exact optimum with K jumps is closer to the exact ODE than the plain teacher "
          "with K evaluations", opt.quality.err_median < best_plain.quality.err_median,
          optimum=opt.quality.err_median, plain=best_plain.quality.err_median)
    say("With {K} evaluations the student is {es:.3g} from the exact ODE state ({bs:.0%} in "
        "the same {bw}); its exact optimum, with the same {K} jumps, is {eo:.3g} ({bo:.0%}); "
        "the 50-step teacher ({nt} evaluations) {et:.3g} ({bt:.0%}); the best plain teacher "
        "with {K} evaluations, {pl}, {ep:.3g} ({bp:.0%}). The student **{verdict}** it at equal "
        "NFE: median difference {d:.3g}, 95% paired-bootstrap interval [{lo:.3g}, {hi:.3g}], "
        "closer on {w:.0%} of the {n} noises. The median distance between student and optimum "
        "(same noise), {gap:.3g}, against the optimum's own {eo:.3g}: the student's training "
        "error, not the method's, limits it.",
        K=IMG.K, es=ours.quality.err_median, bs=ours.quality.same_basin, bw=basin_word,
        eo=opt.quality.err_median, bo=opt.quality.same_basin, nt=teacher.nfe,
        et=teacher.quality.err_median, bt=teacher.quality.same_basin, pl=best_plain.label,
        ep=best_plain.quality.err_median, bp=best_plain.quality.same_basin,
        verdict=vs.verdict, d=vs.diff, lo=vs.lo, hi=vs.hi, w=vs.win_rate, n=vs.n,
        gap=float(np.median(np.linalg.norm(ours.samples - opt.samples, axis=1))))


# %% [markdown]
# ## 4.6 Summary: method error and training error at equal NFE
#
# The Summary slide says: DM trajectories are curved, so distillation is needed; knowledge
# distillation "requires a lot of synthetic samples and inherits discretization errors";
# consistency distillation "does not require synthetic data, does not inherit discretization
# errors, but the quality could be better even for 5 steps"; multi-boundary CD "looks like a
# good solution, but still struggles with one step".
#
# `summary.run(SUM)` puts every method on one table, per data set and NFE: the plain teacher
# samplers, each distilled student, and each student's **exact optimum** at the same NFE. For a
# student row, its error against the exact ODE splits into
#
# * **method error** = exact optimum vs exact ODE: what a perfect student of this method would
#   still get wrong (KD: its teacher's discretisation error; CD and MBCD: the teacher's error
#   on the training grid, below the training error here);
# * **training error** = student vs its exact optimum (same noise): what the network and its
#   training failed to learn.
#
# It trains the 2-D students (KD, CD, MBCD, progressive distillation, flow matching; the CD and
# MBCD ones are those of section 4.3 when `MB` is left at its default, so they are not trained
# twice) and loads the committed digit students. In FAST mode it would train too long for CI,
# so the table there is built from this notebook's own runs (the plain teachers and the CD/MBCD
# students of section 4.3).

# %%
def rows_of_this_notebook():
    """Summary rows from what the notebook computed: plain teachers and the MB students."""
    rows = summary.teacher_rows(DATA, n=MB.cd.n_test, seed=MB.cd.test_seed)
    rows += mbcd.summary_rows(res)  # K = 1 is the CD row
    rows = summary.finish_rows(rows, n=MB.cd.n_test, seed=MB.cd.test_seed)  # CIs, quality
    return summary.SummaryResult(config=summary.Config(datasets=(DATA,), n=MB.cd.n_test,
                                                       seed=MB.cd.test_seed), rows=tuple(rows))


if FAST:
    SUM = None
    summ = rows_of_this_notebook()
    print("FAST: summary from this notebook's own students (the full table trains KD, "
          "progressive and flow students too)")
else:
    SUM = summary.Config(datasets=("clusters", "digits", "digits_gmm")
                         if digits_available(students.CHECKPOINTED.values()) else ("clusters",))
    summ = summary.run(SUM)


def fmt(v, spec=".3g"):
    return "-" if v is None else format(v, spec)


table = ["| data | method | NFE | teacher evals | error vs exact ODE | method error | "
         "training error | same basin | noises (of the method/training columns) |",
         "|---|---|---|---|---|---|---|---|---|"]
for r in summ.rows:
    table.append(f"| {r.data} | {r.method} | {r.nfe} | {r.teacher_evals:,} | "
                 f"{fmt(r.err_median)} | {fmt(r.err_optimum_median)} | "
                 f"{fmt(r.err_to_optimum_median)} | "
                 f"{'-' if np.isnan(r.same_basin) else format(r.same_basin, '.0%')} | "
                 f"{r.n_noises or '-'}"
                 f"{f' ({r.n_optimum_noises})' if r.n_optimum_noises else ''} |")
say("\n".join(table))
fig = summary.plot(summ)
for ax in fig.axes:  # few-step Heun blows up (see below): keep the other rows readable
    ax.set_ylim(1e-4, 20)
plt.show()

# %% [markdown]
# **How to read it.** For one sample, |student - exact ODE| is at most |student - optimum| +
# |optimum - exact ODE|, training error plus method error; the larger of the two (in the
# medians of the table) is what limits the student. The plot draws each student
# (filled) beside its exact optimum (open) and the plain teacher samplers (lines) at the same
# NFE. The cell below reads the table for you, one line per student: which part of its gap
# dominates, and whether it beats the best plain teacher with the same number of evaluations.

# %%
verdicts = []
losers = []
for r in summ.rows:
    if r.err_optimum_median is None or r.err_to_optimum_median is None:
        continue  # a plain teacher, or an exact optimum itself (method error only)
    train_err, method_err = r.err_to_optimum_median, r.err_optimum_median
    part = "training error" if train_err > method_err else "method error"
    if r.n_optimum_noises and r.n_optimum_noises != r.n_noises:
        part += (f"* (method and training error on the first {r.n_optimum_noises} noises "
                 f"only, the error on {r.n_noises}: not additive)")
    if r.verdict != "beats":
        losers.append(r)
    ci = ("-" if r.verdict is None else
          f"{r.vs_best_teacher:+.3g}, 95% CI [{r.vs_best_teacher_lo:.3g}, "
          f"{r.vs_best_teacher_hi:.3g}], closer on {r.win_rate:.0%} of {r.n_noises} noises")
    verdicts.append(
        f"- **{r.data}, {r.method}** (NFE {r.nfe}): error {r.err_median:.3g}; training error "
        f"{train_err:.3g}, method error {method_err:.3g}: mostly **{part}**. Against the best "
        f"plain teacher with at most {r.nfe} evaluations ({r.baseline or '-'}): "
        f"**{r.verdict or 'no comparison'}** ({ci}).")
say("\n".join(verdicts))
cdmb = [r for r in summ.rows if r.data == DATA and r.method.startswith(("CD", "MBCD"))]
heun_few = [r for r in summ.rows if r.method.startswith("teacher Heun") and r.nfe <= 4]
bad = [r for r in heun_few if r.err_median > 1.0]
if bad:
    say("Note the plain **Heun** rows with few steps ({names}: errors {errs}): after one huge "
        "step from $\\sigma$ = 80 its corrector evaluates the slope at a much smaller $\\sigma$ "
        "and divides by it, so it overshoots; notebook 01 (section 1.8) shows it. Read the "
        "Euler and DPM-Solver++(2M) rows as the plain teacher at those NFE.",
        names=", ".join(f"{r.data} {r.method}" for r in bad),
        errs=", ".join(f"{r.err_median:.3g}" for r in bad))
check("CD/MBCD on the 2-D data: the training error exceeds the method error",
      all(r.err_to_optimum_median > r.err_optimum_median for r in cdmb),
      max_method_err=max(r.err_optimum_median for r in cdmb),
      min_training_err=min(r.err_to_optimum_median for r in cdmb))
kd_few = [r for r in summ.rows if r.method.startswith("KD") and "3-step" in r.method]
if kd_few:
    check("KD from a 3-step teacher: the method error (inherited) exceeds the training error",
          all(r.err_optimum_median > r.err_to_optimum_median for r in kd_few),
          method_err=kd_few[0].err_optimum_median, training_err=kd_few[0].err_to_optimum_median)
dig = [r for r in losers if r.data == "digits"]
if dig:
    spec = digit_spec(4, "digits")
    say("**Why {names} {how} the plain teacher on the memorising digits.** "
        "{names_again}: {each} far from its own exact optimum (training error {tr}) while that "
        "optimum is far closer to the exact ODE than any plain teacher at the same NFE (method "
        "error {me}). The method is fine; the network is not: an MLP of {h} × {dp} trained "
        "for {st} steps has to learn a map from 64-D noise "
        "to {n:,} distinct images, and the K-jump map is as sharp as the data is detailed.",
        names=", ".join(r.method for r in dig), names_again=", ".join(r.method for r in dig),
        how=" / ".join(sorted({r.verdict for r in dig})),
        each="each is" if len(dig) > 1 else "it is",
        tr=", ".join(f"{r.err_to_optimum_median:.3g}" for r in dig),
        me=", ".join(f"{r.err_optimum_median:.3g}" for r in dig), h=spec.hidden,
        dp=spec.depth, st=spec.train.steps, n=len(common.dataset("digits").points))
    gen = [r for r in summ.rows if r.data == "digits_gmm" and r.verdict is not None]
    if gen:
        say("On the generalising teacher (`digits_gmm`) the same kind of students "
            "{how}: {rows}. Its exact ODE map is smooth (new images, no basins of 1,797 "
            "points), so the training error is small enough for the few jumps to pay.",
            how=("all beat the best plain teacher" if all(r.verdict == "beats" for r in gen)
                 else "fare as follows"),
            rows="; ".join(f"{r.method} {r.verdict} {r.baseline} ({r.err_median:.3g} vs "
                           f"{r.err_median - r.vs_best_teacher:.3g})" for r in gen))
elif losers:
    say("Students that do not beat the best plain teacher with at most their NFE (the paired "
        "95% interval does not lie below 0): {names}.",
        names=", ".join(f"{r.data} {r.method} ({r.verdict})" for r in losers))
else:
    say("Every student beats the best plain teacher with at most its NFE (each paired 95% "
        "interval lies below 0).")

# %% [markdown]
# **The slide's claims, against the table.** *KD requires synthetic samples and inherits
# discretisation errors*: its "teacher evals" are full solves, and its method error is its
# teacher's (large for a few-step teacher). *CD does not inherit discretisation errors*: its
# method error is the teacher's error on the fine training grid (Theorem 1 of notebook 03),
# below its training error on every data set here (the cell below prints the ratio), *but the
# quality could be better*: the gap is mostly training.
# *MBCD looks like a good solution but still struggles with one step*: its exact optimum is
# the same chain for every $K$, so what $K$ buys is an easier learning problem; with $K = 1$
# it is plain CD.

# %%
cd_rows = [r for r in summ.rows if r.method.startswith(("CD", "MBCD"))
           and r.err_to_optimum_median is not None]
ratios = {d: [r.err_optimum_median / r.err_to_optimum_median for r in cd_rows if r.data == d]
          for d in dict.fromkeys(r.data for r in cd_rows)}
check("CD and MBCD: the method error is below the training error on every data set",
      all(x < 1 for v in ratios.values() for x in v),
      **{f"max_method_over_training_{d}": max(v) for d, v in ratios.items()})
say("Method error over training error, CD and MBCD rows: " + "; ".join(
    f"{d}: {min(v):.2g} to {max(v):.2g}" for d, v in ratios.items()) + ".")

# %% [markdown]
# ## 4.7 Exercises
#
# Each has a measurable answer, and a worked solution below it (click to expand; the
# notebook runs it).
#
# #### Exercise 1: where should the second boundary go?
#
# For $K = 2$, scan the grid position
# of $b_1$ and find the one that minimises the error of the 2-step DDIM sampler at the
# boundaries $\{t_1, b_1\}$ (`ddim_jump_errors`). Is it where the basin decision happens
# (section 4.3)?

# %% [markdown]
# #### Solution (hidden: click "cells hidden" below, or the arrow beside this heading, to open)

# %% tags=["solution"]
scan = {i: ddim_jump_errors(place_boundaries(2, i), ref.x_T)[1] for i in range(1, N - 1)}
i_best = min(scan, key=scan.get)
for i, e in scan.items():
    print(f"b1 = grid[{i:2d}] = {grid[i]:8.3g}: 2-step DDIM error {e:.4f}"
          + ("   <- best" if i == i_best else ""))
i_default = int(np.searchsorted(grid, choose_boundaries(grid, 2)[1]))
say("The best second boundary is $b_1$ = {b:.3g} (2-step error {e:.3g}; the default "
    "`choose_boundaries` puts it at {bd:.3g}: {ed:.3g}). For the middle half of the noises the "
    "data point is decided between $\\sigma$ = {q25:.2g} and {q75:.2g} (section 4.3). This "
    "scan uses the reference noises; section 4.3b makes the same search on other noises "
    "(`boundaries.search`, every placement for K = {Ks}) and puts $b_1$ at {bs:.3g} for "
    "K = 2. Trained there, the K = 2 student {v}.",
    b=grid[i_best], e=scan[i_best], bd=grid[i_default], ed=scan[i_default], q25=q25, q75=q75,
    Ks=", ".join(str(k) for k in bnd.Ks),
    bs=(bnd.searched[bnd.Ks.index(2)].boundaries[1] if 2 in bnd.Ks else float("nan")),
    v=(ci_text(bnd.vs_default[bnd.Ks.index(2)]) + " the default-placement one" if 2 in bnd.Ks
       else "is not in this run (edit MB.Ks)"))

# %% [markdown]
# #### Exercise 2: the method error depends on the grid, not on $K$.
#
# Show that the exact
# optimum's $K$-jump sample is the full teacher chain bit for bit for $K = 1, \dots, 6$, and
# that its error against the exact ODE falls as the grid gets finer ($N$ = 10, 18, 34, 66
# levels): at about which order in the grid spacing?

# %% [markdown]
# #### Solution (hidden: click "cells hidden" below, or the arrow beside this heading, to open)

# %% tags=["solution"]
same = all(np.array_equal(kjump_sample(ConsistencyOracle(den, grid, SOLVER,
                                                         choose_boundaries(grid, K)), ref.x_T),
                          full) for K in range(1, 7))
check("K = 1..6: the oracle's K jumps are the full chain, bit for bit", same)
Ns = (10, 18, 34, 66)
errs = []
for n_lev in Ns:
    g = distill_grid(n_lev)
    errs.append(common.measure(teacher_chain(den, ref.x_T, g[-1], g[0], g, SOLVER),
                               ref).err_median)
    print(f"N = {n_lev:2d}: exact optimum vs exact ODE {errs[-1]:.3g}")
# local order between consecutive grids: error ~ (steps)^(-p)
p_loc = -np.diff(np.log(errs)) / np.diff(np.log(np.array(Ns) - 1.0))
print("local order p between consecutive grids: " + ", ".join(f"{p:.2f}" for p in p_loc))
say("Doubling the number of grid steps divides the method error by about $2^p$ with p = "
    "{ps} from the coarsest to the finest pair; the {s} teacher's asymptotic order is {po} "
    "(notebook 03's Theorem 1), which the finest grids approach. $K$ only decides how the same "
    "chain is cut into jumps.", ps=", ".join(f"{p:.2g}" for p in p_loc), s=SOLVER,
    po={"heun": 2, "euler": 1}[SOLVER])

# %% [markdown]
# #### Exercise 3: who is limited by training, who by the method?
#
# From the summary rows
# (`summ.rows`), compute each student's share of training error, training / (training +
# method), and find the student with the largest and the smallest share.

# %% [markdown]
# #### Solution (hidden: click "cells hidden" below, or the arrow beside this heading, to open)

# %% tags=["solution"]
# rows whose method/training columns use fewer noises than the rest are left out (not additive)
shares = {f"{r.data}: {r.method}": r.err_to_optimum_median
          / (r.err_to_optimum_median + r.err_optimum_median)
          for r in summ.rows if r.err_to_optimum_median is not None
          and not (r.n_optimum_noises and r.n_optimum_noises != r.n_noises)}
for name, s in sorted(shares.items(), key=lambda kv: kv[1]):
    print(f"{s:6.1%}  {name}")
top, bottom = max(shares.values()), min(shares.values())
his = [k for k, v in shares.items() if f"{v:.1%}" == f"{top:.1%}"]
los = [k for k, v in shares.items() if f"{v:.1%}" == f"{bottom:.1%}"]
say("Largest training share ({hs:.1%}): {hi}; smallest ({ls:.1%}): {lo}. A small share means "
    "a better network would not help: the method itself (e.g. a few-step KD teacher) is the "
    "limit.", hi="; ".join(his), hs=top, lo="; ".join(los), ls=bottom)

# %% [markdown]
# #### End of the exercises
