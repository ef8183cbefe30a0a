
# %% [markdown]
# # 3. Consistency distillation
#
# *Lecture 4, "ODE-Based Diffusion Distillation", section 3 — as executable notes.*
#
# Knowledge distillation (notebook 02) needs the teacher to *solve the whole ODE* for every
# training pair. Consistency distillation (CD) avoids that: it only ever asks the teacher for
# **one solver step**, and trains the student to give the same answer at neighbouring points
# of one trajectory. This notebook follows the lecture's slides:
#
# 1. the consistency property on trajectories;
# 2. the CD loss with $\hat x_{n-1} = \mathrm{Solver}(x_n, t_n, t_{n-1})$;
# 3. its optimum — "again a mixture? NO!" — derived, then checked against the
#    consistency-*training* target, which *is* a mixture;
# 4. the trivial solution $f \equiv 0$ and the boundary condition $f(x, t_1) = x$;
# 5. a trained student against the exact optimum;
# 6. one-step vs stochastic multistep sampling;
# 7. Theorem 1: the optimum's error falls at the teacher solver's order.
#
# As in notebook 01 the data set is a finite set of points (8 on a unit ring), so the teacher
# is the **exact** $\mathbb E[x_0 \mid x]$ and the optimum of the CD loss can be computed
# exactly: it is the teacher's solver chained along the grid (`consistency_optimum`, the
# "oracle"). Every student is measured against it.
#
# Conventions (`ideal_diffusion.distill.optima`): the distillation grid is the Karras grid
# without its 0, written ascending as in the lecture, $t_1 = \sigma_{\min} = 0.002 < \dots <
# t_N = \sigma_{\max} = 80$ (here $N = 18$); we write $t_n$ and $\sigma$ for the same thing
# (VE: $x_n = x_0 + t_n\varepsilon$). The experiments are the seeded, cached runners of
# `ideal_diffusion.distill.exp_cd` — the same students as the slide figures in `figures/`.
# The numbers quoted in the text are those of the default run; `FAST=1` (for CI) trains
# 150-step students, so its printed numbers differ, but the `assert`s hold in both.

# %%
import os

import numpy as np

import ideal_diffusion.figures.cd  # noqa: F401  (registers the CD slide figures, rows 15-22)
from ideal_diffusion.distill import exp_cd as E
from ideal_diffusion.distill.cd import cd_batch, cd_loss, make_student
from ideal_diffusion.distill.optima import (
    ConsistencyOracle,
    consistency_optimum,
    consistency_training_target,
    teacher_step,
)
from ideal_diffusion.figures import notebook_style, show

FAST = os.environ.get("IDEAL_DIFFUSION_FAST") == "1"  # CI: small students, no slide figures

# %matplotlib inline
# %config InlineBackend.figure_format = 'png'
notebook_style()  # the slide style of figures/, at 80 dpi inline (keeps the notebook < 1 MiB)

STEPS = 150 if FAST else E.CONFIG["steps"]  # training steps of every student below
E.CONFIG["steps"] = STEPS  # every exp_cd runner below trains its students with this budget

data, den, grid = E.setting()  # ring(8), its ideal denoiser, the ascending 18-level grid
SOLVER = E.CONFIG["solver"]  # the teacher's one-step solver: Heun
spacing = float(np.linalg.norm(data.points[0] - data.points[1]))  # neighbouring points



print(f"FAST = {FAST}; student training steps: {STEPS}")
print(f"data: {len(data.points)} points on the unit ring, neighbours {spacing:.3f} apart")
print(f"grid t_1..t_N (N = {grid.size}): " + " ".join(f"{s:.3g}" for s in grid))

# %% [markdown]
# ## 3.1 The consistency property
#
# A consistency function maps **every** point of one PF-ODE trajectory to the same place, its
# end at $t_1$:
# $$f_\phi(x_1, t_1) = f_\phi(x_2, t_2) = \dots = f_\phi(x_N, t_N) = x_0 .$$
# With the teacher's discrete solver, "one trajectory" means the chain
# $x_{n-1} = \mathrm{Solver}(x_n, t_n, t_{n-1})$ from $x_N = 80\,\varepsilon$. The exact
# optimum (the oracle) continues that chain down to $t_1$ from wherever it starts, so it
# should give *the same bits* at every point of the chain; the trained student should come
# close. `trajectory_consistency` follows 6 chains and evaluates both at each of their 18
# points.

