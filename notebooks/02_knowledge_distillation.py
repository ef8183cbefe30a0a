# %% [markdown]
# # 2. Knowledge distillation
#
# *Lecture 4, "ODE-Based Diffusion Distillation", section 2, as executable notes.*
#
# Notebook 01 ended with the lecture's chain: the diffusion loss is minimised by an
# **average**, $\mathbb{E}[x_0 \mid x]$, so the PF-ODE trajectories bend and a solver needs
# many steps. Distillation reformulates the problem: train a network that maps the noise
# straight to the end of the trajectory,
# $$f_\phi(x, t) = x_0 .$$
# The slide "2. Distillation (diffusion -> few-step model)" lists ODE-based distillations
# (knowledge, consistency, progressive, ...) and ODE-free ones. This notebook is the simplest
# ODE-based one, **knowledge distillation (KD)** (slide "2. Knowledge distillation"):
#
# - collect data with the diffusion model, $\{(x_T^1, x_0^1), \dots, (x_T^N, x_0^N)\}$, where
#   $x_0^i = \hat x_0(x_T^i, \theta)$ is the teacher's **sample** from the noise $x_T^i$;
# - fit the network on these pairs, $f_\phi(x_T) \to x_0$, and sample in **one** step.
#
# **The setting.** The teacher is the *ideal* denoiser of a finite 2-D data set (exact
# $\mathbb{E}[x_0 \mid x]$), so its sampler, the exact PF-ODE state of every noise and the
# optimum of each loss are all known: the lecture's claims can be measured, not only argued.
# The data set is `"clusters"`: 20 points in four clusters of different sizes, asymmetric on
# purpose (try the symmetric `"ring"` of 8 points in the next cell; the pictures are 2-D).
#
# **Measurement convention.** An $n$-step sampler takes $n$ steps from $\sigma_{\max} = 80$
# to $\sigma_{\min} = 0.002$ (the $n + 1$ values of `sampling_grid(n)`); its sample is the
# state at $\sigma_{\min}$, compared with the exact PF-ODE state at $\sigma_{\min}$ of the
# same noise; its cost is its number of denoiser evaluations, **NFE**. There is no final step
# to $\sigma = 0$: for a finite data set that step *is* the nearest data point
# (`IdealDenoiser.nearest_point`) and would hide every blurred sample.
#
# **How to use this notebook.** Every experiment is one frozen Config; edit it (with
# `dataclasses.replace`) and re-run the cells below it: every printed number, every sentence
# and every figure is computed from what the cells just ran. `check(...)` lines state the
# lecture's claims and fail loudly if your change breaks one.

# %%
import os
from dataclasses import replace
from functools import cache

import matplotlib.pyplot as plt
import numpy as np

from ideal_diffusion.distill.kd import collect_pairs, noisy_pairs, train_kd
from ideal_diffusion.experiments import common, kd_data, names
from ideal_diffusion.experiments import kd as kd_exp
from ideal_diffusion.experiments.kd import teacher_sample
from ideal_diffusion.figures import notebook_style
from ideal_diffusion.figures.notebook import check, explore, say
from ideal_diffusion.metrics import paired_bootstrap
from ideal_diffusion.schedules import SIGMA_MAX, sampling_grid
from ideal_diffusion.solvers import nfe

FAST = os.environ.get("IDEAL_DIFFUSION_FAST") == "1"  # CI: smaller training, same cells

# %matplotlib inline
# %config InlineBackend.figure_format = 'png'
notebook_style()

# The experiment of this notebook. Edit any field: data ("clusters" or "ring": 2-D sets),
# the two teachers (solver_many/steps_many, solver_few/steps_few), n_pairs, the MLP, train.
# The default is the summary table's KD (one student per name); a changed Config labels its
# students with what differs (KD.label("many")).
KD = kd_exp.Config()
if FAST:
    KD = replace(KD, n_pairs=2048, n_test=200, train=KD.train.replace(steps=150))

