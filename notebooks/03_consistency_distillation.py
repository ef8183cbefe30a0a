# %% [markdown]
# # 3. Consistency distillation
#
# *Lecture 4, "ODE-Based Diffusion Distillation", section 3, as executable notes.*
#
# Knowledge distillation (notebook 02) needs the teacher to *solve the whole ODE* for every
# training pair. Consistency distillation (CD) avoids that: it only ever asks the teacher for
# **one solver step**, and trains the student to give the same answer at neighbouring points
# of one trajectory. This notebook follows the slides:
#
# 1. the consistency property on trajectories ("3. Consistency Distillation. Main idea");
# 2. the CD loss with $\hat x_{n-1} = \mathrm{Solver}(x_n, t_n, t_{n-1})$ ("3. Consistency
#    Distillation. Loss function");
# 3. its optimum, "Hm, again a mixture? NO!", derived and checked against the
#    consistency-*training* target, which *is* a mixture ("3. What about optimal solution?");
# 4. the trivial solution $f \equiv 0$ and the boundary condition $f(x, t_1) = x$;
# 5. a trained student against the exact optimum, with sliders;
# 6. one-step and stochastic multistep sampling ("3. Sampling from CD");
# 7. Theorem 1: the optimum's error falls at the teacher solver's order ("Summary").
#
# **The setting.** The data set is a finite set of points (`"clusters"`: 20 points in four
# clusters of different sizes and weights), so the teacher is the **exact**
# $\mathbb E[x_0 \mid x]$ and the optimum of the CD loss is known exactly: the teacher's
# solver chained along the grid (`ConsistencyOracle`, "the oracle" below). Every student is
# measured against it.
#
# **Conventions.** The distillation grid is the Karras grid without a 0, written ascending as
# on the slides, $t_1 = \sigma_{\min} = 0.002 < \dots < t_N = \sigma_{\max} = 80$
# (`distill_grid(N)`); $t_n$ and $\sigma$ are the same thing (VE: $x_n = x_0 +
# t_n\varepsilon$). A sample is the state at $\sigma_{\min}$, compared with the exact PF-ODE
# state at $\sigma_{\min}$ of the same noise, and its cost is counted in network evaluations
# (NFE). The $\sigma \to 0$ limit (the nearest data point) is never applied to a sample.
#
# **How to use this notebook.** Every experiment is one frozen Config. Edit `CD` below (data
# set `"clusters"` or `"ring"`, grid size `N`, teacher `solver`, network, `train`) or any
# Config in a cell, and re-run:
# the figures, the printed numbers and the sentences are all computed from what the cells
# just ran; `check(...)` lines fail loudly if a claim no longer holds.

# %%
import os
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np

from ideal_diffusion.distill.cd import cd_batch, cd_loss, make_student
from ideal_diffusion.distill.optima import (
    ConsistencyOracle,
    consistency_optimum,
    consistency_training_target,
    distill_grid,
    teacher_step,
)
from ideal_diffusion.distill.sampling import default_taus, multistep_sample
from ideal_diffusion.experiments import common, names
from ideal_diffusion.experiments.cd import (
    collapse,
    heldout,
    multistep,
    student_vs_optimum,
    theorem1,
    trajectories,
)
from ideal_diffusion.figures import notebook_style
from ideal_diffusion.figures.notebook import check, explore, say
from ideal_diffusion.metrics import paired_bootstrap

FAST = os.environ.get("IDEAL_DIFFUSION_FAST") == "1"  # CI: shorter training, same cells

# %matplotlib inline
# %config InlineBackend.figure_format = 'png'
notebook_style()


def eval_levels(N: int) -> tuple:
    """Six grid positions from t_3 to t_N where a student is compared with the optimum."""
    return tuple(int(i) for i in np.unique(np.round(np.linspace(2, N - 1, 6))))


# The student of this notebook: edit any field (data, N, solver, param, hidden, train, ...).
CD = student_vs_optimum.Config()  # the summary's CD student (its name: CD.label)
CD = replace(CD, eval_levels=eval_levels(CD.N))
if FAST:
    CD = replace(CD, hidden=64, n_eval=200, n_test=200, train=CD.train.replace(steps=150))

