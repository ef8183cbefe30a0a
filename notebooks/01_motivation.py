
# %% [markdown]
# # 1. Motivation: why are diffusion models slow?
#
# *Lecture 4, "ODE-Based Diffusion Distillation", section 1 — as executable notes.*
#
# The lecture asks where the slowness of diffusion sampling comes from, and lists two suspects:
#
# 1. a neural network of **low capacity**, which approximates $\mathbb{E}[x_0 \mid x]$ badly;
# 2. a **solver** with too large a discretisation error.
#
# This notebook removes suspect 1 entirely: the data set is a finite set of points (a *delta
# mixture*), for which the optimum of the diffusion loss, $\mathbb{E}[x_0 \mid x]$, is known in
# closed form (`IdealDenoiser`). Sampling with this **perfect** model is still slow, and each
# section measures one link of the lecture's chain
#
# $$\text{averaged optimum} \;\Rightarrow\; \text{curved trajectories} \;\Rightarrow\;
# \text{discretisation error}.$$
#
# Conventions (as everywhere in `ideal_diffusion`): VE noising $x = x_0 + \sigma\varepsilon$,
# $\varepsilon \sim \mathcal N(0, I)$; sampling runs from $\sigma_{\max} = 80$ down to
# $\sigma_{\min} = 0.002$ on the EDM (Karras, $\rho = 7$) grid; "$n$ steps" means $n$ solver
# steps on that grid. Every random draw is seeded, so every number below is reproducible.
# The numbers quoted in the text are those of the default run; `FAST=1` (for CI) uses fewer
# samples, so its printed numbers differ a little, but the `assert`s that check each claim
# hold in both.

# %%
import os

import numpy as np
from scipy.special import softmax

import ideal_diffusion.figures.core  # noqa: F401  (registers the slide figures of rows 1, 6-10)
from ideal_diffusion import (
    GaussianMixture,
    IdealDenoiser,
    glyphs,
    karras_sigmas,
    nfe,
    ring,
    sample,
    two_points,
)
from ideal_diffusion.figures import notebook_style, show
from ideal_diffusion.geometry import (
    convergence,
    exact_endpoints,
    nearest_point,
    posterior_entropy,
    sample_quality,
    trajectory_geometry,
)

FAST = os.environ.get("IDEAL_DIFFUSION_FAST") == "1"  # CI: fewer samples, no slide figures

# %matplotlib inline
# %config InlineBackend.figure_format = 'png'
notebook_style()  # the slide style of figures/, at 80 dpi inline (keeps the notebook < 1 MiB)

SIGMA_MIN, SIGMA_MAX = 0.002, 80.0


def grid(n):
    """n solver steps from 80 down to 0.002 on the Karras grid (descending, no trailing 0)."""
    return karras_sigmas(n + 1, SIGMA_MIN, SIGMA_MAX, append_zero=False)



print(f"FAST = {FAST}")

# %% [markdown]
# ## 1.1 Diffusion models are slow: 30, 7, 5, 3 steps
#
# The lecture opens with the same prompt sampled with 30, 7, 5 and 3 steps: the fewer the
# steps, the blurrier the picture. Here the "model" is the exact $\mathbb{E}[x_0 \mid x]$ of
# 8 points on a ring, and of the ten digits as 16×16 images. We integrate the **same** noises
# $x_T = 80\,\varepsilon$ with $n$ Euler steps and compare each sample with the exact ODE
# endpoint of the same noise (DOP853 at tolerance $10^{-10}$, then the exact
# $\sigma \to 0$ limit): a good sample sits **on** a data point, and on the *same* one.
#
# Reading the figure below (`figures/steps_comparison.png`): the data points are the hollow
# circles and the samples are drawn over them, so at 30 steps every blue dot sits inside a
# circle; at 3 steps they fill the disc between the points. The digit rows are the same 12
# noises, framed red where the sample is another digit than the exact ODE's (the title's
# note on blur is about 2 steps, a step count not drawn).

# %%
ring8 = ring(8)
den = IdealDenoiser(ring8)
B1 = 200 if FAST else 600  # 600 noises, seed 1: the samples of the figure below
x_T = SIGMA_MAX * np.random.default_rng(1).standard_normal((B1, 2))
exact = exact_endpoints(ring8, x_T, SIGMA_MAX)

digits = glyphs("0123456789", 16)
gden = IdealDenoiser(digits)
g_T = SIGMA_MAX * np.random.default_rng(2).standard_normal((12, 256))
g_exact = exact_endpoints(digits, g_T, SIGMA_MAX)