data, den = common.dataset(KD.data), common.ideal_denoiser(KD.data)
ref = common.reference(KD.data, KD.n_test, KD.test_seed)  # held-out x_T and exact ODE states
print(f"FAST = {FAST}; data {KD.data!r}: {data.N} points in d = {data.d}; "
      f"{KD.n_test} held-out noises; student training: {KD.train}")

# %% [markdown]
# ## 2.1 The teacher, and what a sample costs
#
# Every KD pair costs one full solve of the teacher. Euler evaluates the denoiser once per
# step; Heun twice (a predictor and a corrector), so $n$ steps cost NFE $= n$ (Euler) or
# $2n$ (Heun, no final step to 0). Before distilling anything, here is how good the plain
# teacher is for a given budget: its median distance to the exact ODE state, and the fraction
# of samples whose nearest data point is the exact state's ("same basin").

# %%
STEPS = (1, 2, 3, 4, 6, 8, 12, 25, 50)  # edit: the step counts to try
teacher = {}  # (solver, steps) -> common.Measurement
for solver in ("euler", "heun"):
    for n in STEPS:
        teacher[solver, n] = common.measure(teacher_sample(KD.data, ref.x_T, solver, n), ref)

fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
for solver, c in (("euler", "C0"), ("heun", "C1")):
    cost = [nfe(solver, sampling_grid(n)) for n in STEPS]
    a1.loglog(cost, [teacher[solver, n].err_median for n in STEPS], "o-", c=c, label=solver)
    a2.semilogx(cost, [teacher[solver, n].same_basin for n in STEPS], "o-", c=c, label=solver)
a1.set(xlabel="NFE per sample", ylabel="median |sample - exact ODE state|",
       title="Teacher error at sigma_min")
a2.set(xlabel="NFE per sample", ylabel="fraction in the exact state's basin", ylim=(0, 1.05),
       title="Same data point as the exact ODE")
a1.legend()
plt.show()

few, many = teacher[KD.solver_few, KD.steps_few], teacher[KD.solver_many, KD.steps_many]
check("with the fewest steps, Heun is worse than Euler",
      teacher["heun", STEPS[0]].err_median > teacher["euler", STEPS[0]].err_median,
      heun=teacher["heun", STEPS[0]].err_median, euler=teacher["euler", STEPS[0]].err_median)
check("the many-step teacher is far closer to the exact ODE than the few-step one",
      many.err_median < 0.1 * few.err_median,
      many=many.err_median, few=few.err_median)
print(f"Heun with {STEPS[0]} step(s): median error {teacher['heun', STEPS[0]].err_median:.3g} "
      "(the corrector evaluates the exact denoiser at sigma_min far from any data point)")

# %% [markdown]
# Heun's corrector is not a free lunch here: with very few steps it evaluates the exact
# denoiser at a tiny $\sigma$ at a point far from the data, and the slope it uses there is
# enormous. That is a property of the *exact* delta-mixture denoiser (a smooth network
# would not blow up the same way).
#
# The convention matters: the few-step samples are **blurred**, stuck between data points
# at $\sigma_{\min}$. Snapping them onto the nearest data point (the $\sigma \to 0$ limit,
# `den.nearest_point`) would make them look perfect while leaving them in the wrong basin:

# %%
x_few = teacher_sample(KD.data, ref.x_T, KD.solver_few, KD.steps_few)
snapped = common.measure(den.nearest_point(x_few), ref)
say("The {name} teacher's samples are a median **{blur:.3f}** from the nearest data point at "
    "sigma_min; snapped to it they are **{snap:.1e}** away, yet still in the exact state's "
    "basin for only **{basin:.0%}** of the noises (the {name2} teacher: {basin_many:.0%}).",
    name=f"{KD.solver_few} {KD.steps_few}-step", blur=few.dist_to_data_median,
    snap=snapped.dist_to_data_median, basin=snapped.same_basin,
    name2=f"{KD.solver_many} {KD.steps_many}-step", basin_many=many.same_basin)