# %%
r1 = E.trajectory_consistency()
states, f_orc, f_stu = r1["states"], r1["oracle"], r1["student"]  # (L, 6, 2), L = 18 levels
end = f_orc[0]  # the state at t_1: where each trajectory ends
orc_spread = np.abs(f_orc - end).max()
print(f"oracle: max over all 18 points of 6 trajectories of |f*(x_n, t_n) - x_1| = "
      f"{orc_spread:.1e}")
end_gap = np.linalg.norm(end[:, None] - data.points, axis=2).min(axis=1)  # to nearest point
print(f"the 6 ends are {end_gap.max():.1e} or less from a data point\n")
err1 = np.linalg.norm(f_stu - end, axis=2)  # (L, 6)
print(f"{'t_n':>8} {'median |f_phi(x_n, t_n) - x_1|':>31} {'max':>7}")
for i in range(grid.size - 1, -1, -3):
    print(f"{grid[i]:8.3g} {np.median(err1[i]):31.4f} {err1[i].max():7.4f}")
assert orc_spread == 0.0
assert np.median(err1) < spacing / 2
show("cd_consistency_trajectories")

# %% [markdown]
# **Conclusion.** The oracle is consistent to the last bit (max deviation 0.0 along all six
# trajectories, whose ends lie within $4.7\times10^{-3}$ of a data point); the trained student
# sends the points of a trajectory to within a median of 0.017–0.134 of its end at the
# levels printed (0.112 from $t_N = 80$), well below the 0.765 between neighbouring data
# points. In the figure, the arrows from the points of each trajectory (grey) converge on
# one data point.

# %% [markdown]
# ## 3.2 The CD loss
#
# Adjacent points of a trajectory are not available for free (that would be KD's data
# collection), so CD makes them: noise a data point, $x_n = x_0 + t_n \varepsilon$, and take
# **one** teacher step,
# $\hat x_{n-1} = \mathrm{Solver}(x_n, t_n, t_{n-1} \mid \theta)$:
# $$\mathcal L_{CD}(\phi) = \mathbb E_{n \sim \mathcal U(2, N)}\,\mathbb E_{p_{data}(x_0)}\,
# \mathbb E_{q_{t_n}(x_n \mid x_0)} \big\| f_{\phi^-}(\hat x_{n-1}, t_{n-1}) -
# f_\phi(x_n, t_n) \big\|_2^2 .$$
# The target network $\phi^-$ is an EMA of $\phi$ ($\mu = 0.9$ here; $\mu = 0$ is a
# stop-gradient copy) and gets no gradient. One Heun step costs 2 denoiser evaluations, so a
# training run spends $2 \times \text{steps} \times \text{batch}$ teacher evaluations — and
# never a full solve.
#
# Below: one batch from `cd_batch` (is $\hat x_{n-1}$ really one teacher step?), and the loss
# of the trained student with its EMA target on it.

# %%
res = E.student(1)  # the trained CD student (cached: the same one as in 3.1 and the figures)
x_n, s_n, x_hat, s_prev, b = cd_batch(den, data, grid, 4096, rng=11, solver=SOLVER)
step_err = np.abs(x_hat - teacher_step(den, x_n, s_n, s_prev, SOLVER)).max()
print(f"batch of {len(s_n)}: levels t_n drawn {np.unique(s_n).size} distinct of "
      f"{grid.size - 1}; max |x_hat - Solver(x_n, t_n, t_n-1)| = {step_err:.1e}")


def target_net(x, s, bb):
    """The student's EMA target network f_{phi^-}."""
    return res.model(x, s, bb, theta=res.target_theta)


loss_student = cd_loss(res, target_net, den, x_n, s_n, grid, SOLVER)
print(f"trained student ({res.config['steps']} steps x batch {res.config['batch']}, "
      f"{res.teacher_evals:,} teacher evaluations): mean CD loss {loss_student.mean():.2e}, "
      f"median {np.median(loss_student):.2e}")
print(f"training loss (weighted): first 50 steps {res.history[:50].mean():.3g}, "
      f"last 50 {res.history[-50:].mean():.3g}")