STEPS1 = (30, 7, 5, 3)
q1 = {}
print(f"ring of 8 points, {B1} noises | ten 16x16 digits, 12 noises")
print(f"{'steps':>5} {'NFE':>4} | {'median dist':>11} {'same point':>10} | "
      f"{'median dist':>11} {'other digit':>11}")
for n in STEPS1:
    q = sample_quality(ring8, sample(den, x_T, grid(n), "euler"), exact)
    gq = sample_quality(digits, sample(gden, g_T, grid(n), "euler"), g_exact)
    q1[n] = (q, gq)
    print(f"{n:5d} {nfe('euler', grid(n)):4d} | {q.median_dist_to_data:11.4f} "
          f"{q.frac_same_basin:10.1%} | {gq.median_dist_to_data:11.4f} "
          f"{int(np.sum(~gq.same_basin)):8d}/12")

d1 = [q1[n][0].median_dist_to_data for n in STEPS1]
assert d1[-1] > 10 * d1[0], "3-step samples should be much further from the data than 30-step"
show("steps_comparison")

# %% [markdown]
# **Conclusion.** With the *perfect* denoiser, the median distance of a ring sample to the
# nearest data point grows from 0.0028 at 30 steps to 0.32 at 3 steps (the 3-step samples
# stop between the points), and 4 of the 12 three-step digit samples are another digit than
# the exact ODE's: capacity is not what makes few-step sampling fail.

# %% [markdown]
# ## 1.2 The PF-ODE, VE case, and the score
#
# The reverse probability-flow ODE is
# $$dx = \Big(f(x, t) - \tfrac12 g(t)^2 \nabla_x \log p_t(x)\Big)\,dt, \qquad t \in [0, 1].$$
# In the variance-exploding case $f(x, t) = 0$ and $g(t) = \sqrt{d\sigma_t^2/dt}$, so
# $\tfrac12 g^2\,dt = \tfrac12\, d\sigma_t^2 = \sigma_t\, d\sigma_t$ and
# $$dx = -\sigma_t \nabla_x \log p_t(x)\, d\sigma_t, \qquad
# \nabla_x \log p_t(x) = -\frac{1}{\sigma_t^2}\big(x - \mathbb{E}[x_0 \mid x]\big)$$
# (Tweedie's formula). Together: $\dfrac{dx}{d\sigma} = \dfrac{x - D(x, \sigma)}{\sigma}$ with
# $D(x, \sigma) = \mathbb{E}[x_0 \mid x]$: the ODE needs nothing but the denoiser.
#
# Check: `IdealDenoiser.score` is computed as $(D - x)/\sigma^2$; we compare it with central
# finite differences of $\log p_\sigma(x)$ (`log_density`, a log-sum-exp that never forms $D$),
# and the PF-ODE field `velocity` with $-\sigma \cdot$ score.

# %%
x = 1.5 * np.random.default_rng(3).standard_normal((256, 2))
print(f"{'sigma':>6} {'max rel. err. score vs FD grad log p':>36} "
      f"{'max |velocity + sigma*score|':>29}")
fd_err = {}
for s in (0.05, 0.2, 1.0, 5.0, 80.0):
    h = 1e-4 * s
    grad = np.stack([(den.log_density(x + h * e, s) - den.log_density(x - h * e, s)) / (2 * h)
                     for e in np.eye(2)], axis=1)
    score = den.score(x, s)
    fd_err[s] = np.max(np.linalg.norm(score - grad, axis=1) / np.linalg.norm(score, axis=1))
    vel_err = np.max(np.abs(den.velocity(x, s) + s * score))
    print(f"{s:6g} {fd_err[s]:36.1e} {vel_err:29.1e}")
assert max(fd_err.values()) < 1e-6

# %% [markdown]
# **Conclusion.** The score $(D - x)/\sigma^2$ matches the finite-difference gradient of
# $\log p_\sigma$ to a relative error of at most $6\times10^{-8}$ (the finite-difference
# error) at every $\sigma$ from 0.05 to 80, and the field is $-\sigma\cdot$score to
# $10^{-14}$.