# %% [markdown]
# ## 2.2 The KD loss and why its optimum is the teacher map
#
# The KD loss (slide "2. Knowledge distillation") is
# $$L_{KD}(f_\phi) = \mathbb{E}_{\mathcal N(x \mid 0, \sigma^2)}\,
# \|\hat x_0(x, \theta) - f_\phi(x, t)\|_2^2, \qquad
# \hat x_0(x, \theta) = \text{a sample from the pretrained DM, by a solver}.$$
# It *looks* like the diffusion loss
# $$L_{diffusion}(f_\theta) = \mathbb{E}_{t \sim \mathcal U(0,1)}\,
# \mathbb{E}_{p_{data}(x_0)}\, \mathbb{E}_{q_t(x \mid x_0)}\, \|x_0 - f_\theta(x, t)\|_2^2,$$
# but the optimum is different (slide "2. Knowledge distillation. Optimal solution"). Write
# the KD loss as an integral and set its variation to zero:
# $$L_{KD}(f_\phi) = \int_{\mathbb R^n} \mathcal N(x \mid 0, \sigma^2)\,
# \|\hat x_0(x, \theta) - f_\phi(x, t)\|_2^2\, dx ,$$
# $$\int_{\mathbb R^n} \mathcal N(x \mid 0, \sigma^2)\, \nabla_{f_\phi}
# \|\hat x_0(x, \theta) - f_\phi(x, t)\|_2^2\, dx = 0
# \;\longrightarrow\; \nabla_{f_\phi} \|\hat x_0(x, \theta) - f_\phi(x, t)\|_2^2
# = -2\big(\hat x_0(x, \theta) - f_\phi(x, t)\big) = 0 .$$
# A free-form $f_\phi$ minimises the integrand at every $x$ separately (the weight
# $\mathcal N(x \mid 0, \sigma^2)$ is positive everywhere, so the input density does not move
# the optimum), hence
# $$\boxed{f_\phi(x, t) = \hat x_0(x, \theta)}\,:$$
# **the teacher's map itself**, because the target is a *deterministic function* of the
# input: one target per $x$. In the diffusion loss at fixed $t$ the same $x$ is reached from
# *every* data point, $\sum_j w_j \mathcal N(x \mid x_0^j, \sigma_t^2)\,
# \|x_0^j - f_\theta\|^2$, the targets compete, and the optimum is their posterior average
# $$f_\theta(x, t) = \frac{\sum_j w_j \mathcal N(x \mid x_0^j, \sigma_t^2)\, x_0^j}
# {\sum_j w_j \mathcal N(x \mid x_0^j, \sigma_t^2)} = \mathbb{E}[x_0 \mid x] = D(x, \sigma_t).$$
# At $\sigma = 80$ the posterior is almost the prior, so that average is about the data
# mean: a point between the clusters, in no data set.
#
# Both facts give exact decompositions: $L_{KD}(f) = \mathbb{E}_x \|f - \hat x_0\|^2$ (0 only
# at the teacher map) and, averaging over $x_0$ given $x$ exactly with the posterior weights
# $\pi_j(x)$, $L_{diffusion}(f) = L_{diffusion}(D) + \mathbb{E}_x \|f - D\|^2$. The cell
# evaluates both losses of a few candidate maps on the same pairs $(x_0, x_T)$ at
# $\sigma = 80$.