data, den = common.dataset(CD.data), common.ideal_denoiser(CD.data)
grid = distill_grid(CD.N)  # ascending: grid[0] = t_1 = 0.002, grid[-1] = t_N = 80
print(f"FAST = {FAST}; data {CD.data!r}: {data.N} points in d = {data.d}")
print(f"grid t_1..t_N (N = {grid.size}): " + " ".join(f"{s:.3g}" for s in grid))
print(f"student: {CD.param} parameterisation, MLP {CD.hidden} x {CD.depth}, {CD.train}")

# %% [markdown]
# ## 3.1 The consistency property
#
# A consistency function maps **every** point of one PF-ODE trajectory to the same place, its
# end at $t_1$:
# $$f_\phi(x_1, t_1) = f_\phi(x_2, t_2) = \dots = f_\phi(x_N, t_N) = x_0 .$$
# With the teacher's discrete solver, "one trajectory" means the chain
# $x_{n-1} = \mathrm{Solver}(x_n, t_n, t_{n-1})$ from $x_N = 80\,\varepsilon$. The oracle
# continues that chain down to $t_1$ from wherever it starts, so it gives *the same bits* at
# every point of the chain; a trained student should come close. The next cell trains the
# student of `CD` (cached: every later cell that needs it reuses it) and follows a few chains.

# %%
r = student_vs_optimum.run(CD)  # the student, its exact optimum, and their measurements
print(names.report(CD.data, CD.label, 1, r.measure))  # the summary's row, unless labelled
traj = trajectories.run(trajectories.Config(cd=CD))
fig = trajectories.plot(traj)
plt.show()

end = traj.states[0]  # (n_traj, d): where each teacher chain ends, at t_1
orc_dev = np.abs(traj.oracle - end).max()
stu_dev = np.linalg.norm(traj.student - end, axis=-1)  # (N, n_traj)
check("the oracle gives the chain's end at every point of the chain, bit for bit",
      orc_dev == 0.0, max_deviation=orc_dev)
say("Along {k} teacher chains the trained student sends the points a median **{med:.3f}** "
    "from the chain's end (**{top:.3f}** from $x_N$ at $t_N = 80$, where the jump is longest). "
    "Neighbouring data points are a median **{sp:.3f}** apart.",
    k=end.shape[0], med=np.median(stu_dev), top=np.median(stu_dev[-1]), sp=r.spacing)

# %% [markdown]
# ## 3.2 The CD loss
#
# Adjacent points of a trajectory are not available for free (that would be KD's data
# collection), so CD makes them: noise a data point, $x_n = x_0 + t_n \varepsilon$, and take
# **one** teacher step, $\hat x_{n-1} = \mathrm{Solver}(x_n, t_n, t_{n-1} \mid \theta)$:
# $$\mathcal L_{CD}(\phi) = \frac{1}{N-1} \sum_{n=2}^{N}\,\mathbb E_{p_{data}(x_0)}\,
# \mathbb E_{q_{t_n}(x_n \mid x_0)} \big\| f_{\phi^-}(\hat x_{n-1}, t_{n-1}) -
# f_\phi(x_n, t_n) \big\|_2^2 .$$
# The target network $\phi^-$ is an EMA of $\phi$ (decay $\mu$ = `CD.train.ema`; $\mu = 0$ is
# a stop-gradient copy) and gets no gradient. One Heun step costs 2 denoiser evaluations, so
# a run spends $2 \times \text{steps} \times \text{batch}$ teacher evaluations, and never a
# full solve.
#
# > **Errata.** The slide "3. Consistency Distillation. Loss function" normalises the sum
# > over $n = 2, \dots, N$ by $\frac{1}{N-2}$. The sum has $N - 1$ terms, so the average is
# > $\frac{1}{N-1}\sum_{n=2}^{N}$ (equivalently $n \sim \mathcal U\{2, \dots, N\}$, as drawn
# > by `cd_batch`). The factor does not move the optimum, only the loss's scale.
#
# Below: one batch from `cd_batch` (is $\hat x_{n-1}$ really one teacher step, and are all
# $N - 1$ levels drawn?), and the loss of the trained student with its EMA target on it.

