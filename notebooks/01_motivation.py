# %% [markdown]
# # 1. Motivation: why are diffusion models slow?
#
# *Lecture 4, "ODE-Based Diffusion Distillation", section 1 — as executable notes.*
#
# The lecture asks where the slowness of diffusion sampling comes from (slide "1. Why
# Diffusion Models are slow? (low capacity? solver error?)"), and names two suspects:
#
# 1. a neural network of **low capacity**, which approximates $\mathbb{E}[x_0 \mid x]$ badly;
# 2. a **solver** with too large a discretisation error.
#
# This notebook takes suspect 1 off the table: the data set is a finite set of points (a
# *delta mixture*), for which the optimum of the diffusion loss, $\mathbb{E}[x_0 \mid x]$, is
# known in closed form (`IdealDenoiser`). Sampling with this **perfect** model is still slow,
# and each section measures one link of the lecture's chain
#
# $$\text{averaged optimum} \;\Rightarrow\; \text{curved trajectories} \;\Rightarrow\;
# \text{discretisation error}.$$
#
# A last section trains a real network on the same data and shows it learns the same
# averaging: the slowness belongs to the optimum, not to a lack of capacity.
#
# **Conventions** (the whole toolkit). VE noising $x = x_0 + \sigma\varepsilon$,
# $\varepsilon \sim \mathcal N(0, I)$. An **$n$-step sampler** takes $n$ steps on the
# descending EDM (Karras, $\rho = 7$) grid `sampling_grid(n)` from $\sigma_{\max} = 80$ to
# $\sigma_{\min} = 0.002$, and its sample is the state **at $\sigma_{\min}$**: there is never
# a last step to $\sigma = 0$, because $D(x, \sigma \to 0)$ is the nearest data point and
# that step would snap any averaged state onto the data, hiding the lecture's point. Cost is
# counted in denoiser evaluations (NFE): $n$ for Euler and DPM-Solver++(2M), $2n$ for Heun.
# Errors are measured against the exact PF-ODE state at $\sigma_{\min}$ of the same noise.
#
# **How to use it.** Every figure is drawn from what its cell just computed, from a `Config`
# you can edit: change one field with `replace(cfg, field=value)`, re-run the cell, and the
# picture and the printed numbers change with it. Lines starting with ✓ are the lecture's
# claims, checked on the values above them. Data sets: `"clusters"` (20 points in clusters of
# different sizes and weights, 2-D), `"ring"` (8 equal points on a circle), `"digits"` (the
# 1,797 handwritten 8×8 digits of scikit-learn, $d = 64$).

# %%
import os
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import softmax

from ideal_diffusion import IdealDenoiser, nfe, sample, two_points
from ideal_diffusion.experiments import animation as film
from ideal_diffusion.experiments import dpm_overshoot, teachers
from ideal_diffusion.experiments import motivation as mot
from ideal_diffusion.experiments.common import dataset, ideal_denoiser, measure, noise, reference
from ideal_diffusion.figures import notebook_style
from ideal_diffusion.figures.notebook import check, explore, play, say
from ideal_diffusion.metrics import nearest_point
from ideal_diffusion.nn import TrainConfig
from ideal_diffusion.schedules import SIGMA_MAX, SIGMA_MIN, sampling_grid

FAST = os.environ.get("IDEAL_DIFFUSION_FAST") == "1"  # CI: smaller runs, same claims

# %matplotlib inline
# %config InlineBackend.figure_format = 'png'
notebook_style(dpi=54)  # the slide style, 54 dpi inline: keeps the notebook < 1 MiB
print(f"FAST = {FAST}; sampler grid for 3 steps: {np.round(sampling_grid(3), 4)}")

# %% [markdown]
# ## 1.1 Diffusion models are slow
#
# *Slide "1. Motivation: "Diffusion Models are slow. Why?""* shows one prompt sampled with 30,
# 7, 5 and 3 steps: the fewer the steps, the blurrier the picture. Here the "model" is the
# exact $\mathbb{E}[x_0 \mid x]$ of the real digits. The **same** noises $x_T = 80\,z$ are
# integrated with $n$ steps; the blur is measured as the distance of each sample to its
# nearest training image (the exact ODE state keeps only the noise left at $\sigma_{\min}$,
# $\sigma_{\min}\sqrt d$).

# %%
steps_cfg = mot.steps_comparison.Config()  # try: replace(steps_cfg, seed=5)
if FAST:
    steps_cfg = replace(steps_cfg, steps=(3, 5, 7, 30), n_noises=8)
steps_res = mot.steps_comparison.run(steps_cfg)
mot.steps_comparison.plot(steps_res)
plt.show()

k_euler = steps_cfg.solvers.index("euler")
blur = dict(zip(steps_cfg.steps, steps_res.dist_median[k_euler]))
check("3 Euler steps land >10x farther from the training images than 30 steps",
      blur[3] > 10 * blur[30], dist_3=blur[3], dist_30=blur[30])
check("30 steps reach a training image (up to the noise left at sigma_min)",
      blur[30] < 2 * steps_res.noise_floor, dist_30=blur[30], floor=steps_res.noise_floor)
say("With the **exact** denoiser, the median 3-step Euler sample is {a:.2f} away from the "
    "nearest training image, {r:.0f} times the 30-step distance ({b:.3f}, about the noise "
    "floor {f:.3f}). Capacity is not what makes few steps fail.",
    a=blur[3], b=blur[30], r=blur[3] / blur[30], f=steps_res.noise_floor)

# %% [markdown]
# **Play with it.** Steps and solver on the 2-D data (left: the data points as circles, sized
# by weight; the samples as dots) and on the digits (right). Few steps leave the 2-D samples
# between the points and the digits blurred; more steps sharpen both. The numbers in the
# titles are measured on held-out noises (2-D) against their exact ODE states.

# %%
N_DIGITS = 8  # digits drawn per setting