# %% [markdown]
# ## 1.3 The diffusion loss and its optimum for a delta mixture
#
# The diffusion loss is
# $$L(f_\theta) = \mathbb{E}_{t \sim \mathcal U(0,1)}\, \mathbb{E}_{p_{data}(x_0)}\,
# \mathbb{E}_{q_t(x \mid x_0)} \|x_0 - f_\theta(x, t)\|_2^2 \to \min_\theta,
# \qquad q_t(x \mid x_0) = \mathcal N(x \mid x_0, \sigma_t^2 I).$$
# *What if the network is perfect* — what is the optimum? Take our data set as a delta
# mixture, $p_{data}(x_0) = \frac1N \sum_{j=1}^N \delta(x_0 - x_0^j)$, and expand the
# expectations (the lecture's steps):
# $$\begin{aligned}
# L(f_\theta) &= \int_0^1 dt\, \mathcal U(t \mid 0, 1) \int_{\mathbb R^n} dx_0\,
#   \frac1N \sum_{j=1}^N \delta(x_0 - x_0^j)
#   \int_{\mathbb R^n} dx\, \mathcal N(x \mid x_0, \sigma_t^2)\, \|x_0 - f_\theta(x, t)\|_2^2 \\
# &= \int_0^1 dt\, \mathcal U(t \mid 0, 1)\, \frac1N \sum_{j=1}^N \int_{\mathbb R^n} dx\,
#   \mathcal N(x \mid x_0^j, \sigma_t^2)\, \|x_0^j - f_\theta(x, t)\|_2^2
#   \qquad \Big(\textstyle\int dx\, \delta(x - y)\, g(x) = g(y)\Big) \\
# &= \int_0^1 dt \int_{\mathbb R^n} \underbrace{\frac1N \sum_{j=1}^N
#   \mathcal N(x \mid x_0^j, \sigma_t^2)\, \|x_0^j - f_\theta(x, t)\|_2^2}_{J(f_\theta, x, t)}
#   \, dx .
# \end{aligned}$$
# A free-form $f_\theta$ minimises $L$ by minimising $J(f_\theta, x, t)$ independently for
# each $x, t$:
# $$\nabla_{f_\theta} J = \frac1N \sum_{j=1}^N \mathcal N(x \mid x_0^j, \sigma_t^2)\,
# \nabla_{f_\theta} \|x_0^j - f_\theta\|_2^2
# = -\frac2N \sum_{j=1}^N \mathcal N(x \mid x_0^j, \sigma_t^2)\,(x_0^j - f_\theta) = 0
# \quad\Longrightarrow\quad
# f^*(x, t) = \frac{\sum_{j} \mathcal N(x \mid x_0^j, \sigma_t^2)\, x_0^j}
#                  {\sum_{j} \mathcal N(x \mid x_0^j, \sigma_t^2)} .$$
# The Gaussians share their normaliser, so
# $f^*(x, t) = \sum_j \pi_j x_0^j$ with
# $\pi = \operatorname{softmax}_j\!\big(-\|x - x_0^j\|^2 / 2\sigma_t^2\big)$: the posterior
# $p(x_0 = x_0^j \mid x)$. **The optimum is $\mathbb{E}[x_0 \mid x]$, an average of data points**
# — `IdealDenoiser`.
#
# By how much does any other $f$ lose? Since $\sum_j \pi_j (x_0^j - D) = 0$ for $D = f^*$,
# the cross term vanishes and, for every $x$,
# $$\mathbb{E}_\pi \|x_0 - f\|^2 = \mathbb{E}_\pi \|x_0 - D\|^2 + \|f - D\|^2,
# \qquad\text{so}\qquad L(f) = L(D) + \mathbb{E}_{t, x}\, \|f(x, t) - D(x, t)\|^2 .$$
#
# Check, on the ring: (a) `IdealDenoiser` against the slide's formula evaluated literally;
# (b) the Monte-Carlo loss of $D$ against perturbed denoisers on the **same** samples
# $(t, x_0, x)$ (noise levels log-uniform in $[0.002, 80]$; the per-$(x, t)$ optimum does not
# depend on how $t$ is drawn); (c) the decomposition, per sample.

# %%
rng = np.random.default_rng(4)
M = 40000  # cheap (N = 8), so FAST keeps it: the smallest excess is ~12 s.e.
sig = np.exp(rng.uniform(np.log(SIGMA_MIN), np.log(SIGMA_MAX), M))  # one sigma per sample
xn, x0 = ring8.noisy(M, sig, rng)  # x = x0 + sigma * eps
D = den(xn, sig)

# (a) the slide's formula, literally: sum_j N(x | x0^j, s^2) x0^j / sum_j N(x | x0^j, s^2)
sq = ((xn[:, None, :] - ring8.points[None]) ** 2).sum(-1)  # (M, N) squared distances
pi = softmax(-sq / (2 * sig[:, None] ** 2), axis=1)
print(f"(a) max |IdealDenoiser - slide formula| = {np.abs(D - pi @ ring8.points).max():.1e}, "
      f"weights sum to 1 within {np.abs(pi.sum(1) - 1).max():.1e}")

