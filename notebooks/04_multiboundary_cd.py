
# %% [markdown]
# # 4. Multi-boundary consistency distillation
#
# *Lecture 4, "ODE-Based Diffusion Distillation", section 4 — as executable notes.*
#
# Consistency distillation (notebook 03) trains one jump from any noise level to the data.
# Its one-step samples are its weak point. Multi-boundary CD (MBCD) **splits the interval**:
# with $K$ boundaries the student only has to jump to the next boundary, and sampling takes
# $K$ jumps. This notebook follows the slides:
#
# 1. splitting the interval into segments;
# 2. the 2-boundary example, exactly as on the slide, with the exact optimum and a student;
# 3. $K = 1, 2, 4$: student against the per-segment optimum and against the exact ODE;
# 4. "Ours, 4 steps vs Teacher, 50 steps" on small images;
# 5. the summary slide — what each method needs and what it inherits — with our numbers.
#
# Setting (as in notebook 03, `ideal_diffusion.distill.exp_cd`): 8 points on a unit ring, the
# exact denoiser as teacher with Heun steps on the ascending grid $t_1 = 0.002 < \dots <
# t_{18} = 80$. Every number comes from the seeded, cached runners, so it is reproducible.
# The numbers quoted in the text are those of the default run; `FAST=1` (for CI) trains
# 150-step students, measures the images on 64 noises and uses smaller KD runs, so its
# printed numbers differ, but the `assert`s hold in both.

# %%
import os

import numpy as np

import ideal_diffusion.figures.cd  # noqa: F401  (registers the CD / MBCD slide figures)
import ideal_diffusion.figures.images  # noqa: F401  (registers the image figure, row 23)
from ideal_diffusion import report
from ideal_diffusion.distill import exp_cd as E
from ideal_diffusion.distill import exp_images, exp_kd
from ideal_diffusion.distill.mbcd import choose_boundaries
from ideal_diffusion.distill.optima import ConsistencyOracle, lower_boundary, teacher_chain
from ideal_diffusion.distill.sampling import kjump_sample
from ideal_diffusion.figures import notebook_style, show
from ideal_diffusion.geometry import exact_endpoints, sample_quality

FAST = os.environ.get("IDEAL_DIFFUSION_FAST") == "1"  # CI: small students, no slide figures

# %matplotlib inline
# %config InlineBackend.figure_format = 'png'
notebook_style()  # the slide style of figures/, at 80 dpi inline (keeps the notebook < 1 MiB)

STEPS = 150 if FAST else E.CONFIG["steps"]  # training steps of every ring student below
E.CONFIG["steps"] = STEPS  # every exp_cd runner below trains its students with this budget

data, den, grid = E.setting()  # ring(8), its ideal denoiser, the ascending 18-level grid
SOLVER = E.CONFIG["solver"]  # Heun
N = grid.size



print(f"FAST = {FAST}; ring students: {STEPS} training steps")
print(f"grid t_1..t_N (N = {N}): " + " ".join(f"{s:.3g}" for s in grid))

# %% [markdown]
# ## 4.1 Splitting the interval
#
# Choose boundaries $b_0 = t_1 < b_1 < \dots < b_{K-1}$ on the grid ($b_K := t_N$). A level
# $t_n$ in the segment $(b_k, b_{k+1}]$ is trained to map to **the state of its trajectory at
# $b_k$**, the segment's lower boundary (the top point of a segment belongs to it, so sampling
# jumps $b_{k+1} \to b_k$). The loss is CD's, except that the target is replaced by
# $\hat x_{n-1}$ itself whenever $t_{n-1}$ is the segment's lower boundary — a boundary
# condition $f(x, b_k) = x$ at every boundary. $K = 1$ is plain CD. `choose_boundaries`
# spaces them evenly in grid position (the Karras spread):

# %%
for K in (1, 2, 4):
    b = choose_boundaries(grid, K)
    tops = np.append(b[1:], grid[-1])
    segs = ", ".join(f"({lo:.3g}, {hi:.3g}]: {int(np.sum((grid > lo) & (grid <= hi)))} levels"
                     for lo, hi in zip(b, tops))
    print(f"K = {K}: boundaries {np.round(b, 4).tolist()}\n        segments {segs}")
low4 = lower_boundary(grid, choose_boundaries(grid, 4), grid)
print("\nK = 4, target level of each grid level t_n (its segment's lower boundary):")
print("  " + "  ".join(f"{s:.3g}->{t:.3g}" for s, t in zip(grid, low4)))
assert np.all(low4 <= grid) and low4[0] == grid[0]