assert step_err == 0.0

# %% [markdown]
# **Conclusion.** $\hat x_{n-1}$ is exactly one teacher step (difference 0.0); the trained
# student's CD loss on a fresh batch is small (mean $2.0\times10^{-3}$, median
# $6.2\times10^{-4}$) but not 0. How close is its $f_\phi$ to the exact minimiser? For that we
# need the minimiser.

# %% [markdown]
# ## 3.3 The optimum: "Hm, again a mixture? NO!"
#
# For a data set of $M$ points, $p_{data}(x_0) = \frac1M \sum_j \delta(x_0 - x_0^j)$, and for
# one level $n$ the $x_0$-integral collapses:
# $$J(f, n) = \int dx_n \; \frac1M \sum_{j=1}^M \mathcal N(x_n \mid x_0^j, t_n^2 I)\,
# \big\| f(\hat x_{n-1}, t_{n-1}) - f(x_n, t_n) \big\|^2 .$$
# Setting the derivative with respect to the value $f(x_n, t_n)$ to zero, pointwise in $x_n$,
# $$f(x_n, t_n) = \frac{\sum_j \mathcal N(x_n \mid x_0^j, t_n^2)\, f(\hat x_{n-1}, t_{n-1})}
# {\sum_j \mathcal N(x_n \mid x_0^j, t_n^2)} .$$
# It looks like the posterior-weighted **mixture** that made diffusion slow (notebook 01).
# But $\hat x_{n-1} = \mathrm{Solver}(x_n, t_n, t_{n-1})$ is a deterministic function of
# $x_n$ alone — it does not depend on which $x_0^j$ produced $x_n$ — so it leaves the sum:
# $$f(x_n, t_n) = f(\hat x_{n-1}, t_{n-1})\,\frac{\sum_j \mathcal N(x_n \mid x_0^j, t_n^2)}
# {\sum_j \mathcal N(x_n \mid x_0^j, t_n^2)} = f(\hat x_{n-1}, t_{n-1}) .$$
# Unrolled down to $t_1$, where $f(x, t_1) = x$ (section 3.4), the optimum is the teacher's
# solver **chained along the grid**:
# $f^*(x_n, t_n) = \mathrm{Solver}(\dots\mathrm{Solver}(x_n, t_n, t_{n-1}) \dots, t_2, t_1)$
# (`consistency_optimum`). It has CD loss exactly 0, for any solver.
#
# **The contrast: consistency training (CT).** Without a teacher, one can use the one-sample
# estimate $x_{n-1} = x_0 + t_{n-1}\varepsilon$ with the same $\varepsilon$, i.e.
# $x_{n-1}^{(j)} = x_0^j + \frac{t_{n-1}}{t_n}(x_n - x_0^j)$. That point **does** depend on
# $j$, the sum stays a sum, and the optimum at one level given the exact $f^*$ below is the
# posterior mixture
# $$f_{CT}(x_n, t_n) = \sum_j \pi_j(x_n, t_n)\, f^*\big(x_{n-1}^{(j)}, t_{n-1}\big)$$
# (`consistency_training_target`). Its mean point $\sum_j \pi_j x_{n-1}^{(j)}$ is exactly the
# Euler step — so at $t_2$ (where $f^*(\cdot, t_1)$ is the identity) $f_{CT}$ *is* the Euler
# step, and above $t_2$ it is a mixture of endpoints, not an endpoint.

# %%
rng3 = np.random.default_rng(3)
x_test = data.sample(2000, rng3)
n_test = rng3.integers(1, grid.size, 2000)  # any level above t_1
x_test = x_test + grid[n_test][:, None] * rng3.standard_normal(x_test.shape)
s_test = grid[n_test]
for solver in ("euler", "heun"):
    orc = ConsistencyOracle(den, grid, solver)
    loss_orc = cd_loss(orc, orc, den, x_test, s_test, grid, solver)
    print(f"{solver:>5} teacher: oracle CD loss on 2000 points at all levels: max "
          f"{loss_orc.max():.1e}, exactly 0 for {np.mean(loss_orc == 0):.0%}")
    assert loss_orc.max() == 0.0