# (b) + (c): candidates f(x, sigma) on the same samples
candidates = {
    "ideal D = E[x0|x]": D,
    "D + (0.05, 0)": D + np.array([0.05, 0.0]),
    "0.9 D": 0.9 * D,
    "D(x, 1.5 sigma)": den(xn, 1.5 * sig),
    "D(x, sigma / 1.5)": den(xn, sig / 1.5),
    "nearest data point": ring8.points[nearest_point(ring8, xn)[0]],  # a sharp sample
    "data mean": np.zeros_like(D) + ring8.mean,
}
post = den.posterior(xn, sig)  # (M, N): pi_j(x, sigma), the law of x0 given x
base = np.sum((x0 - D) ** 2, axis=1)
print(f"\n(b) Monte-Carlo diffusion loss over M = {M} samples (x0, sigma, x)")
print(f"{'candidate f':>20} {'loss':>8} {'excess (MC) +- s.e.':>22} {'z':>5} "
      f"{'E|f - D|^2':>11} {'(c) decomp. err':>15}")
excess = {}
for name, f in candidates.items():
    per = np.sum((x0 - f) ** 2, axis=1)
    diff = per - base
    se = diff.std(ddof=1) / np.sqrt(M) if name != "ideal D = E[x0|x]" else 0.0
    lhs = np.einsum("mj,mj->m", post, ((f[:, None, :] - ring8.points[None]) ** 2).sum(-1))
    rhs = (np.einsum("mj,mj->m", post, ((D[:, None, :] - ring8.points[None]) ** 2).sum(-1))
           + np.sum((f - D) ** 2, axis=1))
    excess[name] = (diff.mean(), se, np.mean(np.sum((f - D) ** 2, axis=1)))
    z = f"{diff.mean() / se:5.0f}" if se > 0 else f"{'-':>5}"
    print(f"{name:>20} {per.mean():8.4f} {diff.mean():11.4f} +- {se:7.4f} {z} "
          f"{excess[name][2]:11.4f} {np.abs(lhs - rhs).max():15.1e}")
assert all(e[0] > 3 * e[1] for k, e in excess.items() if k != "ideal D = E[x0|x]")

# %% [markdown]
# **Conclusion.** `IdealDenoiser` is the slide's formula (to $2\times10^{-15}$); every
# perturbation raises the Monte-Carlo loss on the same 40000 samples, by 10 to 130 standard
# errors, and by the predicted $\mathbb{E}|f - D|^2$; predicting the sharp nearest data point
# costs +0.334 (loss 0.769 against 0.435); the decomposition holds per sample to
# $2\times10^{-15}$. **The diffusion loss rewards the average, not a sample.**

# %% [markdown]
# ## 1.4 Two deltas
#
# With two points the optimum is
# $$f_\theta(x, t) = \frac{\mathcal N(x \mid x_0^1, \sigma_t^2)\, x_0^1 + \mathcal N(x \mid
# x_0^2, \sigma_t^2)\, x_0^2}{\mathcal N(x \mid x_0^1, \sigma_t^2) + \mathcal N(x \mid x_0^2,
# \sigma_t^2)} .$$
# * At **equal distance** from both points the two Gaussians are equal:
#   $f_\theta = \frac{0.5 x_0^1 + 0.5 x_0^2}{0.5 + 0.5} = \frac{x_0^1 + x_0^2}{2}$ — a point
#   that is in no data set.
# * **The 0.3 / 0.7 case.** The log-odds are
#   $\ln\frac{\pi_2}{\pi_1} = \frac{\|x - x_0^1\|^2 - \|x - x_0^2\|^2}{2\sigma^2}$; with
#   $x_0^{1,2} = (\mp 1, 0)$ this is $2x_1/\sigma^2$ (only the coordinate along the line
#   matters). So $\pi = (0.3, 0.7)$ exactly when $2x_1/\sigma^2 = \ln(7/3)$, i.e.
#   $x_1^\star = \tfrac{\sigma^2}{2}\ln\tfrac73$ ($= 0.4236$ at $\sigma = 1$), and there
#   $f_\theta = 0.3 x_0^1 + 0.7 x_0^2 = (0.4, 0)$.