# %% [markdown]
# **Conclusion.** With $K = 2$ the second boundary is $t_9 = 1.92$ (segments of 8 and 9
# levels); with $K = 4$ the boundaries are 0.002, 0.14, 1.92 and 19.4.

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
# the grid — but only down to the segment's lower boundary. So the oracle's two jumps are the
# full chain $t_N \to t_1$ cut in two, and should reproduce it **bit for bit**. Then the
# trained 2-boundary student (`exp_cd.student(2)`), the same two calls.

# %%
b2 = choose_boundaries(grid, 2)
t_n, t_N = b2[1], grid[-1]
B = 400
x_N = 80.0 * np.random.default_rng(7).standard_normal((B, 2))
at = lambda s: np.full(B, s)  # noqa: E731

orc2 = ConsistencyOracle(den, grid, SOLVER, b2)
x_n = orc2(x_N, at(t_N))  # 1. x_n = f(x_N, t_N): the chain t_N -> t_n
x_0 = orc2(x_n, at(t_n))  # 2. x_0 = f(x_n, t_n): the chain t_n -> t_1
full = teacher_chain(den, x_N, t_N, grid[0], grid, SOLVER)  # the teacher's 17 Heun steps
half = teacher_chain(den, x_N, t_N, t_n, grid, SOLVER)
print(f"t_n = {t_n:.4f}; oracle: x_n == chain to t_n: {np.array_equal(x_n, half)}, "
      f"x_0 == full chain: {np.array_equal(x_0, full)} (max diff {np.abs(x_0 - full).max():.1e})")
assert np.array_equal(x_n, half) and np.array_equal(x_0, full)

res2 = E.student(2)
s_n = res2(x_N, at(t_N))
s_0 = res2(s_n, at(t_n))
exact = exact_endpoints(den, x_N)
print(f"student ({res2.config['steps']} steps, {res2.config['param']} parameterisation): "
      f"two calls == kjump_sample: {np.array_equal(s_0, kjump_sample(res2, x_N, grid, b2))}")
print(f"  median |x_n - oracle x_n| at t_n: {np.median(np.linalg.norm(s_n - x_n, axis=1)):.4f}"
      f"   (|x_n| itself: median {np.median(np.linalg.norm(x_n, axis=1)):.2f})")
for name, x in (("student", s_0), ("oracle", x_0)):
    q = sample_quality(data, x, exact)
    print(f"  {name:>7} x_0: median |x_0 - exact ODE| {q.median_dist_to_exact:.4f}, "
          f"same basin {q.frac_same_basin:.3f}")
assert np.array_equal(s_0, kjump_sample(res2, x_N, grid, b2))

# %% [markdown]
# **Conclusion.** The oracle's two jumps are the teacher's full chain bit for bit (max
# difference 0.0), its first jump the chain to $t_n = 1.92$ exactly. The student's first jump
# lands a median 0.0151 from the oracle's $x_n$ (whose size is 2.36); after its second jump
# it is 0.158 from the exact ODE endpoint, 98.0% in the right basin (oracle: 0.0020, the
# noise left at $t_1$, and 100%).

# %% [markdown]
# ## 4.3 K = 1, 2, 4
#
# The same loss and training budget for $K = 1$ (plain CD), 2 and 4 boundaries
# (`exp_cd.mbcd_vs_K`; 400 noises). For each $K$: the student's $K$-jump samples against the
# oracle's, against the exact ODE endpoint, and where the error comes from — the error
# against the per-segment optimum $f^*_K$ on held-out points at six levels, and the error of
# the final sample when only one jump is the student's (the others exact). Students with
# $K > 1$ use the `jump_edm` parameterisation: a DDIM step to $b_k$ through an
# EDM-preconditioned denoiser (`nn.JumpEDMParam`; $K = 1$ uses the paper's form).

# %%
m = E.mbcd_vs_K((1, 2, 4))
print(f"{'K':>2} {'teacher evals':>14} {'student to exact':>17} {'oracle to exact':>16} "
      f"{'student basin':>14} {'student vs oracle':>18}")
for j, K in enumerate(m["K"]):
    print(f"{K:2d} {int(m['teacher_evals'][j]):14,d} {m['student_exact'][j]:17.4f} "
          f"{m['oracle_exact'][j]:16.4f} {m['student_basin'][j]:14.3f} "
          f"{m['student_vs_oracle'][j]:18.4f}")
print("\nmedian |f - f*_K| on held-out points (per-segment optimum):")
print("   t_n " + " ".join(f"{s:8.3g}" for s in m["level_sigma"]))
for j, K in enumerate(m["K"]):
    print(f"K = {K} " + " ".join(f"{e:8.4f}" for e in m["level_error"][j]))