# at t_2 the CT optimum is the Euler step to t_1 (identity below it)
x2 = data.sample(1000, rng3) + grid[1] * rng3.standard_normal((1000, 2))
s2 = np.full(1000, grid[1])
ct_euler = np.abs(consistency_training_target(den, x2, s2, grid, SOLVER)
                  - teacher_step(den, x2, s2, grid[0], "euler")).max()
print(f"\nat t_2 = {grid[1]:.4f}: max |f_CT - Euler step| = {ct_euler:.1e}")
assert ct_euler < 1e-12

# one point where the posterior is split between two data points
ang = np.arctan2(data.points[:2, 1], data.points[:2, 0])  # two neighbouring data points
theta = ang.mean() - 0.04  # on the unit circle, a little nearer the first than the second
x_one = np.array([[np.cos(theta), np.sin(theta)]])
s_i = 5  # t = 0.296: only these two points have weight
s_one = np.full(1, grid[s_i])
pi = den.posterior(x_one, s_one)[0]
top2 = np.argsort(pi)[::-1][:2]
ratio = grid[s_i - 1] / grid[s_i]
prev_j = data.points + ratio * (x_one - data.points)  # the M one-sample points x_{n-1}^(j)
ends_j = consistency_optimum(den, prev_j, np.full(len(prev_j), grid[s_i - 1]), grid, SOLVER)
f_ct = consistency_training_target(den, x_one, s_one, grid, SOLVER)[0]
f_cd = consistency_optimum(den, x_one, s_one, grid, SOLVER)[0]
print(f"\nx = ({x_one[0, 0]:.3f}, {x_one[0, 1]:.3f}) at t = {grid[s_i]:.3g}: posterior weights of "
      f"the two nearest points {pi[top2[0]]:.3f}, {pi[top2[1]]:.3f}")
for j in top2:
    print(f"  CT point j = {j}: f*(x_n-1^(j), t_n-1) = ({ends_j[j, 0]:+.3f}, {ends_j[j, 1]:+.3f})")
print(f"  CT optimum (their mixture) = ({f_ct[0]:+.3f}, {f_ct[1]:+.3f}), "
      f"|f_CT| = {np.linalg.norm(f_ct):.3f}")
print(f"  CD optimum (one point)     = ({f_cd[0]:+.3f}, {f_cd[1]:+.3f}), "
      f"|f*| = {np.linalg.norm(f_cd):.3f}, {np.min(np.linalg.norm(data.points - f_cd, axis=1)):.1e}"
      " from a data point")

r3 = E.student_vs_optimum(1)  # held-out points x = x0 + t eps at six levels
print("\nheld-out points, 500 per level: median distance to the CD optimum f*")
print(f"{'t_n':>8} {'CT optimum':>11} {'diffusion D':>12}")
for j, s in enumerate(r3["sigma"]):
    print(f"{s:8.3g} {r3['ct'][j]:11.4f} {r3['average'][j]:12.4f}")
assert np.nanmax(r3["ct"]) > 0.05 and np.abs(f_ct - f_cd).max() > 0.1

# %% [markdown]
# **Conclusion.** The oracle's CD loss is exactly 0 (all 2000 points, Euler and Heun
# teachers). The consistency-training optimum differs from it: at $t_2$ it is the Euler step
# (to $1.1\times10^{-16}$); at a point between two data points (weights 0.585 / 0.413, $t =
# 0.296$) it is the weighted average of their two endpoints, $(0.879, 0.293)$, inside the
# ring ($|f_{CT}| = 0.927$), while the CD optimum is one endpoint, $2.9\times10^{-3}$ from a
# data point. Over held-out points the median gap is 0.110 at $t = 0.296$ and 0.159 at
# $t = 1.92$, where the posterior is split; it is 0 (to 4 decimals) at $t = 0.023$, where one
# point holds all the weight, and at $t \ge 8.4$, where the $M$ one-sample points lie within
# $2(1 - t_{n-1}/t_n) \le 0.74$ of each other far from the ring and almost always share an
# endpoint. The diffusion optimum $D(x, t)$ is farther still (0.70 at $t = 1.92$, 0.99 at
# $t = 80$): it is the average itself.