def sampler_panels(steps=3, solver="euler", data="clusters", seed=0):
    """n-step samples of the exact denoiser: 2-D data set ``data`` and the digits."""
    sig = sampling_grid(steps)
    ref = reference(data, 100 if FAST else 400)  # noises and their exact ODE states
    pts = ideal_denoiser(data)
    x = sample(pts, ref.x_T, sig, solver)
    q = measure(x, ref)
    dig = ideal_denoiser("digits")
    imgs = sample(dig, noise(64, N_DIGITS, seed), sig, solver)
    d_img = np.median(nearest_point(dig.data, imgs)[1])

    fig, (a, b) = plt.subplots(1, 2, figsize=(10.5, 4.3), gridspec_kw={"width_ratios": [1, 1.5]})
    a.scatter(*pts.data.points.T, s=600 * pts.data.weights, facecolor="none", edgecolor="k",
              label="data (size: weight)")
    a.scatter(*x.T, s=5, color="tab:blue", alpha=0.6, label="samples at $\\sigma_{min}$")
    a.set_xlim(-2.3, 2.3)
    a.set_ylim(-2.3, 2.3)
    a.set_aspect("equal")
    a.legend(loc="lower left", fontsize=8)
    a.set_title(f"{data}: {steps} {solver} steps, NFE {nfe(solver, sig)}\nmedian distance to "
                f"data {q.dist_to_data_median:.3f}; same point as exact ODE {q.same_basin:.0%}",
                fontsize=10)
    tiles = np.pad(np.clip(imgs, -1, 1).reshape(-1, 8, 8), ((0, 0), (0, 1), (0, 1)),
                   constant_values=np.nan)  # a white 1-pixel gap after each digit
    mosaic = tiles.reshape(2, N_DIGITS // 2, 9, 9).transpose(0, 2, 1, 3).reshape(18, -1)
    b.imshow(mosaic, cmap=plt.get_cmap("gray_r").with_extremes(bad="white"), vmin=-1, vmax=1)
    b.set_axis_off()
    b.set_title(f"digits: median distance to the nearest training image {d_img:.3f}",
                fontsize=10)
    fig.tight_layout()
    return fig


explore(sampler_panels, steps=(slice(1, 40, 1), 3),
        solver=(("euler", "heun", "dpmpp_2m"), "euler"), data=(("clusters", "ring"), "clusters"),
        seed=(slice(0, 20, 1), 0))

# %% [markdown]
# **Watch it happen.** The film integrates the PF-ODE (Heun) from $\sigma = 80$ down to
# $\sigma_{\min}$ and draws, at each step, the states $x_\sigma$ and the denoiser's guesses
# $D(x_\sigma, \sigma)$: on the 2-D clusters (dots and crosses) and on four digits. Early on
# every guess is the same average; the guesses split into the data points only late, at
# small $\sigma$. (The film is rendered at low resolution with few frames, to keep the
# notebook small: raise `steps` in the Config for a smoother one.)

# %%
film_cfg = film.Config(steps=8, n_points=200, n_digits=4)  # small: the notebook stays < 1 MiB
film_res = film.run(film_cfg)
FILM_GIF = "../figures/sampling_film.gif"  # the built notebook shows this GIF (plays untrusted)
if FAST:
    print("FAST: the film is not rendered (its data are checked below)")
else:
    with plt.rc_context({"savefig.dpi": 50}):  # low-resolution frames, for the same reason
        play(film.plot(film_res), gif=FILM_GIF)

pts = film_res.points
mean_c = dataset(pts.data).weights @ dataset(pts.data).points
first = np.median(np.linalg.norm(pts.denoised[0] - mean_c, axis=1))
last = np.median(nearest_point(dataset(pts.data), pts.denoised[-1])[1])
check("at sigma = 80 every guess D is the data mean; at sigma_min each is a data point",
      first < 0.05 and last < 1e-6, median_to_mean_at_80=first, median_to_data_at_min=last)
print("frames at sigma =", ", ".join(f"{v:.3g}" for v in pts.sigmas))

# %% [markdown]
# ## 1.2 The PF-ODE, VE case, and the score
#
# *Slide "1. PF-ODE, VE case".* The reverse probability-flow ODE is
# $$dx = \Big(f(x, t) - \tfrac12 g(t)^2 \nabla_x \log p_t(x)\Big)\,dt .$$
# In the variance-exploding case $f = 0$ and $g(t) = \sqrt{d\sigma_t^2/dt}$, so
# $\tfrac12 g^2\,dt = \sigma_t\, d\sigma_t$ and
# $$dx = -\sigma_t \nabla_x \log p_t(x)\, d\sigma_t, \qquad
# \nabla_x \log p_t(x) = -\frac{1}{\sigma_t^2}\big(x - \mathbb{E}[x_0 \mid x]\big)$$
# (Tweedie's formula). Together: $\dfrac{dx}{d\sigma} = \dfrac{x - D(x, \sigma)}{\sigma}$ with
# $D(x, \sigma) = \mathbb{E}[x_0 \mid x]$: the ODE needs nothing but the denoiser.
#
# Check on the clusters: `IdealDenoiser.score` is $(D - x)/\sigma^2$; compare it with central
# finite differences of $\log p_\sigma(x)$ (`log_density`, a log-sum-exp that never forms
# $D$), and the ODE field `velocity` with $-\sigma\cdot$score.

# %%
den_c = ideal_denoiser("clusters")
xq = 1.5 * np.random.default_rng(3).standard_normal((256, 2))
fd_err, vel_err = [], []
for s in (0.05, 0.2, 1.0, 5.0, SIGMA_MAX):
    h = 1e-4 * s
    grad = np.stack([(den_c.log_density(xq + h * e, s) - den_c.log_density(xq - h * e, s))
                     / (2 * h) for e in np.eye(2)], axis=1)
    score = den_c.score(xq, s)
    fd_err.append(np.max(np.linalg.norm(score - grad, axis=1) / np.linalg.norm(score, axis=1)))
    vel_err.append(np.max(np.abs(den_c.velocity(xq, s) + s * score)))
check("score (D - x)/sigma^2 = grad log p_sigma (finite differences), sigma from 0.05 to 80",
      max(fd_err) < 1e-6, max_rel_err=max(fd_err))
check("the PF-ODE field is -sigma * score", max(vel_err) < 1e-10, max_abs_err=max(vel_err))
say("The score built from $D$ matches the gradient of $\\log p_\\sigma$ to a relative "
    "{a:.0e} (the finite-difference error), at every $\\sigma$ tried: the ODE needs nothing "
    "but the denoiser.", a=max(fd_err))

# %% [markdown]
# ## 1.3 The diffusion loss and its optimum for a delta mixture
#
# *Slides "1. Diffusion loss", "1. Towards ideal approximation", "1. Ideal diffusion model".*
# The diffusion loss is
# $$L(f_\theta) = \mathbb{E}_{t}\, \mathbb{E}_{p_{data}(x_0)}\,
# \mathbb{E}_{q_t(x \mid x_0)} \|x_0 - f_\theta(x, t)\|_2^2 \to \min_\theta,
# \qquad q_t(x \mid x_0) = \mathcal N(x \mid x_0, \sigma_t^2 I).$$
# *What if the network is perfect* — what is the optimum? For a delta mixture
# $p_{data}(x_0) = \frac1N \sum_{j=1}^N \delta(x_0 - x_0^j)$ the $x_0$-integral collapses
# onto the data points ($\int dx\, \delta(x - y)\, g(x) = g(y)$):
# $$L(f_\theta) = \int dt \int_{\mathbb R^n} \underbrace{\frac1N \sum_{j=1}^N
#   \mathcal N(x \mid x_0^j, \sigma_t^2)\, \|x_0^j - f_\theta(x, t)\|_2^2}_{J(f_\theta, x, t)}
#   \, dx .$$
# A free-form $f_\theta$ minimises $L$ by minimising $J$ separately at each $(x, t)$:
# $$\nabla_{f_\theta} J = -\frac2N \sum_{j=1}^N \mathcal N(x \mid x_0^j, \sigma_t^2)\,(x_0^j
# - f_\theta) = 0 \quad\Longrightarrow\quad
# f^*(x, t) = \frac{\sum_{j} \mathcal N(x \mid x_0^j, \sigma_t^2)\, x_0^j}
#                  {\sum_{j} \mathcal N(x \mid x_0^j, \sigma_t^2)}
# = \sum_j \pi_j x_0^j, \quad
# \pi = \operatorname{softmax}_j\!\big(-\|x - x_0^j\|^2 / 2\sigma_t^2\big).$$
# **The optimum is $\mathbb{E}[x_0 \mid x]$, an average of data points** (`IdealDenoiser`).
# Any other $f$ loses exactly its squared distance to it: since
# $\sum_j \pi_j (x_0^j - D) = 0$,
# $$L(f) = L(D) + \mathbb{E}_{t, x}\, \|f(x, t) - D(x, t)\|^2 .$$
#
# Check on the ring (equal weights, as on the slide): (a) `IdealDenoiser` against the formula
# written literally; (b) the Monte-Carlo loss of $D$ against other candidates on the **same**
# samples $(\sigma, x_0, x)$, $\sigma$ log-uniform in $[0.002, 80]$ (the per-$(x, \sigma)$
# optimum does not depend on how $\sigma$ is drawn).

# %%
ring8 = dataset("ring")
den_r = ideal_denoiser("ring")
rng = np.random.default_rng(4)
M = 40000  # cheap (N = 8), so FAST keeps it
sig = np.exp(rng.uniform(np.log(SIGMA_MIN), np.log(SIGMA_MAX), M))
xn, x0 = ring8.noisy(M, sig, rng)  # x = x0 + sigma * eps
D = den_r(xn, sig)
sq = ((xn[:, None, :] - ring8.points[None]) ** 2).sum(-1)  # (M, N) squared distances
pi = softmax(-sq / (2 * sig[:, None] ** 2), axis=1)  # the slide's formula, literally
gap = np.abs(D - pi @ ring8.points).max()
check("(a) IdealDenoiser = the slide's softmax-weighted average", gap < 1e-12, max_abs_diff=gap)

candidates = {
    "D + (0.05, 0)": D + np.array([0.05, 0.0]),
    "0.9 D": 0.9 * D,
    "D(x, 1.5 sigma)": den_r(xn, 1.5 * sig),
    "nearest data point": ring8.points[nearest_point(ring8, xn)[0]],  # a sharp "sample"
    "data mean": np.zeros_like(D) + ring8.mean,
}
base = np.sum((x0 - D) ** 2, axis=1)
print(f"(b) Monte-Carlo loss, M = {M} samples; loss of D = {base.mean():.4f}")
print(f"{'candidate f':>20} {'loss':>8} {'excess +- s.e.':>18} {'E|f - D|^2':>11}")
excess = {}
for name, f in candidates.items():
    diff = np.sum((x0 - f) ** 2, axis=1) - base
    se = diff.std(ddof=1) / np.sqrt(M)
    excess[name] = (diff.mean(), se, np.mean(np.sum((f - D) ** 2, axis=1)))
    print(f"{name:>20} {base.mean() + diff.mean():8.4f} {diff.mean():9.4f} +- {se:6.4f} "
          f"{excess[name][2]:11.4f}")
z_min = min(e[0] / e[1] for e in excess.values())
check("(b) every other candidate has a larger loss", z_min > 3, smallest_z=z_min)
say("Predicting the sharp nearest data point, a real sample, costs **+{c:.3f}** over the "
    "average $D$: the diffusion loss rewards the average, not a sample.",
    c=excess["nearest data point"][0])

# %% [markdown]
# ## 1.4 Two deltas: the optimum averages
#
# *Slide "1. Ideal diffusion model: "two delta functions"".* With two points the optimum is
# $$f_\theta(x, t) = \frac{\mathcal N(x \mid x_0^1, \sigma_t^2)\, x_0^1 + \mathcal N(x \mid
# x_0^2, \sigma_t^2)\, x_0^2}{\mathcal N(x \mid x_0^1, \sigma_t^2) + \mathcal N(x \mid x_0^2,
# \sigma_t^2)} .$$
# * At **equal distance** from both points the Gaussians are equal, so
#   $f_\theta = \frac{x_0^1 + x_0^2}{2}$: a point that is in no data set.
# * **The 0.3 / 0.7 case.** The log-odds are
#   $\ln\frac{\pi_2}{\pi_1} = \frac{\|x - x_0^1\|^2 - \|x - x_0^2\|^2}{2\sigma^2}$; with
#   $x_0^{1,2} = (\mp 1, 0)$ this is $2x_1/\sigma^2$. So $\pi = (0.3, 0.7)$ exactly at
#   $x_1^\star = \tfrac{\sigma^2}{2}\ln\tfrac73$, and there
#   $f_\theta = 0.3 x_0^1 + 0.7 x_0^2$.
#
# **Play with it.** The slider moves the marked noise level $\sigma^\star$ (thick curve): the
# square marks where the weights are 0.3 / 0.7 at that level. Large $\sigma$: $D$ is nearly
# the midpoint everywhere; small $\sigma$: $D$ jumps from one point to the other at the
# midpoint, towards its $\sigma \to 0$ limit, the nearest data point.

# %%
two_cfg = mot.two_delta_averaging.Config()  # try: replace(two_cfg, weight=0.9) or distance=4.0


def two_deltas_at(sigma=two_cfg.sigma_star):
    """The two-delta figure with the 0.3 / 0.7 point marked at ``sigma`` (drawn thick)."""
    cfg = replace(two_cfg, sigma_star=sigma, sigmas=tuple(sorted(set(two_cfg.sigmas) | {sigma})))
    return mot.two_delta_averaging.plot(mot.two_delta_averaging.run(cfg))


SIGMA_CHOICES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, SIGMA_MAX)
explore(two_deltas_at, sigma=(SIGMA_CHOICES, two_cfg.sigma_star))