# %%
M = 20000  # pairs (x0, x_T = x0 + 80 eps); the teacher map of all of them takes a second
x_T2, _ = noisy_pairs(data, M, SIGMA_MAX, rng=7)
x_hat = teacher_sample(KD.data, x_T2, KD.solver_many, KD.steps_many)  # the KD target
D80 = den(x_T2, SIGMA_MAX)  # E[x0 | x_T], the diffusion-loss target
post = den.posterior(x_T2, SIGMA_MAX)  # (M, n): pi_j(x_T)
pts = data.points
candidates = {
    "teacher map x_hat": x_hat,
    "D(x_T, 80), the average": D80,
    f"{KD.solver_few} {KD.steps_few}-step teacher map": teacher_sample(
        KD.data, x_T2, KD.solver_few, KD.steps_few),
    "x_hat + N(0, 0.05^2)": x_hat + 0.05 * np.random.default_rng(8).standard_normal(x_hat.shape),
}
L_kd, L_diff, gap = {}, {}, {}
for name, f in candidates.items():
    L_kd[name] = np.mean(np.sum((f - x_hat) ** 2, axis=1))
    L_diff[name] = np.mean(np.einsum("mj,mj->m", post, ((f[:, None] - pts[None]) ** 2).sum(-1)))
    gap[name] = np.mean(np.sum((f - D80) ** 2, axis=1))
    print(f"{name:>30}:  L_KD = {L_kd[name]:.4f}   L_diffusion = {L_diff[name]:.4f}")

base = L_diff["D(x_T, 80), the average"]
check("L_KD is minimised (to 0) by the teacher map",
      min(L_kd, key=L_kd.get) == "teacher map x_hat" and L_kd["teacher map x_hat"] == 0)
check("L_diffusion is minimised by the average D(x_T, 80)",
      min(L_diff, key=L_diff.get) == "D(x_T, 80), the average")
check("L_diffusion(f) = L_diffusion(D) + E|f - D|^2 for every candidate",
      max(abs(L_diff[k] - base - gap[k]) for k in candidates) < 1e-10,
      worst=max(abs(L_diff[k] - base - gap[k]) for k in candidates))

say("Fed the same inputs, the two losses want different functions: the teacher map costs "
    "**{ratio:.2f}x** the optimal diffusion loss, and the average costs **{kd_avg:.3f}** in "
    "L_KD. At sigma = 80 the posterior weights lie between {pmin:.4f} and {pmax:.4f} "
    "(prior: {wmin:.4f} to {wmax:.4f}): the diffusion target cannot tell which point made "
    "x_T, the KD target is a function of x_T.",
    ratio=L_diff["teacher map x_hat"] / base, kd_avg=L_kd["D(x_T, 80), the average"],
    pmin=post.min(), pmax=post.max(), wmin=data.weights.min(), wmax=data.weights.max())

# %% [markdown]
# ## 2.3 A trained student: predict $x_0$, not an averaged sample
#
# Now with networks. `kd_exp.run(KD)` trains three one-step students on the **same** inputs
# $x_T = x_0 + 80\varepsilon$, with the same MLP, optimiser and seed; only the target
# differs:
#
# * **KD of the many-step teacher**: $x_T \mapsto$ that teacher's state at $\sigma_{\min}$;
# * **KD of the few-step teacher**: the same, with the cheap teacher (section 2.4)
# * **x0-regression**: $x_T \mapsto$ the $x_0$ that generated it, i.e. the diffusion loss at
#   the single level $\sigma = 80$, no teacher.
#
# The figure is the slide's picture ("predict $x_0$, not an averaged sample"): left, the
# diffusion-loss student and the ideal average $D(x_T, 80)$ (hollow); middle, the KD student
# on the same noises, coloured by the data point of the exact ODE state; right, the distance
# of both to the data.

# %%
r = kd_exp.run(KD)  # cached per Config: the same Config returns the same students
for k in ("many", "few"):  # the students by name: the summary's rows, unless the label says
    print(names.report(KD.data, KD.label(k), 1, r.measure[k]))
fig = kd_exp.plot(r)
plt.show()

kd, x0 = r.measure["many"], r.measure["x0"]
check("the KD student is sharper than the diffusion-loss student",
      kd.dist_to_data_median < 0.5 * x0.dist_to_data_median,
      kd=kd.dist_to_data_median, x0=x0.dist_to_data_median)