# %%
pair = two_points()  # x0^1 = (-1, 0), x0^2 = (+1, 0)
den2 = IdealDenoiser(pair)
p1, p2 = pair.points
bisector = np.array([[0.0, y] for y in (-3.0, 0.0, 0.5, 2.0, 10.0)])  # equidistant points
print("equidistant x = (0, y), y in {-3, 0, 0.5, 2, 10}:")
for s in (0.1, 1.0, 10.0):
    f, w = den2(bisector, s), den2.posterior(bisector, s)
    print(f"  sigma = {s:4g}: max |f - (x1 + x2)/2| = {np.abs(f - (p1 + p2) / 2).max():.1e}, "
          f"weights {w[:, 0].min():.4f} .. {w[:, 0].max():.4f}")
print("\nthe 0.3 / 0.7 point x* = (sigma^2 ln(7/3) / 2, y), for y = 0 and y = 1.7:")
for s in (0.5, 1.0, 2.0):
    x_star = np.array([[s**2 * np.log(7 / 3) / 2, y] for y in (0.0, 1.7)])
    f, w = den2(x_star, s), den2.posterior(x_star, s)
    err = np.abs(f - (0.3 * p1 + 0.7 * p2)).max()
    print(f"  sigma = {s:3g}: x* = {x_star[0, 0]:.4f}, weights {w[0, 0]:.4f} / {w[0, 1]:.4f}, "
          f"f = ({f[0, 0]:.4f}, {f[0, 1]:.4f}), max |f - (0.3 x1 + 0.7 x2)| = {err:.1e}")
    assert err < 1e-12
show("two_delta_averaging")

# %% [markdown]
# **Conclusion.** Both numbers of the slide come out exactly: on the bisector
# $f = (x_0^1 + x_0^2)/2$ to $10^{-16}$ at every $\sigma$, and at $x_1^\star = 0.4236$
# ($\sigma = 1$) the weights are 0.3000 / 0.7000 and $f = (0.4000, 0)$.

# %% [markdown]
# ## 1.5 Even in the simplest case, few steps fail
#
# An Euler step of $dx/d\sigma = (x - D)/\sigma$ from $\sigma$ to $\sigma'$ is
# $x' = D(x, \sigma) + \frac{\sigma'}{\sigma}\big(x - D(x, \sigma)\big)$. At
# $\sigma = \sigma_{\max} = 80$ the noise is so large that both points are almost equally
# likely: for $x_0^{1,2} = \mp 1$ on a line, $D(x, \sigma) = \tanh(x/\sigma^2)$, which is
# $\approx x / 6400$ — the data mean up to $O(\text{scale}^2/\sigma_{\max})$. One step to
# $\sigma' = 0$ therefore returns the mean of the two points, **exactly between them**; with
# a few more steps the samples spread, but many still land between the points.

# %%
line2 = two_points(d=1)  # -1 and +1 on a line
den1 = IdealDenoiser(line2)
B5 = 1000 if FAST else 4000
z_T = SIGMA_MAX * np.random.default_rng(7).standard_normal((B5, 1))
z_exact = exact_endpoints(line2, z_T, SIGMA_MAX)

one = sample(den1, z_T, np.array([SIGMA_MAX, 0.0]), "euler")  # one Euler step 80 -> 0
print(f"one Euler step 80 -> 0: max |x_1 - D(x_T, 80)| = {np.abs(one - den1(z_T, 80)).max():.1e}"
      f", max |D(x_T, 80) - tanh(x_T / 80^2)| = "
      f"{np.abs(den1(z_T, 80) - np.tanh(z_T / 6400)).max():.1e}, "
      f"max |x_1 - mean| = {np.abs(one - line2.mean).max():.4f}")
print(f"\n{B5} noises, Euler on the Karras grid to 0.002:")
print(f"{'steps':>5} {'within 0.05 of a point':>23} {'median dist':>12} {'same point':>11}")
near5 = {}
for n in (1, 2, 3, 5, 10, 30):
    q = sample_quality(line2, sample(den1, z_T, grid(n), "euler"), z_exact)
    near5[n] = np.mean(q.dist_to_data < 0.05)
    print(f"{n:5d} {near5[n]:23.1%} {q.median_dist_to_data:12.4f} {q.frac_same_basin:11.1%}")
assert near5[1] == 0 and near5[30] == 1
show("few_step_two_deltas")

# %% [markdown]
# **Conclusion.** One Euler step returns $D(x_T, 80)$ (to $4\times10^{-14}$), within 0.046 of
# the mean 0 for all 4000 noises: no sample is within 0.05 of a data point after 1 or 2 steps,
# 47% after 3 steps, 99.1% after 5 and all after 10.