two_res = mot.two_delta_averaging.run(two_cfg)  # the numbers at the default sigma_star
w = two_cfg.weight
# log(pi2/pi1) = x L / sigma^2 for points at -L/2, +L/2, so pi2 = w at x* = sigma^2 ln(w/(1-w)) / L
x_formula = two_cfg.sigma_star ** 2 * np.log(w / (1 - w)) / two_cfg.distance
check("equidistant point: f = (x1 + x2)/2", abs(two_res.d_mid) < 1e-12, f_mid=two_res.d_mid)
check(f"weights {1 - w:g} / {w:g} at x* = sigma^2 ln({w:g}/{1 - w:g}) / L",
      np.allclose(two_res.w_star, [1 - w, w], atol=1e-12)
      and abs(two_res.x_star - x_formula) < 1e-12,
      x_star=two_res.x_star, pi_1=two_res.w_star[0], pi_2=two_res.w_star[1], f=two_res.d_star)
say("At $\\sigma$ = {s:g}: on the bisector $f$ = {m:g}, the midpoint; at $x^\\star$ = {x:.4f} "
    "the weights are {p1:.4f} / {p2:.4f} and $f$ = {f:.4f}. Neither is a data point.",
    s=two_cfg.sigma_star, m=two_res.d_mid, x=two_res.x_star, p1=two_res.w_star[0],
    p2=two_res.w_star[1], f=two_res.d_star)