check("the diffusion-loss student sits nearer the average than the data",
      r.err_to_optimum["x0"] < 0.5 * x0.dist_to_data_median,
      to_average=r.err_to_optimum["x0"], to_data=x0.dist_to_data_median)
say("The **KD student** lands a median **{kd_data:.3f}** from a data point, in the exact "
    "state's basin for **{kd_basin:.0%}** of the noises, a median **{kd_fit:.3f}** from its "
    "optimum (its teacher's map, itself only {opt:.1e} from the exact state). The "
    "**x0-regression student**, same network and inputs, learns the average: **{x0_avg:.3f}** "
    "from $D(x_T, 80)$ and **{x0_data:.3f}** from the nearest data point. Collecting the KD "
    "pairs cost **{evals:,}** teacher evaluations ({n:,} pairs x NFE {per}).",
    kd_data=kd.dist_to_data_median, kd_basin=kd.same_basin, kd_fit=r.err_to_optimum["many"],
    opt=r.measure_teacher["many"].err_median, x0_avg=r.err_to_optimum["x0"],
    x0_data=x0.dist_to_data_median, evals=r.teacher_evals["many"], n=KD.n_pairs,
    per=r.nfe_teacher["many"])

# %% [markdown]
# Two errors hide in the KD student's distance to the exact ODE state: the **method error**
# (its optimum, the teacher's map, against the exact state) and the **training error** (the
# student against its optimum). With a 50-step Heun teacher the first is negligible, so what
# you see is a finite network trained for a finite number of steps (exercise 2 trains it
# longer).
#
# ## 2.4 KD inherits the teacher's discretisation error
#
# KD's optimum is the teacher's map $\hat x_0(x, \theta)$, *errors included*. The lecture's
# summary (slide "Summary"): KD **"requires a lot of synthetic samples and inherits
# discretization errors"**. The second student of `kd_exp.run` was distilled from the few-step
# teacher. The figure shows the few-step teacher, its student and the student of the
# many-step teacher, coloured by their distance to the exact state, and the errors of all
# four maps.

# %%
fig = kd_exp.plot_inherits_error(r)
plt.show()

t_few, s_few = r.measure_teacher["few"], r.measure["few"]
check("the cheap teacher's student follows its teacher, not the exact ODE",
      r.err_to_optimum["few"] < 0.5 * s_few.err_median,
      to_teacher=r.err_to_optimum["few"], to_exact=s_few.err_median)
teach_cmp = paired_bootstrap(r.measure["many"].errors, s_few.errors)  # many minus few
check("the many-step teacher's student beats the few-step teacher's (paired 95% CI below 0)",
      teach_cmp.verdict == "beats", many=r.measure["many"].err_median, few=s_few.err_median,
      ci_lo=teach_cmp.lo, ci_hi=teach_cmp.hi)
say("The {name} teacher (NFE {nfe}) is a median **{t_err:.3f}** from the exact state; its "
    "one-step student is **{s_err:.3f}** from it but only **{follow:.3f}** from its teacher: it "
    "learned the teacher's map, errors included. The student of the {name2} teacher is "
    "**{s_many:.3f}** from the exact state.",
    name=f"{KD.solver_few} {KD.steps_few}-step", nfe=r.nfe_teacher["few"],
    t_err=t_few.err_median, s_err=s_few.err_median, follow=r.err_to_optimum["few"],
    name2=f"{KD.solver_many} {KD.steps_many}-step", s_many=r.measure["many"].err_median)


# %% [markdown]
# ## 2.5 Play: which teacher do you distil?
#
# Pick the teacher's solver and number of steps; the cell collects $n_{pairs}$ pairs with it
# (the same inputs $x_T$ as `kd_exp.run`) and trains one KD student with `KD.train`. Left: the
# teacher's samples (hollow) and the student's outputs; right: the teacher's error, the
# student's error, and the distance between them. With widgets the sliders retrain (a few
# seconds per move); without them (or when built) the cell draws the defaults.