# %% [markdown]
# ## 3.4 The trivial solution and the boundary condition
#
# The loss only asks neighbouring levels to agree, so
# $$f(x_N, t_N) = \dots = f(x_1, t_1) = 0$$
# is a minimiser too — loss 0, no data anywhere ("where is $x_0$?"). The lecture's fix is the
# **boundary condition** $f_\phi(x_1, t_1) = x_1$: at the smallest noise the output is the
# input (a sample of the data, up to $t_1 = 0.002$). Built into the network by the
# parameterisation $f_\phi(x, t) = c_{skip}(t)\,x + c_{out}(t)\,F_\phi(x, t)$ with
# $c_{skip}(t_1) = 1$, $c_{out}(t_1) = 0$, it holds exactly, for any weights. Then the
# consistency chain is pinned to the data at its lower end, and $f \equiv 0$ is no longer
# consistent with it. Below: (a) the trivial solution's loss, (b) the boundary condition of a
# random and of the trained student, (c) the collapse experiment: the same CD run with a
# plain output $f_\phi = F_\phi$ (no boundary condition) and with the boundary
# parameterisation, both with an AdamW weight decay (a pull of every weight towards 0, which
# the CD loss does not resist once the outputs agree), and a plain run without decay.

# %%
zero = lambda x, s, bb: np.zeros_like(x)  # noqa: E731
const = lambda x, s, bb: np.full_like(x, 3.0)  # noqa: E731
for name, f in (("f = 0", zero), ("f = (3, 3)", const)):
    lz = cd_loss(f, f, den, x_test, s_test, grid, SOLVER, boundary_condition=False)
    print(f"{name:>10}: CD loss without the boundary condition: max {lz.max():.1e}")
    assert lz.max() == 0.0

s1 = np.full(len(x_test), grid[0])
fresh = make_student(2, "consistency", sigma_min=grid[0], rng=123)  # boundary b = t_1
for name, f in (("random init", lambda x, s: fresh(x, s)), ("trained", res)):
    print(f"{name:>11} student: f(x, t_1) == x bit for bit on 2000 points: "
          f"{np.array_equal(f(x_test, s1), x_test)}")
    assert np.array_equal(f(x_test, s1), x_test)

c = E.collapse(steps=150) if FAST else E.collapse()
print(f"\ncollapse: {len(c['loss_plain'])} steps, data spread {c['data_spread']:.3f} "
      "(RMS distance of the points from their mean)")
print(f"{'run':>28} {'loss first/last 25':>20} {'spread/data':>12} {'med |f - f*|':>13}")
for run, label in (("plain", "plain output, decay"), ("bc", "boundary param., decay"),
                   ("plain0", "plain output, no decay")):
    L = c[f"loss_{run}"]
    print(f"{label:>28} {L[:25].mean():9.3g} /{L[-25:].mean():9.3g} "
          f"{c[f'ratio_{run}']:12.3f} {c[f'opt_{run}']:13.3f}")
print("spread during training (median over levels):")
for run in ("plain", "bc", "plain0"):
    print(f"{run:>7}: " + " ".join(f"{v:.2f}" for v in c[f"trace_{run}"]))
assert c["ratio_plain"] < 0.6 * c["ratio_bc"] and c["ratio_bc"] > 0.8
assert c["loss_plain"][-25:].mean() < 0.1 * c["loss_plain"][:25].mean()
assert c["opt_plain"] > 2 * c["opt_bc"]
show("cd_collapse")

# %% [markdown]
# **Conclusion.** Constant functions have CD loss exactly 0 without the boundary condition;
# with the boundary parameterisation $f(x, t_1) = x$ holds bit for bit, before and after
# training. (The boundary must be the grid's own $t_1$, `grid[0]` $= 0.002000000000000003$:
# relative to the literal 0.002, $c_{skip}$ is 1 only to rounding.) In the collapse runs the
# plain student's loss falls (0.455 → 0.00199) while the spread of its outputs across inputs
# shrinks from 0.67 to 0.37 within 50 steps and ends at 0.433 of the data's spread, a median
# 0.874 from the optimum (about the ring's radius); the boundary-parameterised run with the
# same decay grows to the data's spread (ratio 0.995) and ends 0.305 from the optimum (its
# loss is weighted by $1/c_{out}^2$: the two loss curves are not comparable in height).
# Without decay the plain run shrinks at first too (0.38) and then drifts back up (0.790),
# with nothing tying it to the data: 0.990 from the optimum.