# %% [markdown]
# ## 1.5 Even in the simplest case, few steps fail
#
# *Slide "1. Sampling from ideal diffusion model".* An Euler step of
# $dx/d\sigma = (x - D)/\sigma$ from $\sigma$ to $\sigma'$ is
# $x' = D(x, \sigma) + \frac{\sigma'}{\sigma}\big(x - D(x, \sigma)\big)$. At
# $\sigma = 80$ both points are almost equally likely: for $x_0^{1,2} = \mp 1$ on a line,
# $D(x, \sigma) = \tanh(x/\sigma^2) \approx x/6400$, the mean up to
# $O(\text{scale}^2/\sigma_{\max})$. So **one step** to $\sigma_{\min}$ lands at
# $D(x_T, 80) + \frac{0.002}{80}(x_T - D)$: between the two points, near the mean. More
# steps spread the samples towards the points; the cell below prints, per step count, how many
# end within 0.05 of a point.

# %%
few_cfg = mot.few_step_two_deltas.Config()  # try: replace(few_cfg, solver="dpmpp_2m")
if FAST:
    few_cfg = replace(few_cfg, n_noises=500)
few_res = mot.few_step_two_deltas.run(few_cfg)
mot.few_step_two_deltas.plot(few_res)
plt.show()

if few_cfg.steps[0] == 1 and few_cfg.solver == "euler":
    D_T = np.tanh(few_res.x_T / SIGMA_MAX ** 2)  # D(x_T, 80) for two points at -1, +1
    one_step = D_T + SIGMA_MIN / SIGMA_MAX * (few_res.x_T - D_T)
    check("one Euler step returns D(x_T, 80) + (0.002/80)(x_T - D): the mean, up to |x_T|/80^2",
          np.abs(few_res.samples[0] - one_step).max() < 1e-12,
          max_err=np.abs(few_res.samples[0] - one_step).max(),
          max_dist_to_mean=np.abs(few_res.samples[0]).max())
check("few steps stop between the points; the exact ODE reaches them",
      few_res.frac_near[0] < 0.05 and few_res.frac_near[-1] == 1.0,
      near_after_first=few_res.frac_near[0], near_exact=few_res.frac_near[-1])
for n, near in zip(few_cfg.steps, few_res.frac_near):
    print(f"{n} step(s): {near:6.1%} within {few_cfg.near} of a data point")

# %% [markdown]
# ## 1.6 Images become less and less averaged
#
# *Slide "1. Sampling from ideal diffusion model: "What about images?"".* Along a trajectory
# the denoiser output $D(x_\sigma, \sigma) = \sum_j \pi_j x_0^j$ is a mixture of training
# images. How mixed is measured by the posterior entropy
# $H(\pi) = -\sum_j \pi_j \ln \pi_j \in [0, \ln N]$: $\ln N$ when $D$ is the plain average of
# all $N$ images, 0 when it is one image. One trajectory on the digits:

# %%
track_cfg = mot.image_denoiser_track.Config()  # try: replace(track_cfg, seed=3) -- another digit
track_res = mot.image_denoiser_track.run(track_cfg)
mot.image_denoiser_track.plot(track_res)
plt.show()

H = track_res.entropy
i_pick = int(np.argmax(H < np.log(2)))  # first grid level with less than "two images" left
check("sigma = 80: D is the average of all images; sigma_min: one image",
      H[0] > np.log(track_res.n_points) - 0.05 and H[-1] < 1e-3,
      H_80=H[0], ln_N=np.log(track_res.n_points), H_min=H[-1])
check("the entropy falls along the trajectory (up to tiny wiggles)",
      np.diff(H).max() < 0.05, largest_rise=np.diff(H).max())
say("The digit is chosen late: the entropy is still {h10:.2f} nats at $\\sigma \\approx$ "
    "{s10:.3g} and first drops below $\\ln 2$ at $\\sigma$ = {sp:.3g}.",
    h10=H[int(np.argmin(np.abs(np.log(track_res.sigmas) - np.log(10))))],
    s10=track_res.sigmas[int(np.argmin(np.abs(np.log(track_res.sigmas) - np.log(10))))],
    sp=track_res.sigmas[i_pick])

# %% [markdown]
# ### 1.6b Memorising and generalising teachers
#
# The digits as a delta mixture are a **memorising** teacher: its exact ODE ends on a training
# image. Real image models generalise. A Gaussian mixture fitted to the same digits
# (`data.digits_gmm()`, committed parameters) has a closed-form denoiser too, but its exact ODE
# ends on **new** images. Both teachers, the same noises: whom $D$ averages over (the effective
# number of posterior components $e^{H}$), how much it still averages (the posterior spread
# $\sqrt{\operatorname{tr} \mathrm{Cov}[x_0 \mid x]}$, by Tweedie
# $\sigma^2\,\partial D/\partial x$),
# and few-step samples, each with the blur measure that fits its teacher (distance to the
# nearest training image for the delta mixture; the `detail` ratio for the mixture, below 1 when
# samples are averaged towards their component mean).