print("\nfinal-sample error when only jump k is the student's (k = 0: the bottom jump):")
for j, K in enumerate(m["K"]):
    b = m["boundaries"][j]
    tops = np.append(b[1:], grid[-1])
    print(f"K = {K}: " + ", ".join(f"{hi:.3g}->{lo:.3g}: {e:.4f}"
                                   for lo, hi, e in zip(b, tops, m["jump_error"][j])))
assert np.all(m["oracle_exact"] < 0.01)
assert np.all(m["student_exact"] > m["oracle_exact"])
if not FAST:
    assert m["student_exact"][-1] < m["student_exact"][0]
show("mbcd_vs_K")

# %% [markdown]
# **Conclusion.** The oracle is 0.0020 from the exact ODE for every $K$ (the noise left at
# $t_1$): splitting changes nothing for the exact optimum. The students, with the same
# budget (409,600 single-point teacher evaluations each), are 0.150 ($K = 1$), 0.163
# ($K = 2$) and 0.045 ($K = 4$) from the exact ODE, 96.0%, 97.5% and 98.5% in the right
# basin. Almost all of the error comes from the bottom jump: alone it costs 0.163 for
# $K = 2$ (the upper jump 0.0000) and 0.022 for $K = 4$ (the next 0.001). The basin is
# decided at $t \approx 0.3$–2, inside the bottom segment $(0.002, 1.92]$ for $K = 2$, so
# $K = 2$ is no easier than $K = 1$; for $K = 4$ the bottom segment is $(0.002, 0.14]$, where
# the map is nearly the projection on the nearest point, and the per-level errors against
# $f^*_4$ are at most 0.073.

# %% [markdown]
# ## 4.4 "Ours, 4 steps" vs "Teacher, 50 steps", on images
#
# The lecture's last figure, on the ten digit glyphs (12 × 12, $d = 144$): a 4-boundary
# student (`exp_images`, trained once and committed as a small checkpoint; `python -m
# ideal_diffusion.distill.exp_images --retrain` remakes it) against the 50-step Heun teacher
# (99 evaluations), the oracle's 4 jumps, and plain 4-step diffusion without distillation —
# all from the **same** noises. Quality against the exact ODE endpoint of each noise: the
# median distance, and the fraction of samples that are the same digit.

# %%
img = exp_images.load_student()
ic = img.config
print(f"checkpoint: K = {ic['K']} boundaries {np.round(img.boundaries, 3).tolist()}, "
      f"{ic['param']} parameterisation, {ic['steps']} steps x batch {ic['batch']}, "
      f"{img.teacher_evals:,} teacher evaluations")
cmp_ = exp_images.compare(img, n=64) if FAST else exp_images.cached_comparison(512, 1)
print(f"{len(cmp_.x_T)} noises:\n" + cmp_.table())
qi = cmp_.quality
assert cmp_.nfe["student"] == 4 and cmp_.nfe["teacher"] == 99
assert qi["student"].frac_same_basin > qi["plain"].frac_same_basin + 0.1
assert qi["oracle"].frac_same_basin > 0.95
show("images_4step_vs_teacher")

# %% [markdown]
# **Conclusion.** With 4 evaluations the student draws the exact ODE's digit for 94.5% of
# the 512 noises (median distance 0.088 from the exact endpoint; two digits are 5.2–13
# apart), against 99.8% for the 50-step teacher (99 evaluations), 70.1% for plain Heun with
# 4 steps (7 evaluations) and 55.5% for plain Euler with 4. Its exact optimum, the oracle,
# gets 99.6% with the same 4 jumps (0.024 from the exact endpoint: $t_1\sqrt d = 0.024$, the
# noise left at $t_1$). The remaining gap to the teacher is the student's approximation
# error, not the method's.

# %% [markdown]
# ## 4.5 Summary: what each method needs and what it inherits
#
# The lecture's last slide, with what we measured in notebooks 01–04:
#
# | method | needs | inherits |
# |---|---|---|
# | diffusion, $n$ steps | nothing | curved paths: the error of its $n$ sampling steps |
# | KD | a full teacher solve per training pair | the error of the teacher's solve |
# | CD | one teacher step per training sample | the teacher's error on the training grid |
# | MBCD | as CD | as CD; samples in $K$ jumps |
#
# The slide's words: DM trajectories are curved, so distillation is needed; KD "requires a
# lot of synthetic samples and inherits discretization errors"; CD "does not require
# synthetic data, does not inherit discretization errors, but the quality could be better
# even for 5 steps"; MBCD "looks like a good solution, but still struggles with one step".
# CD's "inherits" column is Theorem 1 of notebook 03: the error of $N - 1$ teacher steps on
# the training grid (small), not that of the few steps used at sampling.
#
# The table below is `ideal_diffusion.report.collect_rows()` — the same rows as
# `python -m ideal_diffusion report` — on the ring: denoiser evaluations spent before
# sampling (each on one sample point: KD's pair collection, CD's training batches), steps
# at sampling (network evaluations for a student, solver steps for the teacher), the median
# distance to the exact ODE endpoint of the same $x_T$ and the fraction in its basin. (With
# the exact denoiser a sampler ending at $\sigma = 0$ lands on *some* data point, so read the
# basin fraction first.)