# %% [markdown]
# ## 3.5 A trained student against the exact optimum
#
# The student of 3.1–3.2 (`exp_cd.CONFIG`: MLP 128 × 3, boundary parameterisation, EMA
# target $\mu = 0.9$, loss weights $1/c_{out}^2$) is compared with $f^*$ on 500 held-out
# points $x = x_0 + t\,\varepsilon$ per level. A natural bound: a quarter of the distance
# between neighbouring points (0.19) — an error below it cannot be mistaken for a
# neighbouring data point. The distance of the diffusion optimum $D(x, t)$ (the average) from
# $f^*$ shows what a student regressing onto the average would miss.

# %%
print(f"student: {res.config['steps']} steps x batch {res.config['batch']}, trained in "
      f"{res.config['train_seconds']:.1f} s (1 BLAS thread, 2 shared cores), "
      f"{res.teacher_evals:,} teacher evaluations")
print(f"{'t_n':>8} {'student |f - f*|':>17} {'average |D - f*|':>17}")
for j, s in enumerate(r3["sigma"]):
    print(f"{s:8.3g} {r3['student'][j]:17.4f} {r3['average'][j]:17.4f}")
hi = r3["sigma"] > 1
print(f"bound spacing/4 = {spacing / 4:.3f}; levels within it: "
      f"{int(np.sum(r3['student'] < spacing / 4))} of {len(r3['sigma'])}")
assert np.all(r3["student"][hi] < r3["average"][hi])
if not FAST:
    assert np.all(r3["student"] < spacing / 4)
show("cd_student_vs_optimum")

# %% [markdown]
# **Conclusion.** After 1600 steps (6–12 s in our runs on the 2 shared cores) the student
# is within a median 0.0195–0.171 of the exact optimum at every level (largest at
# $t = 28.4$; 0.144 at $t = 80$), under the 0.191 bound, while the average $D(x, t)$ is 0.99
# away at $t = 80$: the student learned the endpoint map, not the average. Only at the
# smallest level is the average closer (0.0025 against 0.0195): there one point holds all
# the weight and $D \approx f^*$.

# %% [markdown]
# ## 3.6 Sampling: one step, or stochastic multistep
#
# $f_\phi$ is no longer a denoiser, so no ODE solver applies. One step is $x_0 =
# f_\phi(x_T, t_N)$. Stochastic multistep sampling (Song et al. 2023, Algorithm 1) re-noises
# and maps again: for $\tau$ in a decreasing list,
# $x \leftarrow f_\phi\big(x + \sqrt{\tau^2 - t_1^2}\,z,\ \tau\big)$, $z \sim \mathcal N(0, I)$.
# Each re-noising starts a **new** trajectory at $\tau$: the sample can correct the student's
# error, but it is no longer the ODE map of $x_T$. We measure both, for the student and the
# oracle, with the same 400 noises and re-noising draws: quality (median distance to the
# nearest data point) and agreement with the ODE map (fraction of samples in the basin of the
# exact ODE endpoint of the same $x_T$).

# %%
m = E.multistep_curve()
print(f"{'steps':>5} | {'student: to data':>16} {'to exact':>9} {'same basin':>11} | "
      f"{'oracle: to data':>15} {'to exact':>9} {'same basin':>11}")
for j, k in enumerate(m["steps"]):
    print(f"{k:5d} | {m['student_data'][j]:16.4f} {m['student_exact'][j]:9.4f} "
          f"{m['student_basin'][j]:11.3f} | {m['oracle_data'][j]:15.4f} "
          f"{m['oracle_exact'][j]:9.4f} {m['oracle_basin'][j]:11.3f}")
assert m["oracle_basin"][0] > 0.95 and m["oracle_basin"][-1] < m["oracle_basin"][0] - 0.3
assert m["student_data"][3] < m["student_data"][0]
show("cd_multistep")

# %% [markdown]
# **Conclusion.** One step of the oracle is the ODE map (100% in the right basin, 0.0020 from
# the data: the noise left at $t_1$); one step of the student is 0.150 from the nearest data
# point (96% in the right basin). With 4 steps its samples are 0.059 from the data and with
# 8 steps 0.046 — re-noising lets it correct itself, the lecture's "about 4-5 steps" — but
# from 2 steps on only 10–21% of them stay in the ODE's basin, as for the oracle (chance is
# 1/8): the first re-noising ($\tau = 1.92$ for 2 steps, 8.4 for 3, up to 40.8 for 8) is
# larger than the distance between points, so it starts a new trajectory towards a random
# point. More steps buy quality, not agreement with the teacher's map.