# %%
x_n, s_n, x_hat, s_prev, b = cd_batch(den, data, grid, 4096, rng=11, solver=CD.solver)
step_err = np.abs(x_hat - teacher_step(den, x_n, s_n, s_prev, CD.solver)).max()
res = r.student
loss = cd_loss(res, lambda x, s, bb: res.model(x, s, bb, theta=res.target_theta), den,
               x_n, s_n, grid, CD.solver)
check("x_hat_{n-1} is exactly one teacher step from x_n", step_err == 0.0, max_diff=step_err)
check("the levels drawn are t_2 .. t_N: N - 1 of them", np.unique(s_n).size == grid.size - 1
      and s_n.min() == grid[1], distinct=np.unique(s_n).size, N_minus_1=grid.size - 1)
say("The trained student ({steps} steps x batch {batch}, **{evals:,}** teacher evaluations) has "
    "CD loss mean **{mean:.2e}**, median **{med:.2e}** on this fresh batch: small, not 0. How "
    "close is it to the exact minimiser? For that we need the minimiser.",
    steps=CD.train.steps, batch=CD.train.batch, evals=r.teacher_evals, mean=loss.mean(),
    med=np.median(loss))

# %% [markdown]
# ## 3.3 The optimum: "Hm, again a mixture? NO!"
#
# For a data set of $M$ points with weights $w_j$, $p_{data}(x_0) = \sum_j w_j\,
# \delta(x_0 - x_0^j)$, and for one level $n$ the $x_0$-integral collapses:
# $$J(f, n) = \int dx_n \; \sum_{j=1}^M w_j\,\mathcal N(x_n \mid x_0^j, t_n^2 I)\,
# \big\| f(\hat x_{n-1}, t_{n-1}) - f(x_n, t_n) \big\|^2 .$$
# Setting the derivative with respect to the value $f(x_n, t_n)$ to zero, pointwise in $x_n$,
# $$f(x_n, t_n) = \frac{\sum_j w_j\,\mathcal N(x_n \mid x_0^j, t_n^2)\,
# f(\hat x_{n-1}, t_{n-1})}{\sum_j w_j\,\mathcal N(x_n \mid x_0^j, t_n^2)} .$$
# It looks like the posterior-weighted **mixture** that made diffusion slow (notebook 01).
# But $\hat x_{n-1} = \mathrm{Solver}(x_n, t_n, t_{n-1})$ is a deterministic function of
# $x_n$: it does not depend on which $x_0^j$ produced $x_n$, so it leaves the sum:
# $$f(x_n, t_n) = f(\hat x_{n-1}, t_{n-1})\,\frac{\sum_j w_j\,\mathcal N(x_n \mid x_0^j,
# t_n^2)}{\sum_j w_j\,\mathcal N(x_n \mid x_0^j, t_n^2)} = f(\hat x_{n-1}, t_{n-1}) .$$
# Unrolled down to $t_1$, where $f(x, t_1) = x$ (section 3.4), the optimum is the teacher's
# solver **chained along the grid**:
# $f^*(x_n, t_n) = \mathrm{Solver}(\dots\mathrm{Solver}(x_n, t_n, t_{n-1}) \dots, t_2, t_1)$
# (`consistency_optimum`). It has CD loss exactly 0, for any solver.
#
# > **Errata.** The slide "3. What about optimal solution?" justifies the step above with
# > "$\hat x_{n-1}$ depends only on $x_0^k$". It should read: **$\hat x_{n-1}$ is a
# > deterministic function of $x_n$** (one solver step from $x_n$; no $x_0^j$ enters it).
# > That is why the weights sum out and the CD optimum is not a mixture. The one-sample
# > estimate below is the one that depends on $x_0^j$, and its optimum *is* a mixture.
#
# **The contrast: consistency training (CT).** Without a teacher, one can use the one-sample
# estimate $x_{n-1} = x_0 + t_{n-1}\varepsilon$ with the same $\varepsilon$, i.e.
# $x_{n-1}^{(j)} = x_0^j + \frac{t_{n-1}}{t_n}(x_n - x_0^j)$. That point **does** depend on
# $j$, the sum stays a sum, and the optimum at one level (given the exact $f^*$ below it) is
# the posterior mixture
# $$f_{CT}(x_n, t_n) = \sum_j \pi_j(x_n, t_n)\, f^*\big(x_{n-1}^{(j)}, t_{n-1}\big)$$
# (`consistency_training_target`). Its mean point $\sum_j \pi_j x_{n-1}^{(j)}$ is exactly the
# Euler step, so at $t_2$ (where $f^*(\cdot, t_1)$ is the identity) $f_{CT}$ *is* the Euler
# step; above $t_2$ it is a mixture of endpoints, not an endpoint.