# %%
teach_cfg = teachers.Config()  # try: replace(teach_cfg, steps=(2, 8))
teach_res = teachers.run(teach_cfg)
teachers.plot(teach_res)
plt.show()

mem, gen = teach_res.runs["digits"], teach_res.runs["digits_gmm"]
k_few = max(teach_cfg.steps)
check("the memorising teacher's posterior collapses onto one training image",
      mem.eff_components[-1] < 1.01, eff_at_sigma_min=mem.eff_components[-1])
check("after that collapse the generaliser's D still averages",
      gen.spread_at(mem.collapse_sigma) > 10 * mem.spread_at(mem.collapse_sigma),
      collapse_sigma=mem.collapse_sigma)
check(f"{k_few} Euler steps: memoriser sharp (on a training image), generaliser blurred",
      mem.quality[("euler", k_few)].dist_to_data_median < 0.1 * gen.exact.dist_to_data_median
      and gen.quality[("euler", k_few)].detail < 0.9,
      memoriser_to_data=mem.quality[("euler", k_few)].dist_to_data_median,
      generaliser_detail=gen.quality[("euler", k_few)].detail)
say(teach_res.explain())

# %% [markdown]
# ## 1.7 Diffusion has curved trajectories
#
# *Slide "1. DMs speed are limited!: "Diffusion has curved trajectories"".* If
# $D(x(\sigma), \sigma)$ were the endpoint $x_{end}$ all along, the ODE
# $dx/d\sigma = (x - x_{end})/\sigma$ would give $x(\sigma) = x_{end} + (x_T -
# x_{end})\,\sigma/\sigma_T$: a **straight line at constant speed**, integrated exactly by one
# Euler step. That is the case of a single data point. For a single Gaussian
# $\mathcal N(\mu, s^2 I)$ the paths are still straight rays,
# $x(\sigma) = \mu + (x_T - \mu)\sqrt{s^2 + \sigma^2}/\sqrt{s^2 + \sigma_T^2}$, but $D$ slides
# along them and the speed varies. For a delta mixture $D$ moves from the mean to one data
# point (section 1.6): the paths bend. Measures: the **chord deviation**
# $\max_\sigma \operatorname{dist}(x(\sigma), [x_T, x_{end}])$ (0 iff straight) and the
# **drift** $|D(x(\sigma), \sigma) - x_{end}|$.

# %%
curved_cfg = mot.curved_trajectories.Config(n_paths=10)  # try: replace(curved_cfg, mixture="ring")
curved_res = mot.curved_trajectories.run(curved_cfg)
mot.curved_trajectories.plot(curved_res)
plt.show()

mix, gauss_case, point_case = curved_res.cases
moves = {c.title: np.ptp(c.drift, axis=0).max() for c in curved_res.cases}  # change of |D - x_end|
check("single point: straight, and D never moves", np.median(point_case.chord) < 1e-9
      and moves[point_case.title] < 1e-9, chord=np.median(point_case.chord),
      drift_change=moves[point_case.title])
check("single Gaussian: straight, but D slides along the ray", np.median(gauss_case.chord) < 1e-9
      and moves[gauss_case.title] > 0.1, chord=np.median(gauss_case.chord),
      drift_change=moves[gauss_case.title])
check("mixture: the paths bend", np.median(mix.chord) > 1e3 * max(np.median(gauss_case.chord),
      np.median(point_case.chord)), median_chord=np.median(mix.chord))
say("The {name} paths leave their chord by a median {c:.3g}: small against the chord "
    "(median length {L:.0f}, relative {rel:.1e}) but of the order of the data's scale, and "
    "late, where $D$ moves from the mean to one point (right panel).", name=curved_cfg.mixture,
    c=np.median(mix.chord), L=np.median(np.linalg.norm(mix.states[0] - mix.states[-1], axis=1)),
    rel=np.median(mix.chord_rel))

# %% [markdown]
# ## 1.8 Curved paths cost discretisation error — and few-step Heun
#
# *Slide "1. Why Diffusion Models are slow? (low capacity? solver error?)".* A solver of order
# $p$ with $n$ steps has a global error $\approx C\, n^{-p}$, with $C$ set by the derivatives
# of the path — zero for a straight line at constant speed. The figure measures
# $|x_n - x_{ODE}(\sigma_{\min})|$ against the DOP853 reference for Euler ($p = 1$),
# Heun ($p = 2$, 2 NFE per step) and DPM-Solver++(2M) ($p = 2$, 1 NFE per step):
# (a) Euler on a point, a Gaussian and the clusters; (b) every solver on the clusters;
# (c) few-step Heun with the exact $D$ against a smooth trained $D_\theta$ (section 1.9).
#
# **Few-step Heun is not "a bad solver".** Heun's corrector evaluates $D$ at the *end* of each
# step. On a 1-step grid that end is $\sigma_{\min} = 0.002$, reached by one predictor step
# from 80 that leaves $x'$ near an average of the data. There the exact $D$ is nearly
# discontinuous: $D(x', 0.002)$ is, to many digits, the nearest data point, so the corrector
# slope $(x' - D(x', \sigma))/\sigma$ is about *distance / 0.002*, and the trapezoid
# $x + h\,(d + d')/2$ multiplies it by **half** the step, $h/2 = (\sigma_{\min} -
# \sigma_{\max})/2$ (printed below). A smooth denoiser (the trained student, or a single
# Gaussian) has a slope of order 1 there, and the same grid gives a poor but bounded result.

# %%
err_cfg = mot.error_vs_steps.Config()  # try: replace(err_cfg, mixture="ring")
if FAST:
    small = replace(err_cfg.student, train=TrainConfig(steps=400, progress=False))
    err_cfg = replace(err_cfg, steps=(1, 2, 4, 8, 16, 32, 64), n_ref=100, n_noises=100,
                      student=small, student_steps=(1, 2, 4, 8))
err_res = mot.error_vs_steps.run(err_cfg)
mot.error_vs_steps.plot(err_res)
plt.show()

ke, kh = err_cfg.solvers.index("euler"), err_cfg.solvers.index("heun")
check("single point: every step count is exact (straight line, constant speed)",
      err_res.point_err_max[ke].max() < 1e-9, max_err=err_res.point_err_max[ke].max())
check(f"Euler is order ~1, Heun ~2 ({err_cfg.mixture}, fitted at n >= {err_cfg.fit_min_steps})",
      0.7 < err_res.mix_order[ke] < 1.6 and err_res.mix_order[kh] > 1.7,
      euler=err_res.mix_order[ke], heun=err_res.mix_order[kh])