# %%
@cache
def distil(solver: str, steps: int, train=KD.train, n_pairs=KD.n_pairs):
    """KD student of the `steps`-step `solver` teacher (the inputs and network of KD)."""
    x_T, _ = noisy_pairs(data, n_pairs, SIGMA_MAX, KD.pair_seed)
    pairs = collect_pairs(den, x_T, sampling_grid(steps), solver)
    student = train_kd(pairs, train, hidden=KD.hidden, depth=KD.depth, sigma_data=KD.sigma_data)
    teach = teacher_sample(KD.data, ref.x_T, solver, steps)
    out = student(ref.x_T)
    follow = float(np.median(np.linalg.norm(out - teach, axis=1)))
    return teach, out, common.measure(teach, ref), common.measure(out, ref), follow, pairs


def inheritance(solver="heun", steps=4):
    teach, out, m_t, m_s, follow, pairs = distil(solver, steps)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    a1.scatter(*data.points.T, marker="*", s=80, c="k", zorder=3, label="data")
    a1.scatter(*teach.T, s=14, facecolors="none", edgecolors="C1", lw=0.6, label="teacher")
    a1.scatter(*out.T, s=6, c="C0", alpha=0.6, label="KD student")
    lo, hi = data.points.min(0) - 0.6, data.points.max(0) + 0.6
    a1.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), aspect="equal",
           title=f"{solver} {steps} steps (NFE {pairs.nfe_per_sample}), "
                 f"{pairs.teacher_evals:,} teacher evaluations")
    a1.legend(fontsize=8, loc="lower left")
    vals = [m_t.err_median, m_s.err_median, follow]
    a2.bar(["teacher\nvs exact", "student\nvs exact", "student\nvs teacher"], vals,
           color=["C1", "C0", "0.5"])
    for i, v in enumerate(vals):
        a2.text(i, v, f"{v:.3g}", ha="center", va="bottom")
    a2.set(ylabel="median distance at sigma_min", title="The student inherits its teacher's error")
    fig.supxlabel(f"{solver} {steps}: teacher error {m_t.err_median:.3f} (basin "
                  f"{m_t.same_basin:.0%}), student error {m_s.err_median:.3f} (basin "
                  f"{m_s.same_basin:.0%}), student-teacher {follow:.3f}", fontsize=9)
    fig.tight_layout()
    return fig


explore(inheritance, solver=(("euler", "heun"), "heun"), steps=(slice(3, 12, 1), 4))

# %% [markdown]
# ## 2.5b How many pairs? KD's data hunger, measured
#
# The lecture's summary says KD **"requires a lot of synthetic samples"**. How many does it
# need here? A learning curve: the 50-step student of 2.3, trained with the same optimiser and
# the same number of steps on the first $n$ of the pairs, for $n$ from a few hundred to
# thousands, at two network sizes. Every pair costs a full teacher solve, so the x-axis is
# also the cost of the data. Comparisons are paired per held-out noise, with a 95% bootstrap
# CI: "beats" only when the CI of the difference excludes 0.

# %%
KD_DATA = kd_data.Config(data=KD.data, solver=KD.solver_many, steps=KD.steps_many,
                         train=KD.train)  # try: nets=((8, 2), (128, 3))
if FAST:
    KD_DATA = replace(KD_DATA, n_pairs=(256, 1024, 2048), n_test=200)
data_res = kd_data.run(KD_DATA)
kd_data.plot(data_res)
plt.show()

big, small = len(KD_DATA.nets) - 1, 0
check(f"more pairs never hurt: {KD_DATA.n_pairs[-1]:,} pairs do not lose to "
      f"{KD_DATA.n_pairs[0]:,} for any net (paired 95% CI)",
      all(c.verdict != "loses to" for c in data_res.more_data),
      verdicts=[c.verdict for c in data_res.more_data])