# %%
levels = list(range(1, grid.size))  # every level above t_1
xs = heldout(CD.data, grid, levels, 100, seed=3)  # 100 noisy points x0 + t eps per level
x_all = np.concatenate(xs)
s_all = np.concatenate([np.full(len(x), grid[i]) for i, x in zip(levels, xs)])
worst = {}
for solver in ("euler", "heun"):
    orc = ConsistencyOracle(den, grid, solver)
    worst[solver] = cd_loss(orc, orc, den, x_all, s_all, grid, solver).max()
check("the oracle's CD loss is exactly 0 at every level, for Euler and Heun teachers",
      max(worst.values()) == 0.0, **worst)

x2 = xs[0]  # points at t_2
s2 = np.full(len(x2), grid[1])
ct_gap = np.abs(consistency_training_target(den, x2, s2, grid, CD.solver)
                - teacher_step(den, x2, s2, grid[0], "euler")).max()
check("at t_2 the CT optimum is the Euler step", ct_gap < 1e-12, max_diff=ct_gap)

# the held-out point (of all levels) where the CT mixture is farthest from the CD optimum
f_ct = consistency_training_target(den, x_all, s_all, grid, CD.solver)
f_cd = consistency_optimum(den, x_all, s_all, grid, CD.solver)
k = int(np.argmax(np.linalg.norm(f_ct - f_cd, axis=1)))
pi = den.posterior(x_all[k:k + 1], s_all[k:k + 1])[0]
near = lambda y: np.linalg.norm(data.points - y, axis=1).min()  # noqa: E731
say("Where they differ most (a point at $t = {t:.3g}$ whose posterior is spread over the data: "
    "largest weight **{p1:.2f}**), the CT optimum is a blend **{ct:.3f}** from "
    "the nearest data point, while the CD optimum, one endpoint, is **{cd:.1e}** from one. "
    "Over the held-out points of `student_vs_optimum.run`, the CT optimum is a median "
    "**{ct_med:.3f}** from $f^*$ at its worst level and the diffusion optimum $D(x, t)$, the "
    "average itself, **{avg:.3f}** at $t = 80$ (both drawn in 3.5).",
    t=s_all[k], p1=pi.max(), ct=near(f_ct[k]), cd=near(f_cd[k]),
    ct_med=np.nanmax(r.err_ct), avg=r.err_average[-1])

# %% [markdown]
# ## 3.4 The trivial solution and the boundary condition
#
# The loss only asks neighbouring levels to agree, so
# $$f(x_N, t_N) = \dots = f(x_1, t_1) = 0$$
# is a minimiser too: loss 0, no data anywhere ("where is $x_0$?"). The slide's fix is the
# **boundary condition** $f_\phi(x_1, t_1) = x_1$: at the smallest noise the output is the
# input. Built into the network by the parameterisation
# $f_\phi(x, t) = c_{skip}(t)\,x + c_{out}(t)\,F_\phi(x, t)$ with $c_{skip}(t_1) = 1$,
# $c_{out}(t_1) = 0$, it holds exactly, for any weights, and pins the consistency chain to
# the data at its lower end.
#
# The collapse experiment separates two things: the **boundary condition** (a plain output
# $f_\phi = F_\phi$ has none; the boundary parameterisation has it exactly) and an AdamW
# **weight decay** (a pull of every weight towards 0, which the CD loss does not resist once
# neighbouring levels agree). Four runs, the two factors crossed, same seed and batches. What
# collapse means here: on the 2-D clusters, a student tied to the data maps noisy inputs onto
# points spread like the data's points (RMS spread about their mean); a collapsed student maps
# them all near one point, so its outputs' spread falls well below the data's. The middle
# panel traces that ratio over training.