# %%
KD = dict(exp_kd.FAST, n_pairs=2048, steps=300, n_test=500) if FAST else {}
rows = report.collect_rows(kd_overrides=KD)
print(f"{'method':<26} {'teacher evals':>13} {'steps':>5} {'med to exact':>12} "
      f"{'same basin':>10}")
for r in rows:
    print(f"{r['method']:<26} {r['teacher_evals']:13,d} {r['student_steps']:5d} "
          f"{r['median_dist_to_exact']:12.4f} {r['frac_same_basin']:10.3f}")
row = {r["method"]: r for r in rows}
kd3, kd50 = row["KD (Heun 3-step teacher)"], row["KD (Heun 50-step teacher)"]
cd, mb4 = row["CD"], row["MBCD (K=4)"]
print(f"\nKD: the 50-step teacher's pairs cost {kd50['teacher_evals'] / kd3['teacher_evals']:.1f}x "
      f"the 3-step teacher's; CD spent {cd['teacher_evals']:,} single-step evaluations.")
assert kd3["median_dist_to_exact"] > kd50["median_dist_to_exact"]
assert kd50["teacher_evals"] > kd3["teacher_evals"] and cd["student_steps"] == 1
assert row["teacher Heun 1 step"]["median_dist_to_exact"] > 0.9
if not FAST:
    assert mb4["median_dist_to_exact"] < cd["median_dist_to_exact"]

# %% [markdown]
# **Conclusion.** Reading the rows against the slide:
#
# * **Diffusion, few steps:** one step returns the average, 0.993 from the exact endpoint
#   (its basin fraction 1.000 means nothing here: the sample sits at the centre, and its
#   "nearest" point is decided by the tiny offset along $x_T$). Heun with 4 steps: 46.0% in
#   the right basin. On this symmetric ring, Euler with 2 steps ending at $\sigma = 0$
#   happens to land every sample on the right point (the state near the centre keeps the
#   direction of $x_T$); notebook 01 shows the few-step failure on paths that stop at
#   $\sigma = 0.002$.
# * **KD** spends 81,920 single-point teacher evaluations on pairs from the 3-step teacher
#   (16,384 pairs × 5) and 1,622,016 (19.8× more) from the 50-step teacher; the student of
#   the 3-step teacher is 0.047 from the exact ODE (91.5% in the right basin), that of the
#   50-step teacher 0.016 (99.8%): *requires synthetic samples, inherits the discretisation
#   error*.
# * **CD** spends 409,600 single-step evaluations and never solves the ODE; its one step is
#   0.150 from the exact ODE (96.0%): *no synthetic data, but one step could be better*. On
#   this toy the best one-step student is KD from the 50-step teacher — bought with 4× CD's
#   evaluations, all of them full solves.
# * **MBCD** with CD's budget: 0.163 with 2 jumps, 0.045 with 4 (98.5%) — *a good solution,
#   but one step ($K = 1$, plain CD) is still its weak point*.

# %% [markdown]
# ## Try this
#
# 1. **Other boundaries.** Train `E.student(2)`-like students (`ideal_diffusion.distill.mbcd.
#    train_mbcd` with your own `boundaries`) with the second boundary at 0.3 or at 8.4
#    instead of 1.92: which puts the basin decision in the easier segment?
# 2. **More budget.** `E.mbcd_budget()` (about 2 minutes) trains K = 1, 2, 4 with 600, 1200
#    and 2400 steps: does the ranking of K change with the budget?
# 3. **K = 8.** `E.student(8)` and `kjump_sample`: does the error keep falling?
# 4. **Images, fewer jumps.** Use the oracle with `choose_boundaries(grid, 2)` on the glyphs
#    (`exp_images.image_data()`): how many digits change against the teacher?
#
# A start for exercise 4:

# %%
g_data, g_den, g_grid = exp_images.image_data()
b_img = choose_boundaries(g_grid, 2)  # try 1, 2, 3
orc_img = ConsistencyOracle(g_den, g_grid, "heun", b_img)
x_img = cmp_.x_T[:16]
q_img = sample_quality(g_data, kjump_sample(orc_img, x_img, g_grid, b_img),
                       cmp_.samples["exact"][:16])
print(f"oracle, {len(b_img)} jumps: same digit as the exact ODE for "
      f"{q_img.frac_same_basin:.3f} of 16 noises")