check("1-step Heun: the exact D's corrector slope is ~distance/0.002; the student's is O(1)",
      err_res.corrector_slope[0] > 100 and err_res.student_slope[0] < 10,
      slope_exact=err_res.corrector_slope[0], slope_student=err_res.student_slope[0])
check("so 1-step Heun blows up with the exact D, not with the smooth student",
      err_res.heun_exact_err[0] > 100 * err_res.heun_student_err[0],
      err_exact=err_res.heun_exact_err[0], err_student=err_res.heun_student_err[0])
half_step = abs(SIGMA_MIN - SIGMA_MAX) / 2  # the trapezoid's weight of the corrector slope
say("With the exact $D$, one Heun step (NFE {n}) misses the ODE state by {e:.2g}: the slope "
    "{sl:.0f} times half the step, {hh:.0f}, is {prod:.2g}. With enough steps Heun's order "
    "pays off (fitted {o:.2f} on the {name}).", n=err_res.student_nfe[0],
    e=err_res.heun_exact_err[0], sl=err_res.corrector_slope[0], hh=half_step,
    prod=err_res.corrector_slope[0] * half_step, o=err_res.mix_order[kh], name=err_cfg.mixture)

# %% [markdown]
# ### 1.8b Few-step DPM-Solver++(2M): an extrapolation of a jump
#
# Panel (b) shows DPM-Solver++(2M), second order at 1 NFE per step, *behind* Euler at some
# few-step counts (the table below says which). Its step from $\sigma_i$ to $\sigma_{i+1}$
# uses an **extrapolated** denoiser value: with $h_i = \ln\sigma_i - \ln\sigma_{i+1}$,
# $$x_{i+1} = \tfrac{\sigma_{i+1}}{\sigma_i} x_i + \Big(1 - \tfrac{\sigma_{i+1}}{\sigma_i}\Big)
# \hat D, \qquad \hat D = (1 + c)\,D_i - c\,D_{i-1}, \quad c = \frac{h_i}{2 h_{i-1}},$$
# a straight-line extrapolation of $D$ in $\ln\sigma$: exact when $D$ changes smoothly. On a
# few-step grid the last step to $\sigma_{\min}$ is the longest in $\ln\sigma$, and
# $\sigma_{\min}/\sigma_{n-1}$ is tiny, so the sample is almost $\hat D$. But the exact $D$
# of a delta mixture **jumps** late (sections 1.4, 1.6): between the last two evaluations it
# moves from an average, or from one data point, to one data point. Extrapolating the jump
# throws the sample *past* the data point by $c$ times the jump: **overshoot**, not blur.
# A switch, `sample(..., "dpmpp_2m", last_first_order=True)`, makes the last step use $D_i$
# alone (first order, same NFE; diffusers calls it `lower_order_final`). The experiment
# measures both, with Euler, on the clusters and on the digits (its figure is
# `figures/dpm_overshoot.png`; here a table, to keep the notebook small).

# %%
dpm_cfg = dpm_overshoot.Config()  # try: replace(dpm_cfg, data=("ring",), steps=(2, 4, 8))
if FAST:
    dpm_cfg = replace(dpm_cfg, data=dpm_cfg.data[:1], n=100)
dpm_res = dpm_overshoot.run(dpm_cfg)  # the figure: figures/dpm_overshoot.png (dpm_overshoot.plot)
for name, run_ in dpm_res.runs.items():  # a table keeps this notebook under 1 MiB
    print(f"{name}: NFE | Euler | 2M | 2M, first-order last step (vs 2M, paired 95% CI) | "
          "c | jump | overshoot")
    for j, n in enumerate(dpm_cfg.steps):
        sw = run_.switch[j]
        print(f"  {n:2d} | {run_.err_euler[j]:.3g} | {run_.err_2m[j]:.3g} | "
              f"{run_.err_last1[j]:.3g} ({sw.verdict}, [{sw.lo:+.3g}, {sw.hi:+.3g}]) | "
              f"{run_.coef[j]:.2f} | {run_.jump[j]:.3g} | {run_.overshoot[j]:.3g}")

for name, run_ in dpm_res.runs.items():
    k_bad = int(np.argmax(run_.err_2m - run_.err_euler))
    n_bad = dpm_cfg.steps[k_bad]
    check(f"{name}: at NFE {n_bad} plain 2M is farther from the exact state than Euler",
          run_.err_2m[k_bad] > run_.err_euler[k_bad], dpm_2m=run_.err_2m[k_bad],
          euler=run_.err_euler[k_bad])
    q2, q1 = run_.quality_2m[k_bad], run_.quality_last1[k_bad]
    check(f"{name}, NFE {n_bad}: D changes its nearest data point between the last two "
          "evaluations for most noises, and the extrapolation ends farther from the data",
          run_.jump_basin[k_bad] > 0.5 and q2.dist_to_data_median > q1.dist_to_data_median,
          changed=run_.jump_basin[k_bad], to_data_2m=q2.dist_to_data_median,
          to_data_first_order_last=q1.dist_to_data_median)
    better = [n for n, c in zip(dpm_cfg.steps, run_.switch) if c.verdict == "beats"]
    check(f"{name}: the first-order last step beats plain 2M (paired 95% CI) at NFE {better}",
          len(better) > 0, n_beats=len(better), of=len(dpm_cfg.steps))
    say(dpm_res.explain(name, steps=n_bad))
    if dpm_cfg.steps[0] == 2:
        say("At NFE 2 the switch leaves no second-order step at all: it *is* Euler "
            "({e:.3g} against plain 2M's {m:.3g} on {name}), so there the comparison is "
            "Euler against one extrapolated step.", e=run_.err_last1[0], m=run_.err_2m[0],
            name=name)

# %% [markdown]
# ## 1.9 Is the averaging a lack of capacity? The denoiser student
#
# *Slides "1. Towards ideal approximation / 1. Ideal diffusion model".* Everything above used
# the exact $\mathbb{E}[x_0 \mid x]$. Does a real network trained with the diffusion loss
# learn something sharper? Train an MLP $D_\theta$ (EDM parameterisation and loss) on the
# clusters and compare it with the ideal denoiser: the error $|D_\theta - D|$ per $\sigma$,
# how far both outputs are from the data mean, and the outputs themselves.

# %%
sv_cfg = mot.student_vs_ideal.Config(student=err_cfg.student, n_plane=150)  # student of (c)
if FAST:
    sv_cfg = replace(sv_cfg, n_eval=500, n_sigmas=12)
sv_res = mot.student_vs_ideal.run(sv_cfg)
mot.student_vs_ideal.plot(sv_res)
plt.show()