# %% [markdown]
# ## 1.6 Images become less and less averaged
#
# Along a trajectory the denoiser output $D(x_\sigma, \sigma) = \sum_j \pi_j x_0^j$ is a
# mixture of images. How mixed is measured by the posterior entropy
# $$H(\pi) = -\sum_j \pi_j \ln \pi_j \in [0, \ln N]:$$
# $\ln N$ when $D$ is the plain average of all $N$ images ($\sigma \to \infty$), 0 when it is
# one image ($\sigma \to 0$). We follow 32 trajectories on the ten 16×16 digits (Heun, 64
# steps) and record $H$ at every step.

# %%
sig6 = grid(64)
G = 4 if FAST else 32
d_T = SIGMA_MAX * np.random.default_rng(8).standard_normal((G, 256))
_, states6, _ = sample(gden, d_T, sig6, "heun", return_trajectory=True)
H = np.stack([posterior_entropy(gden, states6[i], sig6[i]) for i in range(len(sig6))])  # (65, G)
top = np.stack([gden.posterior(states6[i], sig6[i]).max(axis=1) for i in range(len(sig6))])
print(f"{G} trajectories; ln 10 = {np.log(10):.4f}")
print(f"{'sigma':>8} {'median H (nats)':>16} {'median top weight':>18}")
for t in (80, 30, 20, 15, 10, 7, 5, 3, 1, 0.002):
    i = int(np.argmin(np.abs(np.log(sig6) - np.log(t))))
    print(f"{sig6[i]:8.3g} {np.median(H[i]):16.4f} {np.median(top[i]):18.4f}")
rises = np.diff(H, axis=0) > 1e-9
print(f"steps where the entropy rises: {rises.sum()} of {rises.size}; "
      f"largest rise {np.diff(H, axis=0).max():.2e} nats")
assert H[0].min() > 0.99 * np.log(10) and H[-1].max() < 1e-6
show("image_denoiser_track")

# %% [markdown]
# **Conclusion.** At $\sigma = 80$ the output is the average of all ten digits (median entropy
# 2.2980 of $\ln 10 = 2.3026$ nats); the entropy never rises along any of the 32 trajectories
# (0 of 2048 steps), is still 2.05 at $\sigma = 10$ and 1.37 at $\sigma = 4.9$, and stays
# below 0.01 from $\sigma = 1.89$ on: the digit is chosen late, at $\sigma$ of the order of the
# distance between images.

# %% [markdown]
# ## 1.7 Diffusion has curved trajectories
#
# If $D(x(\sigma), \sigma)$ were the endpoint $x_{end}$ all along, the ODE
# $dx/d\sigma = (x - x_{end})/\sigma$ would have the solution
# $x(\sigma) = x_{end} + (x_T - x_{end})\,\sigma/\sigma_T$: a **straight line at constant
# speed**, which one Euler step integrates exactly. That happens for a single data point.
# For a single Gaussian $\mathcal N(\mu, s^2 I)$ the paths are still straight rays,
# $x(\sigma) = \mu + (x_T - \mu)\sqrt{s^2 + \sigma^2}/\sqrt{s^2 + \sigma_T^2}$, but $D$ slides
# along them ("drift" $|D - x_{end}| > 0$) and the speed is not constant. For a delta mixture
# $D$ moves from the mean to one data point (section 1.6): the paths bend.
#
# Measures (`trajectory_geometry`): the **chord deviation** $\max_\sigma
# \operatorname{dist}(x(\sigma), [x_T, x_{end}])$ (0 iff straight), the arc/chord ratio, and
# the drift $\max_\sigma |D(x(\sigma), \sigma) - x_{end}|$.

# %%
B7 = 14  # seed 9: the 14 paths of the figure below
w_T = SIGMA_MAX * np.random.default_rng(9).standard_normal((B7, 2))
sig7 = karras_sigmas(96, SIGMA_MIN, SIGMA_MAX)  # 95 steps to 0.002, then one to 0
gauss = GaussianMixture(np.zeros((1, 2)), 0.25)  # N(0, 0.5^2 I)
cases7 = {
    "single point": (IdealDenoiser(pair.points[1:]), sig7),
    "single Gaussian": (IdealDenoiser(gauss), sig7[:-1]),  # its D at sigma = 0 is x: stop
    "ring of 8 points": (den, sig7),
}
geo7, paths7 = {}, {}
print(f"{B7} Heun paths from sigma = 80; medians over the paths (max for the drift)")
print(f"{'data':>17} {'chord deviation':>16} {'relative':>9} {'arc/chord - 1':>14} "
      f"{'max drift':>10}")