# %%
for name, f in (("f = 0", lambda x, s, bb: np.zeros_like(x)),
                ("f = (3, 3)", lambda x, s, bb: np.full_like(x, 3.0))):
    lz = cd_loss(f, f, den, x_all, s_all, grid, CD.solver, boundary_condition=False)
    check(f"the constant {name} has CD loss 0 without the boundary condition",
          lz.max() == 0.0, max_loss=lz.max())
s1 = np.full(len(x_all), grid[0])
fresh = make_student(data.d, "consistency", sigma_min=grid[0], rng=123)
check("f(x, t_1) = x bit for bit, for a random and for the trained student",
      np.array_equal(fresh(x_all, s1), x_all) and np.array_equal(res(x_all, s1), x_all))

COLLAPSE = collapse.Config()  # the figure's runs (cd_collapse): four runs, about 6 s
c = collapse.run(COLLAPSE)
fig = collapse.plot(c)
plt.show()
lim = COLLAPSE.collapsed_below
check(f"with decay, the plain student's outputs end below {lim:g} of the data's spread; "
      "the boundary student's do not",
      c.ratio("plain") < lim < c.ratio("bc"), plain=c.ratio("plain"), boundary=c.ratio("bc"))
check("without decay the boundary student keeps the data's spread too (within 15%)",
      abs(c.ratio("bc0") - 1) < 0.15, boundary_no_decay=c.ratio("bc0"))
drift = c.ratio("plain0")
say("After {steps} steps (data spread **{ds:.2f}**): with weight decay the plain run's outputs "
    "spread over **{p:.2f}** of the data's spread and lie a median **{po:.2f}** from the optimum "
    "$f^*$; the boundary run keeps **{b:.2f}** (**{bo:.3f}** from $f^*$). Without decay the "
    "boundary run keeps **{b0:.2f}** (**{b0o:.3f}** from $f^*$), and the plain run ends at "
    "**{p0:.2f}** of the data's spread, **{p0o:.2f}** from $f^*$. Collapsed (final spread "
    "below {lim:g} of the data's): {bad}.",
    steps=COLLAPSE.train.steps, ds=c.data_spread, p=c.ratio("plain"), po=c.err_optimum["plain"],
    b=c.ratio("bc"), bo=c.err_optimum["bc"], b0=c.ratio("bc0"), b0o=c.err_optimum["bc0"],
    p0=drift, p0o=c.err_optimum["plain0"], lim=lim,
    bad=", ".join(collapse.LABELS[k] for k in c.collapsed()) or "none")
if c.collapsed() == ("plain",):
    say("So what shrinks the outputs towards one point here is the **weight decay**: it pulls the "
        "plain network towards its trivial solution, and nothing in the loss pulls back. What the "
        "missing **boundary condition** does is leave the outputs untied to the data: without "
        "decay the plain run's spread {way} the data's by a factor **{fac:.1f}**, and its "
        "loss {loss}. With $f(x, t_1) = x$ both the decay and the no-decay run keep the "
        "data's spread.",
        way="exceeds" if drift > 1 else "falls short of", fac=max(drift, 1 / drift),
        loss=("ends x{:.1f} above its lowest (step {})".format(*c.loss_turn("plain0")[::-1])
              if c.loss_turn("plain0")[1] > 1.5 else "stays near its lowest"))

# %% [markdown]
# ## 3.5 A trained student against the exact optimum
#
# The student of `CD` is compared with $f^*$ on held-out points $x = x_0 + t\,\varepsilon$ at
# six levels (left), beside the diffusion optimum $D(x, t)$ (what a student regressing onto
# the average would learn) and the CT optimum (the mixture of 3.3). Right: its training loss.