top = -1  # sigma = 80
check("at sigma = 80 the student also returns (nearly) the data mean",
      sv_res.dist_mean_student[top] < 0.2 * sv_res.spread,
      student_to_mean=sv_res.dist_mean_student[top], ideal_to_mean=sv_res.dist_mean_ideal[top],
      data_spread=sv_res.spread)
band = (sv_res.sigmas >= sv_cfg.band[0]) & (sv_res.sigmas <= sv_cfg.band[1])
check("across the band it is close to E[x0|x]", np.max(sv_res.median[band]) < 0.3 * sv_res.spread,
      worst_median_err=np.max(sv_res.median[band]), data_spread=sv_res.spread)
say("Trained for {n} Adam steps, the student stays within a median {e:.3f} of $D$ across "
    "$\\sigma \\in [{lo:g}, {hi:g}]$ (data spread {sp:.2f}); at $\\sigma$ = 80 it is "
    "{st:.3f} from the data mean (the ideal: {id:.3f}). **It learned the average.**",
    n=sv_res.steps, e=np.max(sv_res.median[band]), lo=sv_cfg.band[0], hi=sv_cfg.band[1],
    sp=sv_res.spread, st=sv_res.dist_mean_student[top], id=sv_res.dist_mean_ideal[top])

# %% [markdown]
# And sampling with it? The **same** noises with $n$ Euler steps, with the student and with
# the exact denoiser. If the slowness were a lack of capacity, the network would have to
# behave *better* than the optimum; it behaves like it: few steps land between the points.

# %%
student = mot.denoiser_student.run(sv_cfg.student).student
den_s = ideal_denoiser(sv_cfg.student.data)  # the data set the student was trained on
ref_c = reference(sv_cfg.student.data, 100 if FAST else 400)
mean_c = den_s.data.weights @ den_s.data.points
STUDENT_STEPS = (1, 2, 3, 5, 10, 30)
rows = {}
print(f"{'steps':>5} {'NFE':>4} | {'dist. to data: student':>22} {'ideal':>6} | "
      f"{'same point: student':>19} {'ideal':>6}")
for n in STUDENT_STEPS:
    xs = sample(student, ref_c.x_T, sampling_grid(n), "euler")
    xi = sample(den_s, ref_c.x_T, sampling_grid(n), "euler")
    rows[n] = (xs, xi, measure(xs, ref_c), measure(xi, ref_c))
    ms, mi = rows[n][2], rows[n][3]
    print(f"{n:5d} {nfe('euler', sampling_grid(n)):4d} | {ms.dist_to_data_median:22.3f} "
          f"{mi.dist_to_data_median:6.3f} | {ms.same_basin:19.1%} {mi.same_basin:6.1%}")

fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharex=True, sharey=True)
for a, n in zip(axes, (1, 3, 30)):
    xs, xi = rows[n][:2]
    a.scatter(*den_s.data.points.T, s=600 * den_s.data.weights, facecolor="none", edgecolor="k")
    a.scatter(*xi.T, s=6, color="tab:blue", alpha=0.5, label="exact $D$")
    a.scatter(*xs.T, s=10, marker="x", color="tab:red", alpha=0.5, label="student $D_\\theta$")
    a.plot(*mean_c, "k+", ms=14, mew=2, label="data mean")
    a.set_title(f"{n} Euler step{'s' if n > 1 else ''} (NFE {n})")
    a.set_aspect("equal")
axes[0].set_xlim(-2.3, 2.3)
axes[0].set_ylim(-2.3, 2.3)
axes[0].legend(loc="lower left", fontsize=8)
fig.suptitle("Same noises, exact denoiser vs trained student: few steps average with both")
fig.tight_layout()
plt.show()

s1, i1, s30 = rows[1][2], rows[1][3], rows[30][2]
to_mean = np.median(np.linalg.norm(rows[1][0] - mean_c, axis=1))
check("1 student step lands near the data mean, as the exact D does",
      to_mean < 0.2 * sv_res.spread, student_1step_to_mean=to_mean, data_spread=sv_res.spread)
check("the student's 1-step samples are as far from the data as the optimum's, and far "
      "farther than its 30-step samples",
      s1.dist_to_data_median > 0.5 * i1.dist_to_data_median
      and s1.dist_to_data_median > 5 * s30.dist_to_data_median,
      student_1=s1.dist_to_data_median, ideal_1=i1.dist_to_data_median,
      student_30=s30.dist_to_data_median)
say("One step with the student lands {a:.3f} from the data (the optimum: {b:.3f}); 30 steps "
    "bring it to {c:.3f}. A network that fits the optimum inherits its slowness.",
    a=s1.dist_to_data_median, b=i1.dist_to_data_median, c=s30.dist_to_data_median)

# %% [markdown]
# The student is no sharper than its optimum (the distances to the data above), and it should
# not be: the loss it minimises is minimised by the average. A sharper network would have a
# *higher* diffusion loss (section 1.3). Its residual error at 30 steps is the network's
# approximation error ($D_\theta \ne D$), not an averaging effect.

# %% [markdown]
# ## 1.10 The lecture's chain, with our numbers
#
# *Why are DMs slow? → the optimal solution is an averaged sample → curved trajectories →
# discretisation error.* Each link was measured above; the cell collects the numbers from the
# variables of this notebook (edit a Config above and re-run to see them move).

# %%
print("1. averaged optimum:   predicting the nearest data point costs "
      f"+{excess['nearest data point'][0]:.3f} in loss (ring); the digit posterior keeps "
      f"{H[0]:.2f} of ln N = {np.log(track_res.n_points):.2f} nats at sigma = 80")
print(f"   a trained student:  1-step samples {s1.dist_to_data_median:.3f} from the data "
      f"(exact D: {i1.dist_to_data_median:.3f}) -- the averaging is learned, not a defect")
print(f"2. curved paths:       median chord deviation {np.median(mix.chord):.3f} "
      f"({curved_cfg.mixture}) vs {np.median(point_case.chord):.1e} (single point)")
print("3. discretisation:     digits, Euler, median distance to a training image: "
      + ", ".join(f"{n} steps {blur[n]:.3f}" for n in sorted(blur) if n in (3, 5, 7, 30)))
print(f"                       fitted orders on the {err_cfg.mixture}: "
      + ", ".join(f"{mot.LABELS[s]} {o:.2f}" for s, o in zip(err_cfg.solvers, err_res.mix_order)))

# %% [markdown]
# **Summary.** The slowness is a property of the **optimum**, not of the network or of the
# particular solver: the diffusion loss is minimised by an average, the average drifts along
# the path and bends it, and a solver needs many steps to follow a bent path. Hence the two
# ways out of the lecture: straighter trajectories (flow matching, rectified flows) or
# **distillation**, which trains $f_\phi(x, t) = x_0$ directly (notebooks 02–04: knowledge,
# consistency and multi-boundary consistency distillation; flow matching, rectified flows and
# progressive distillation are in notebook 05).