for name, (d7, s7) in cases7.items():
    _, paths7[name], _ = sample(d7, w_T, s7, "heun", return_trajectory=True)
    geo7[name] = g = trajectory_geometry(paths7[name], d7, s7)
    print(f"{name:>17} {np.median(g.chord_deviation):16.2e} "
          f"{np.median(g.relative_chord_deviation):9.1e} {np.median(g.arc_chord_ratio) - 1:14.1e}"
          f" {g.drift.max():10.3g}")

closed = gauss.means[0] + (w_T - gauss.means[0]) * (
    np.sqrt(0.25 + sig7[:-1, None, None] ** 2) / np.sqrt(0.25 + SIGMA_MAX**2))
print(f"\nsingle Gaussian: max |Heun path - closed form| = "
      f"{np.abs(paths7['single Gaussian'] - closed).max():.1e} (discretisation error)")
assert geo7["single point"].drift.max() < 1e-9
assert np.median(geo7["ring of 8 points"].chord_deviation) > 1e3 * max(
    np.median(geo7["single point"].chord_deviation),
    np.median(geo7["single Gaussian"].chord_deviation))
show("curved_trajectories")

# %% [markdown]
# **Conclusion.** Single point: median chord deviation $2.1\times10^{-14}$ (rounding) and
# drift 0 (straight, constant speed); single Gaussian: $2.5\times10^{-14}$ (straight) but
# drift up to 1.39; ring: the median path leaves its chord by 0.329 — the averaged optimum
# bends the trajectories, late and near the data (relative to the chord, of length ~100, the
# bend is $3.3\times10^{-3}$).

# %% [markdown]
# ## 1.8 Curved paths cost discretisation error
#
# A solver of order $p$ with $n$ steps has a global error $\approx C\, n^{-p}$, with $C$
# set by the derivatives of the path $x(\sigma)$ — zero for a straight line at constant
# speed, large where the path bends. We measure $|x_n - x_{ODE}|$ against the DOP853
# reference for Euler ($p = 1$, 1 evaluation per step), Heun (EDM Algorithm 1, $p = 2$, 2 per
# step) and DPM-Solver++(2M) ($p = 2$, 1 per step), and fit $p$ over $n \ge 8$
# (`convergence`). The ring is integrated to $\sigma = 0.2$: going to $\sigma \to 0$ would
# snap every sample onto a data point, so the error would measure basins, not the order.