# %%
fig = student_vs_optimum.plot(r)
plt.show()
hi = r.level_sigma > 1
check("above t = 1 the student is closer to f* than the average D(x, t) is",
      np.all(r.err_student[hi] < r.err_average[hi]),
      student_at_80=r.err_student[-1], average_at_80=r.err_average[-1])
say("One step from $t_N = 80$: the student's sample is a median **{s_err:.3f}** from the exact "
    "ODE state (same basin **{s_b:.0%}**), the oracle's **{o_err:.1e}** (**{o_b:.0%}**): the "
    "oracle's error is the teacher's discretisation on {N} levels, the rest is training error. "
    "The student's median distance to $f^*$ ranges over **{lo:.3f} to {hi_:.3f}** across levels.",
    s_err=r.measure.err_median, s_b=r.measure.same_basin, o_err=r.measure_oracle.err_median,
    o_b=r.measure_oracle.same_basin, N=CD.N, lo=r.err_student.min(), hi_=r.err_student.max())


# %% [markdown]
# ### Play: grid size, target network, boundary condition
#
# Each setting trains a new student (a few seconds; cached per setting), so the sliders are
# for exploring: `N` (levels of the grid: fewer levels, longer teacher steps), `ema` (the
# target network's decay $\mu$; 0 is a stop-gradient copy) and `boundary` ("off" trains the
# plain output, no boundary condition). The static picture is the default student above.

# %%
def cd_student(N=CD.N, ema=CD.train.ema, boundary="on"):
    cfg = replace(CD, N=N, eval_levels=eval_levels(N), train=CD.train.replace(ema=ema),
                  param=CD.param if boundary == "on" else "plain")
    run = student_vs_optimum.run(cfg)
    fig = student_vs_optimum.plot(run)
    fig.supxlabel(f"N = {N}, mu = {ema}, boundary {boundary}: one-step sample "
                  f"{run.measure.err_median:.3f} from the exact state (oracle "
                  f"{run.measure_oracle.err_median:.3g}), {run.teacher_evals:,} teacher "
                  "evaluations", fontsize=9)
    fig.tight_layout()
    return fig


explore(cd_student, N=(slice(6, 40, 2), CD.N), ema=((0.0, 0.5, 0.9, 0.99), CD.train.ema),
        boundary=(("on", "off"), "on"))

# %% [markdown]
# ## 3.6 Sampling: one step, or stochastic multistep
#
# $f_\phi$ is no longer a denoiser, so no ODE solver applies. One step is $x_0 =
# f_\phi(x_T, t_N)$ (NFE 1). Stochastic multistep sampling (Song et al. 2023, Algorithm 1)
# re-noises and maps again: for $\tau$ in a decreasing list,
# $x \leftarrow f_\phi\big(x + \sqrt{\tau^2 - t_1^2}\,z,\ \tau\big)$, $z \sim \mathcal N(0, I)$.
# Each re-noising starts a **new** trajectory at $\tau$: the sample can correct the student's
# error, but it is no longer the ODE map of $x_T$. Both the student and the oracle are
# sampled with the same noises and re-noising draws; left, the distance to the exact ODE state
# and to the nearest data point (quality); right, agreement with the ODE map.

# %%
ms = multistep.run(multistep.Config(cd=CD))
fig = multistep.plot(ms)
plt.show()
k4 = min(4, ms.steps[-1]) - 1  # index of the 4-step sampler
check("one step of the oracle is the ODE map; re-noising departs from it",
      ms.same_basin["oracle"][-1] < ms.same_basin["oracle"][0],
      one_step=ms.same_basin["oracle"][0], last=ms.same_basin["oracle"][-1])
c_renoise = paired_bootstrap(ms.dist_rows["student"][k4], ms.dist_rows["student"][0])
check("re-noising brings the student's samples closer to the data (paired 95% CI below 0)",
      c_renoise.verdict == "beats", one_step=ms.dist_to_data["student"][0],
      four_steps=ms.dist_to_data["student"][k4], ci_lo=c_renoise.lo, ci_hi=c_renoise.hi)