# %% [markdown]
# ## Exercises
#
# 1. **How many steps until the right data point?** On `"clusters"`, find for each solver the
#    smallest $n$ whose samples have the exact ODE state's nearest point for at least 90% of
#    the noises (`measure(...).same_basin`), and its NFE. Which solver gets there cheapest?
#    Then try `"ring"`: why is the fraction already 100% at one step there?
# 2. **A 0.1 / 0.9 split.** Derive the position $x^\star$ on the line where the two-delta
#    weights are 0.1 / 0.9, and check it with `IdealDenoiser(two_points()).posterior` (or
#    `mot.two_delta_averaging.run(replace(two_cfg, weight=0.9, ...))`) for several $\sigma$.
#    What happens to $x^\star$ as $\sigma \to 0$?
# 3. **When is the digit chosen?** For several noises (`replace(track_cfg, seed=...)`), find
#    the $\sigma$ at which the posterior entropy first drops below $\ln 2$, and compare it with
#    the typical distance between a training digit and its nearest neighbour.

# %%
# your attempt at exercise 1 (a start):
den_x = ideal_denoiser("clusters")
ref_x = reference("clusters", 100 if FAST else 400)
print("Euler, 8 steps:", measure(sample(den_x, ref_x.x_T, sampling_grid(8), "euler"), ref_x))

# %% [markdown]
# #### Solution 1 (hidden: click "cells hidden" below, or the arrow beside this heading, to open)

# %% tags=["solution"]
CANDIDATE_STEPS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96)
cheapest = {}
for solver in ("euler", "heun", "dpmpp_2m"):
    for n in CANDIDATE_STEPS:
        frac = measure(sample(den_x, ref_x.x_T, sampling_grid(n), solver), ref_x).same_basin
        if frac >= 0.9:
            cheapest[solver] = (n, nfe(solver, sampling_grid(n)), frac)
            break
for solver, (n, cost, frac) in cheapest.items():
    print(f"{mot.LABELS[solver]:>16}: n = {n:3d} steps, NFE {cost:3d}, same point {frac:.1%}")
check("exercise 1: a second-order solver needs fewer NFE than Euler",
      min(cheapest.get("heun", (0, 1e9))[1], cheapest.get("dpmpp_2m", (0, 1e9))[1])
      < cheapest.get("euler", (0, 1e9))[1], **{k: v[1] for k, v in cheapest.items()})
best = min(cheapest, key=lambda k: cheapest[k][1])
say("On the clusters, **{b}** is the first to reach 90% on this grid of step counts (NFE "
    "{c}). On the "
    "ring, 1 step already gives {r:.0%}: the 8 points are equal and symmetric, so the "
    "nearest point is set by the *angle* of $x_T$, which Euler steps keep nearly intact: "
    "'same point' says little there, which is why the clusters are asymmetric.",
    b=mot.LABELS[best], c=cheapest[best][1],
    r=measure(sample(den_r, reference("ring", 100).x_T, sampling_grid(1), "euler"),
              reference("ring", 100)).same_basin)

# %% [markdown]
# #### Solution 2 (hidden: click "cells hidden" below, or the arrow beside this heading, to open)

# %% tags=["solution"]
# log(pi2/pi1) = L x / sigma^2 for points at -L/2, +L/2, so pi2 = 0.9 at x* = sigma^2 ln(9) / L
L = two_cfg.distance
pair = IdealDenoiser(two_points(L))  # x^1 = (-L/2, 0), x^2 = (+L/2, 0)
for s in (2.0, 1.0, 0.5, 0.1, 0.01):
    x_star = s ** 2 * np.log(9) / L
    weights = pair.posterior(np.array([[x_star, 0.0]]), s)[0]
    r = mot.two_delta_averaging.run(replace(two_cfg, weight=0.9, sigma_star=s, sigmas=(s,)))
    print(f"sigma = {s:5g}: x* = {x_star:.6f} (experiment: {r.x_star:.6f}), "
          f"weights {weights[0]:.4f} / {weights[1]:.4f}")
check(f"exercise 2: at x* = sigma^2 ln(9)/{L:g} the weights are 0.1 / 0.9; x* -> 0 as sigma -> 0",
      np.allclose(weights, [0.1, 0.9], atol=1e-12) and abs(r.x_star - x_star) < 1e-12
      and x_star < 1e-3, x_star_at_smallest_sigma=x_star)
say("As $\\sigma \\to 0$ the 0.1 / 0.9 point moves to the midpoint: the weights switch from "
    "one point to the other over a band of width $O(\\sigma^2)$, and $D$ becomes the "
    "nearest-point map, a step function (the $\\sigma \\to 0$ limit, `nearest_point`).")

# %% [markdown]
# #### Solution 3 (hidden: click "cells hidden" below, or the arrow beside this heading, to open)

# %% tags=["solution"]
picked = []
for seed in range(3 if FAST else 8):
    r = mot.image_denoiser_track.run(replace(track_cfg, seed=seed, steps=32))
    picked.append(r.sigmas[int(np.argmax(r.entropy < np.log(2)))])
digit_pts = dataset("digits").points
sqn = (digit_pts ** 2).sum(1)
gram = sqn[:, None] + sqn[None] - 2 * digit_pts @ digit_pts.T
np.fill_diagonal(gram, np.inf)
nn_dist = np.sqrt(np.maximum(gram.min(axis=1), 0))  # each digit to its nearest neighbour
print("sigma where H < ln 2:", np.round(picked, 3))
ratio = np.median(picked) / np.median(nn_dist)
check("exercise 3: the digit is chosen at sigma of the order of the nearest-neighbour spacing",
      0.05 < ratio < 2, ratio=ratio)
say("The digit is chosen at $\\sigma$ = {lo:.2g} to {hi:.2g} (median {med:.2g}), while a training "
    "digit's nearest neighbour is typically {nn:.2f} away: the choice happens when $\\sigma$ falls "
    "to a fraction ({frac:.2f}) of the spacing between images, {pct:.1%} of $\\sigma_{{max}}$: "
    "the choice, and with it the turn of the path, comes at the very end of sampling.",
    lo=min(picked), hi=max(picked), med=np.median(picked), nn=np.median(nn_dist),
    frac=np.median(picked) / np.median(nn_dist), pct=np.median(picked) / SIGMA_MAX)

# %% [markdown]
# #### End of the exercises