# %% [markdown]
# ## 3.7 Theorem 1: the optimum inherits the solver's order — on the training grid
#
# Song et al. (2023), Theorem 1: if the CD loss is 0 and the teacher's solver has local error
# $O(h^{p+1})$, then $\sup |f_\phi(x, t_n) - f(x, t_n)| = O(h^p)$, $f$ the exact consistency
# function. Our oracle *is* the loss-0 function, so we measure
# $|f^*(x_T, t_N) - \mathrm{ODE}(x_T;\ 80 \to 0.002)|$ (DOP853 reference) for growing grids
# and fit $p$ (48 noises; error against $N$, the grid spacing is $\propto 1/(N-1)$).

# %%
t1 = E.theorem1()
print(f"{'N':>5} {'Euler':>10} {'Heun':>10}   median |f*(x_T, 80) - exact ODE to 0.002|")
for j, N in enumerate(t1["N"]):
    print(f"{N:5d} {t1['euler'][j]:10.2e} {t1['heun'][j]:10.2e}")
print(f"fitted orders: Euler p = {t1['p_euler']:.2f}, Heun p = {t1['p_heun']:.2f}")
assert 0.8 < t1["p_euler"] < 1.3 and 1.6 < t1["p_heun"] < 2.6
show("cd_theorem1")

# %% [markdown]
# **Conclusion.** The CD optimum's error falls as $h^{1.13}$ for an Euler teacher and
# $h^{2.27}$ for a Heun teacher. So CD *does* inherit a discretisation error — that of the
# teacher's solver on the **training grid** ($N - 1$ steps), not that of the few steps used
# at sampling: with Heun on 16 levels the optimum is $7.6\times10^{-4}$ from the exact ODE,
# while a 1-step teacher returns the average. That is the precise sense of the summary
# slide's "does not inherit discretisation errors".

# %% [markdown]
# ## 3.8 Summary
#
# CD asks the teacher for one solver step per training sample and never for a full solve.
# Its exact optimum is the teacher's chain — an endpoint, not the average the diffusion loss
# (or the one-sample CT loss) would give — and only the boundary condition makes that the
# *unique* optimum. A trained student gets close to it; one step is still its weak point,
# and multistep sampling trades agreement with the ODE map for quality. Notebook 04 splits
# the interval into segments to make each jump shorter.

# %% [markdown]
# ## Try this
#
# 1. **A stop-gradient target.** Train `E.student(1, steps=600)` and a student with
#    `train_cd(..., mu=0.0)` (see `ideal_diffusion.distill.cd.train_cd`): compare their
#    `student_vs_optimum`-style errors at $t = 80$.
# 2. **An Euler teacher.** Redo 3.3's CT contrast with `solver="euler"`: where does
#    $f_{CT}$ differ most from $f^*$ now?
# 3. **Other taus.** `multistep_sample(res, x_T, grid, taus=[...])`: can you find 2 or 3
#    re-noising levels that give better samples than `default_taus`?
# 4. **Theorem 1 at finer grids.** `E.theorem1(Ns=(32, 64, 128, 256, 512))`: does the Heun
#    order stay near 2, and what limits it?
# 5. **Weighting.** Train with `weighting="uniform"` and look at the error at small $t$.
#
# A start for exercise 3:

# %%
from ideal_diffusion.distill.sampling import default_taus, multistep_sample  # noqa: E402
from ideal_diffusion.geometry import exact_endpoints, sample_quality  # noqa: E402

x_T = 80 * np.random.default_rng(0).standard_normal((200, 2))
exact = exact_endpoints(den, x_T)
for taus in (default_taus(grid, 3), grid[[8, 4]]):  # replace the second list by yours
    q = sample_quality(data, multistep_sample(res, x_T, grid, taus, rng=1), exact)
    print(f"taus {np.round(taus, 3)}: median to data {q.median_dist_to_data:.4f}, "
          f"same basin {q.frac_same_basin:.3f}")