say("With NFE 1 the student's samples are **{d1:.3f}** from the nearest data point; with NFE "
    "{n4} **{d4:.3f}** (the slide's \"about 4-5 steps\"), but only **{b4:.0%}** of them are "
    "still in the basin of the exact ODE state (NFE 1: **{b1:.0%}**). More steps buy quality, "
    "not agreement with the teacher's map.",
    d1=ms.dist_to_data["student"][0], n4=ms.steps[k4], d4=ms.dist_to_data["student"][k4],
    b4=ms.same_basin["student"][k4], b1=ms.same_basin["student"][0])

# %% [markdown]
# ## 3.7 Theorem 1: the optimum inherits the solver's order, on the training grid
#
# Song et al. (2023), Theorem 1: if the CD loss is 0 and the teacher's solver has local error
# $O(h^{p+1})$, then $\sup |f_\phi(x, t_n) - f(x, t_n)| = O(h^p)$, $f$ the exact consistency
# function. The oracle *is* the loss-0 function, so we measure
# $|f^*(x_T, t_N) - x_{ODE}(\sigma_{\min})|$ for growing grids and fit $p$ (error against
# $N$; the grid spacing is $\propto 1/(N-1)$).

# %%
th = theorem1.run(theorem1.Config(data=CD.data))
fig = theorem1.plot(th)
plt.show()
check("an Euler teacher gives order about 1, a Heun teacher about 2",
      0.7 < th.order["euler"] < 1.4 and 1.5 < th.order["heun"] < 2.8,
      euler=th.order["euler"], heun=th.order["heun"])
say("The CD optimum's error falls as $h^{{{pe:.2f}}}$ with an Euler teacher and "
    "$h^{{{ph:.2f}}}$ with Heun. So CD *does* inherit a discretisation error: that of the "
    "teacher's solver on the **training grid** ($N - 1$ steps), not that of the few steps used "
    "at sampling (with Heun on {N0} levels the optimum is **{e0:.1e}** from the exact state). "
    "That is the precise sense of the summary slide's \"does not inherit discretisation "
    "errors\".", pe=th.order["euler"], ph=th.order["heun"], N0=int(th.N[0]),
    e0=th.err["heun"][0])

# %% [markdown]
# ## 3.8 Summary
#
# CD asks the teacher for one solver step per training sample and never for a full solve.
# Its exact optimum is the teacher's chain: an endpoint, not the average the diffusion loss
# (or the one-sample CT loss) would give, and only the boundary condition makes that the
# *unique* optimum. A trained student gets close to it; one step is still its weak point, and
# multistep sampling trades agreement with the ODE map for quality. Notebook 04 splits the
# interval into segments to make each jump shorter.
#
# ## Exercises
#
# 1. **Choose the re-noising level.** For 2-step sampling (NFE 2) the default $\tau$ is
#    `default_taus(grid, 2)`. Try every grid value as $\tau$ for the trained student: which
#    one gives samples closest to the data? What does it cost in agreement with the exact
#    ODE map (same basin), compared with one step? How good is the default?
# 2. **Same teacher budget: Euler or Heun?** A Heun step costs 2 teacher evaluations, an
#    Euler step 1, so the Heun optimum on $N$ levels and the Euler optimum on $2N - 1$ levels
#    spend the same $2(N - 1)$ evaluations along a chain. Compare their errors against the
#    exact ODE for $N$ = 10, 18, 34, 66: where does the second-order solver start to pay?

# %% [markdown]
# #### Solution 1 (hidden: click "cells hidden" below, or the arrow beside this heading, to open)

# %% tags=["solution"]
# Exercise 1: 2-step sampling with every grid value as the re-noising level tau
ref = common.reference(CD.data, CD.n_test, CD.test_seed)
taus = grid[1:-1]
quality, basin = [], []
for tau in taus:
    m = common.measure(multistep_sample(res, ref.x_T, grid, [tau], rng=0), ref)
    quality.append(m.dist_to_data_median)
    basin.append(m.same_basin)