# %%
# the step counts and noises of the figure below (FAST: fewer of both)
STEPS8 = (1, 2, 3, 4, 8, 16, 32) if FAST else (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
B8 = 16 if FAST else 64
v_T = SIGMA_MAX * np.random.default_rng(10).standard_normal((B8, 2))
point = IdealDenoiser(pair.points[1:])
reports = {
    "single Gaussian, to 0.002": convergence(IdealDenoiser(gauss), v_T, STEPS8,
                                             sigma_end=0.002, fit_min_steps=8),
    "ring of 8, to 0.2": convergence(den, v_T, STEPS8, sigma_end=0.2, fit_min_steps=8),
    "ring of 8, to 0.002": convergence(den, v_T, STEPS8, sigma_end=0.002, fit_min_steps=8),
}
print(f"median |x_n - x_ODE| over {B8} noises; E = Euler, H = Heun (2 NFE per step), "
      "D = DPM-Solver++(2M)")
print("     " + " | ".join(f"{name:^29}" for name in reports))
print("   n " + " | ".join(" ".join(f"{s:>9}" for s in "EHD") for _ in reports))
for j, n in enumerate(STEPS8):
    print(f"{n:4d} " + " | ".join(" ".join(f"{r.median[k, j]:9.2e}" for k in range(3))
                                  for r in reports.values()))
print("order" + " | ".join(" ".join(f"{o:9.2f}" for o in r.order) for r in reports.values())
      + "   (fitted over n >= 8)")
rz = reports["ring of 8, to 0.002"]
print("ring to 0.002, samples whose target point switched (Heun):",
      dict(zip(STEPS8, rz.switched[rz.solvers.index("heun")].tolist())))

# a single point: every solver is exact (the path is a straight line at constant speed)
x_pt = pair.points[1]  # the exact path: x(sigma) = x_pt + (x_T - x_pt) sigma / 80
line_end = x_pt + (SIGMA_MIN / SIGMA_MAX) * (v_T - x_pt)
pt_err = {s: np.abs(sample(point, v_T, grid(1), s) - line_end).max()
          for s in ("euler", "heun", "dpmpp_2m")}
print("single point, ONE step 80 -> 0.002, max error against the exact line:",
      ", ".join(f"{s} {e:.1e}" for s, e in pt_err.items()))

r_ring = reports["ring of 8, to 0.2"]
order = dict(zip(r_ring.solvers, r_ring.order))
assert 0.8 < order["euler"] < 1.3 and 1.7 < order["heun"] < 2.5
k_e, k_h = rz.solvers.index("euler"), rz.solvers.index("heun")
print("\nfew-step Heun on the ring (to 0.002), median error: "
      + ", ".join(f"n={n}: Heun {rz.median[k_h, j]:.3g} vs Euler {rz.median[k_e, j]:.3g}"
                  for j, n in enumerate(rz.steps[:3])))
show("error_vs_steps")

# %% [markdown]
# **Conclusion.** On a single point every solver is exact in one step (errors $\le 5\times
# 10^{-10}$, rounding); on the ring (to $\sigma = 0.2$) the fitted orders are 1.06 for Euler,
# 2.21 for Heun and 2.02 for DPM-Solver++(2M). The higher order pays off only with enough
# steps: one Heun step on the ring (to 0.002) misses by a median $2.0\times10^{4}$ (the
# corrector divides a data-scale distance by a tiny $\sigma$ after one huge step), against
# 0.99 for Euler — a better solver is no cure for few steps.

# %% [markdown]
# ## 1.9 The lecture's chain, with our numbers
#
# *Why are DMs slow? → The optimal solution is an averaged sample → Curved trajectories →
# discretisation error.* Each link was measured above, with a **perfect** model; the next cell
# collects the numbers from the variables computed in this notebook.

# %%
ring_chord = np.median(geo7["ring of 8 points"].chord_deviation)
print("1. averaged optimum:    the loss is minimised by E[x0|x]; predicting the nearest data "
      f"point costs +{excess['nearest data point'][0]:.3f} (ring, Monte Carlo)")
sig_pick = sig6[np.argmax(np.median(H, axis=1) < 0.01)]  # first sigma with median H < 0.01
print(f"                        posterior entropy on digits: {np.median(H[0]):.3f} nats at "
      f"sigma = 80 (ln 10 = {np.log(10):.3f}), < 0.01 from sigma = {sig_pick:.3g} on")
print("2. curved trajectories: median chord deviation, single point "
      f"{np.median(geo7['single point'].chord_deviation):.1e}, ring {ring_chord:.3f}")
print("3. discretisation error: median distance to the data, Euler on the ring, "
      + ", ".join(f"{n} steps {q1[n][0].median_dist_to_data:.4f}" for n in STEPS1))
print("                        fitted orders (ring, to 0.2): "
      + ", ".join(f"{s} {o:.2f}" for s, o in order.items()))

# %% [markdown]
# **Summary.** The slowness is a property of the **optimum**, not of the network or of the
# particular solver: the diffusion loss is minimised by an average, the average drifts along
# the path and bends it, and a solver needs many steps to follow a bent path. No fast sampling
# with diffusion models as they are — hence the two ways out of the lecture: straighter
# trajectories (flow matching, rectified flows) or **distillation**, which trains
# $f_\phi(x, t) = x_0$ directly (notebooks 02–04: knowledge, consistency and multi-boundary
# consistency distillation).

# %% [markdown]
# ## Try this
#
# 1. **Another data set.** Replace `ring(8)` by `grid(3)` or `ring(3, radius=2)` in 1.1: which
#    step count is needed for 99% of samples to reach the exact point?
# 2. **Another grid.** Use `karras_sigmas(n + 1, rho=1.0, append_zero=False)` (uniform in
#    $\sigma$) in 1.5: why do few steps get much worse? (Hint: where is the bending?)
# 3. **A 0.1 / 0.9 split.** Derive the $x$ at which the two-delta weights are 0.1 / 0.9 and
#    check it with `den2.posterior`. What happens to that $x$ as $\sigma \to 0$?
# 4. **Equal cost.** Compare Heun with $n$ steps and DPM-Solver++(2M) with $2n$ steps (the
#    same number of denoiser evaluations, `nfe`) using `r.median` from 1.8.
# 5. **When is the digit chosen?** From `H` in 1.6, find the $\sigma$ at which the median
#    entropy first drops below $\ln 2$, and compare it with the distances between the glyphs
#    (`digits.points`).
#
# A start for exercise 3:

# %%
s = 1.0
x_guess = np.array([[0.5, 0.0]])  # replace 0.5 by your x*
print("weights at x_guess:", np.round(den2.posterior(x_guess, s), 4))