check("the students' error is training error, not the teacher's",
      data_res.teacher_err < 0.1 * data_res.err.min(), teacher=data_res.teacher_err,
      best_student=data_res.err.min())
say(data_res.explain())

# %% [markdown]
# ## 2.6 Summary
#
# KD turns the teacher's $n$-step map into a one-step network, and its loss is honest about
# what it learns: the optimum is the map $\hat x_0(x, \theta)$ itself, not the average
# $\mathbb{E}[x_0 \mid x]$ of the diffusion loss, so the one-step student is sharp (2.2-2.3).
# The price is the lecture's summary: it **needs synthetic samples, each a full teacher
# solve**, and **inherits the discretisation error** of the solver that made them (2.4). How
# *many* it needs depends on the network and the data: section 2.5b measures it, and the cell
# below reads the answer off that run. Consistency distillation (notebook 03) asks the teacher
# for *one* solver step per training example, never a full solve.

# %%
say("This run: the good teacher's data set cost **{many:,}** teacher evaluations for a "
    "student **{err_many:.3f}** from the exact state; the cheap teacher's cost **{few:,}** for "
    "a student **{err_few:.3f}** from it.",
    many=r.teacher_evals["many"], err_many=r.measure["many"].err_median,
    few=r.teacher_evals["few"], err_few=r.measure["few"].err_median)
fewest = []
for k in range(len(KD_DATA.nets)):
    enough = None  # the fewest pairs from which no larger count loses to the largest
    for n, c in reversed(list(zip(KD_DATA.n_pairs[:-1], data_res.vs_most[k][:-1]))):
        if c.verdict == "loses to":
            break
        enough = n
    fewest.append(f"the {data_res.net_label(k)} "
                  + (f"does not lose to its {KD_DATA.n_pairs[-1]:,}-pair self from {enough:,} "
                     f"pairs on" if enough else
                     f"still improves up to {KD_DATA.n_pairs[-1]:,} pairs"))
say("How many pairs (2.5b, paired 95% CIs): " + "; ".join(fewest) + ".")

# %% [markdown]
# ## Exercises
#
# 1. **Same budget, which solver?** Euler with 6 steps and Heun with 3 steps both cost NFE 6
#    per pair. Which teacher is closer to the exact ODE, and does the ranking survive
#    distillation? (Measure both teachers and both students against the exact state.)
# 2. **Method error or training error?** The KD student of the 50-step Heun teacher is
#    further from the exact state than its teacher (2.3). Train it three times longer
#    (`KD.train.replace(steps=...)`): how much of its error goes away, and what does that
#    say about where the error came from?
# 3. **How many pairs?** Each pair costs a full teacher solve. Train the 50-step student on
#    1/16 of the pairs: how many teacher evaluations do you save, and how much error do you
#    pay?

# %% [markdown]
# #### Solution 1 (hidden: click "cells hidden" below, or the arrow beside this heading, to open)

# %% tags=["solution"]
# Exercise 1: Euler 6 vs Heun 3 at NFE 6 per pair
e6, h3 = distil("euler", 6), distil("heun", 3)
t_cmp = paired_bootstrap(e6[2].errors, h3[2].errors)  # Euler minus Heun, per noise
s_cmp = paired_bootstrap(e6[3].errors, h3[3].errors)
check("at NFE 6 the Euler teacher beats the Heun teacher, and so does its student (paired 95% "
      "CIs below 0)", t_cmp.verdict == "beats" and s_cmp.verdict == "beats",
      teacher_ci=(round(t_cmp.lo, 4), round(t_cmp.hi, 4)),
      student_ci=(round(s_cmp.lo, 4), round(s_cmp.hi, 4)))
for (solver, steps), (_, _, m_t, m_s, _, pairs) in ((("euler", 6), e6), (("heun", 3), h3)):
    print(f"{solver} {steps} (NFE {pairs.nfe_per_sample}): teacher {m_t.err_median:.3f}, "
          f"student {m_s.err_median:.3f} from the exact state")