best = int(np.argmin(quality))
tau0 = default_taus(grid, 2)[0]
i0 = int(np.argmin(np.abs(taus - tau0)))  # the default is a grid value
fig, ax = plt.subplots(figsize=(6.4, 3.6))
ax.semilogx(taus, quality, "o-", label="median distance to the nearest data point")
ax.semilogx(taus, basin, "s--", label="fraction in the exact state's basin")
ax.axvline(tau0, c="k", lw=0.8, ls=":", label="default tau")
ax.set(xlabel="re-noising level tau", title="2-step consistency sampling (NFE 2)")
ax.legend(fontsize=8)
plt.show()
check("the tau with the lowest median distance on these noises sharpens the one-step samples "
      "but leaves the ODE map's basin more often",
      quality[best] < r.measure.dist_to_data_median and basin[best] < r.measure.same_basin,
      tau=taus[best], distance=quality[best], basin=basin[best])
say("NFE 1: distance to the data **{d1:.3f}**, same basin **{b1:.0%}**. NFE 2 with the "
    "$\\tau$ of lowest median distance on these same noises (chosen on them, so optimistic) "
    "$\\tau$ = **{tb:.3g}**: **{db:.3f}** and **{bb:.0%}**. With the default $\\tau$ = "
    "**{t0:.3g}**: **{d0:.3f}** and **{b0:.0%}**. For scale, neighbouring data points are a "
    "median **{sp:.3f}** apart: re-noising by much more than that restarts the trajectory "
    "towards another point.", sp=r.spacing,
    d1=r.measure.dist_to_data_median, b1=r.measure.same_basin, tb=taus[best],
    db=quality[best], bb=basin[best], t0=tau0, d0=quality[i0], b0=basin[i0])

# %% [markdown]
# #### Solution 2 (hidden: click "cells hidden" below, or the arrow beside this heading, to open)

# %% tags=["solution"]
# Exercise 2: the CD optimum of Heun on N levels vs Euler on 2N - 1 levels (same evaluations)
ref100 = common.reference(CD.data, 100, CD.test_seed)


def optimum_error(N, solver):
    g = distill_grid(N)
    f = consistency_optimum(den, ref100.x_T, g[-1], g, solver)
    return np.linalg.norm(f - ref100.x_exact, axis=1)  # per noise


Ns = np.array([10, 18, 34, 66])
evals = 2 * (Ns - 1)  # teacher evaluations along one chain, either way
per_heun = [optimum_error(int(N), "heun") for N in Ns]
per_euler = [optimum_error(int(2 * N - 1), "euler") for N in Ns]
err_heun = np.array([np.median(e) for e in per_heun])
err_euler = np.array([np.median(e) for e in per_euler])
heun_vs_euler = [paired_bootstrap(h, e) for h, e in zip(per_heun, per_euler)]
fig, ax = plt.subplots(figsize=(6.4, 3.6))
ax.loglog(evals, err_heun, "o-", label="Heun on N levels")
ax.loglog(evals, err_euler, "s--", label="Euler on 2N - 1 levels")
ax.set(xlabel="teacher evaluations along the chain", ylabel="median |f* - exact ODE state|",
       title="CD optimum at equal teacher cost")
ax.legend()
plt.show()
check("Heun pays only on fine grids: it does not beat Euler on the coarsest, beats it on the "
      "finest (paired 95% CIs over the noises)",
      heun_vs_euler[0].verdict != "beats" and heun_vs_euler[-1].verdict == "beats",
      coarse=heun_vs_euler[0].verdict, fine=heun_vs_euler[-1].verdict,
      coarse_ratio=err_heun[0] / err_euler[0], fine_ratio=err_heun[-1] / err_euler[-1])
say("At **{e0}** evaluations the Heun optimum's error is **{r0:.2f}x** Euler's; at **{e1}** it "
    "is **{r1:.2f}x**. A second-order step only helps once the steps are small enough for its "
    "corrector to be accurate, the same lesson as notebook 02's few-step teachers.",
    e0=evals[0], r0=err_heun[0] / err_euler[0], e1=evals[-1], r1=err_heun[-1] / err_euler[-1])

# %% [markdown]
# #### End of the exercises