# %% [markdown]
# With the exact delta-mixture denoiser, Heun's corrector with 3 big steps overshoots (2.1):
# "second order" pays off only once the steps are small. Each student stays close to its own
# teacher's error and keeps the teachers' ranking (the paired CIs above).

# %% [markdown]
# #### Solution 2 (hidden: click "cells hidden" below, or the arrow beside this heading, to open)

# %% tags=["solution"]
# Exercise 2: the KD student of the many-step teacher, trained three times longer
longer = KD.train.replace(steps=3 * KD.train.steps)
teach_long, out_long, _, m_long, follow_long, _ = distil(KD.solver_many, KD.steps_many,
                                                         longer)
c_long = paired_bootstrap(np.linalg.norm(out_long - teach_long, axis=1),  # same noises (ref)
                          np.linalg.norm(r.outputs["many"] - r.teacher_many, axis=1))
check("training longer brings the KD student closer to its optimum (paired 95% CI below 0)",
      c_long.verdict == "beats", before=r.err_to_optimum["many"], after=follow_long,
      ci_lo=c_long.lo, ci_hi=c_long.hi)
print(f"{KD.train.steps:>5} steps: student - teacher map {r.err_to_optimum['many']:.3f}, "
      f"student - exact {kd.err_median:.3f}, basin {kd.same_basin:.0%}")
print(f"{longer.steps:>5} steps: student - teacher map {follow_long:.3f}, "
      f"student - exact {m_long.err_median:.3f}, basin {m_long.same_basin:.0%}")

# %% [markdown]
# The many-step teacher map is within a hair of the exact state (its error is printed in
# 2.3), so the student's distance to the exact state is almost all training error, and more
# training removes part of it. With a poor teacher it would shrink towards the *teacher's*
# error, not towards 0. (`distil` trains one student; `kd_exp.run` with a
# changed `train` would retrain all three.)

# %% [markdown]
# #### Solution 3 (hidden: click "cells hidden" below, or the arrow beside this heading, to open)

# %% tags=["solution"]
# Exercise 3: 1/16 of the pairs for the many-step teacher
_, _, _, m3, _, p3 = distil(KD.solver_many, KD.steps_many, KD.train, KD.n_pairs // 16)
print(f"{KD.n_pairs:,} pairs: {r.teacher_evals['many']:,} teacher evaluations, student error "
      f"{kd.err_median:.3f}, basin {kd.same_basin:.0%}")
print(f"{len(p3):,} pairs: {p3.teacher_evals:,} teacher evaluations, student error "
      f"{m3.err_median:.3f}, basin {m3.same_basin:.0%}")
cmp3 = paired_bootstrap(m3.errors, kd.errors)  # few pairs minus all pairs, per noise
check(f"1/16 of the pairs does not beat all of them (paired 95% CI: {cmp3.verdict})",
      cmp3.verdict != "beats", diff=cmp3.diff, ci_lo=cmp3.lo, ci_hi=cmp3.hi)
say("Saving **{saved:,}** teacher evaluations changed the student's error from {before:.3f} "
    "to {after:.3f}: the {n3:,}-pair student **{verdict}** the {n:,}-pair one (paired "
    "difference {d:+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}], closer on {w:.0%} of the noises). "
    "{moral}", saved=r.teacher_evals["many"] - p3.teacher_evals, before=kd.err_median,
    after=m3.err_median, n3=len(p3), n=KD.n_pairs, verdict=cmp3.verdict, d=cmp3.diff,
    lo=cmp3.lo, hi=cmp3.hi, w=cmp3.win_rate,
    moral="For this network and training budget the pairs beyond that were not needed "
          "(2.5b draws the whole curve)." if cmp3.verdict == "ties with" else
          "The extra pairs pay (2.5b draws the whole curve).")

# %% [markdown]
# #### End of the exercises
