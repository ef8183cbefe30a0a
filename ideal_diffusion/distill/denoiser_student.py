"""The denoiser student (lecture rows 3-5): "what if our network perfectly approximates E[x0 | x]?"

An EDM-preconditioned MLP ``D_theta(x, sigma) = c_skip x + c_out F(c_in x, sigma)`` is trained with
the EDM diffusion loss on samples of a delta mixture,

    L(theta) = E_{ln sigma ~ N(P_mean, P_std^2)} E_{x0 ~ p_data, eps ~ N(0, I)}
               lambda(sigma) |D_theta(x0 + sigma eps, sigma) - x0|^2 / d,
    lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2,

(P_mean = -1.2, P_std = 1.2, as in EDM) and compared with the ideal denoiser
``D(x, sigma) = E[x0 | x]``, the exact minimiser of the same loss. The lesson: a well-trained
student reproduces the *averaging* of the optimum (at large sigma both return the data mean),
so the slowness of few-step sampling is in the optimum, not in the network.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as _v
from .._rng import as_rng
from ..nn import EDMPrecond, Model, Optimiser, TrainConfig, fit, make_net
from ..schedules import SIGMA_MAX, SIGMA_MIN

__all__ = ["DenoiserStudent", "train_denoiser_student", "student_error_by_sigma",
           "edm_loss_and_grad", "P_MEAN", "P_STD"]

P_MEAN, P_STD = -1.2, 1.2


def edm_loss_and_grad(model, x0, sigma, eps):
    """EDM loss of a batch and its gradient; fills ``model.net.grad``.

    Parameters
    ----------
    model : Model
        With an :class:`~ideal_diffusion.nn.EDMPrecond` parameterisation.
    x0 : (B, d) array
        Clean samples.
    sigma : (B,) array, > 0
    eps : (B, d) array
        Standard normal noise; the network sees ``x = x0 + sigma eps``.

    Returns
    -------
    loss : float
        ``mean_B lambda(sigma) |D_theta(x, sigma) - x0|^2 / d``.
    """
    B, d = x0.shape
    sd = model.param.sigma_data
    lam = (sigma ** 2 + sd ** 2) / (sigma * sd) ** 2
    x = x0 + sigma[:, None] * eps
    r = model.forward(x, sigma) - x0
    w = lam[:, None] / (B * d)
    loss = float(np.sum(w * r * r))
    model.backward(2.0 * w * r, need_input_grad=False)
    return loss


@dataclass
class DenoiserStudent:
    """A trained denoiser student; ``student(x, sigma)`` is D_theta(x, sigma).

    Attributes
    ----------
    model : Model
        ``Model(MLP, EDMPrecond(sigma_data))`` (the EMA weights when ``train.ema > 0``).
    history : (steps,) array
        Loss per step.
    train : TrainConfig
        The optimiser settings it was trained with.
    """

    model: Model
    history: np.ndarray
    train: TrainConfig

    def __call__(self, x, sigma):
        """D_theta(x, sigma) (one BLAS thread).

        Parameters
        ----------
        x : (B, d) array
        sigma : float or (B,) array, > 0

        Returns
        -------
        (B, d) array
        """
        return self.model(x, sigma)


def train_denoiser_student(data, train: TrainConfig = TrainConfig(),  # noqa: B008 (frozen)
                           *, hidden: int | None = None, depth: int | None = None,
                           emb_dim: int | None = None, activation: str | None = None,
                           net=None, sigma_data=0.5, dtype=np.float64, wide_frac=0.0,
                           sigma_range=(SIGMA_MIN, SIGMA_MAX)) -> DenoiserStudent:
    """Train ``D_theta`` on ``data`` with the EDM diffusion loss (seeded, a few seconds).

    Parameters
    ----------
    data : DeltaMixture (anything with ``.sample(n, rng) -> (n, d)``)
    train : TrainConfig
        Steps, batch (each sample gets its own sigma ~ exp(N(P_MEAN, P_STD^2)) and noise),
        Adam (peak lr, warm-up clamped to the steps, cosine decay, clipping, weight decay),
        the one seed of the initial weights and every batch (same seed, bit-identical
        parameters), the progress bar, the divergence bounds; ``train.ema > 0`` returns the
        EMA of the weights.
    hidden, depth, emb_dim, activation : optional
        The network (:func:`~ideal_diffusion.nn.make_net`); None: ``nn.NET_DEFAULTS``, except
        ``hidden``, which defaults to 64 here.
    net : MLP, optional
        An injected network (copied), instead of a fresh one.
    sigma_data : float
        EDM preconditioning constant, > 0.
    dtype : float64 or float32
    wide_frac : float in [0, 1]
        Fraction of each batch whose sigma is drawn log-uniformly on ``sigma_range`` instead of
        from EDM's log-normal (which puts only ~3% of its mass above sigma = 5 and ~0.02% above
        sigma = 20, so a pure-EDM student extrapolates at large sigma). 0 is the EDM loss exactly.
    sigma_range : (float, float)
        Range of the log-uniform part, 0 < low < high < inf.

    Returns
    -------
    DenoiserStudent

    Raises
    ------
    TypeError
        If ``train`` is not a TrainConfig, ``wide_frac`` not a real number or
        ``sigma_range`` not a pair of real numbers.
    ValueError
        On bad sizes, ``wide_frac`` outside [0, 1] or ``sigma_range`` not 0 < low < high.
    FloatingPointError
        When training diverges (the message names the step, the loss and the cause).
    """
    if not isinstance(train, TrainConfig):
        raise TypeError(f"train must be a TrainConfig, got {type(train).__name__}")
    wide_frac = _v.real(wide_frac, "wide_frac", 0.0, 1.0)
    if not isinstance(sigma_range, (tuple, list)) or len(sigma_range) != 2:
        raise TypeError(f"sigma_range must be a pair (low, high), got {sigma_range!r}")
    lo = _v.real(sigma_range[0], "sigma_range[0]", 0.0, lo_open=True)
    hi = _v.real(sigma_range[1], "sigma_range[1]", lo, lo_open=True)
    batch = train.batch
    n_wide = int(round(wide_frac * batch))
    rng = as_rng(train.seed)
    d = int(np.asarray(data.sample(1, np.random.default_rng(0))).shape[1])
    if net is None and hidden is None:
        hidden = 64
    net = make_net(d, rng, net=net, hidden=hidden, depth=depth, emb_dim=emb_dim,
                   activation=activation, dtype=dtype)
    model = Model(net, EDMPrecond(sigma_data))
    opt = Optimiser(net.theta, train)

    def step(i):
        x0 = data.sample(batch, rng)
        sigma = np.exp(np.concatenate([rng.normal(P_MEAN, P_STD, batch - n_wide),
                                       rng.uniform(np.log(lo), np.log(hi), n_wide)]))
        eps = rng.standard_normal(x0.shape)
        loss = edm_loss_and_grad(model, x0, sigma, eps)
        opt.step(i, net.grad)
        return loss

    history = fit(step, train, desc="denoiser student", params=net.theta)
    opt.finish()
    return DenoiserStudent(model, history, train)


def student_error_by_sigma(model, data, sigmas, n=2000, rng=0, denoiser=None):
    """Distance between the student and the ideal denoiser on noisy data, per sigma.

    For each sigma, ``x = x0 + sigma eps`` with ``x0 ~ data`` (n samples): the typical inputs at
    that noise level.

    Parameters
    ----------
    model : Model or DenoiserStudent
        The student ``D_theta`` (any callable ``model(x, sigma)``).
    data : DeltaMixture
    sigmas : (S,) array, > 0
    n : int
        Samples per sigma.
    rng : int or numpy.random.Generator
    denoiser : callable, optional
        ``D(x, sigma)``; default ``IdealDenoiser(data)``.

    Returns
    -------
    dict with (S,) arrays
        ``rms``: sqrt(mean |D_theta - D|^2); ``median``: median |D_theta - D|;
        ``dist_mean_ideal`` / ``dist_mean_student``: mean |D - mean(data)| and
        |D_theta - mean(data)| (how far each is from the averaged answer).
    """
    if denoiser is None:
        from ..denoiser import IdealDenoiser

        denoiser = IdealDenoiser(data)
    rng = as_rng(rng)
    sigmas = _v.real_array(sigmas, "sigmas", ndim=1)
    if np.any(sigmas <= 0):
        raise ValueError(f"sigmas must be > 0, got {sigmas[sigmas <= 0][:3]}")
    mean = _data_mean(data)
    keys = ("rms", "median", "dist_mean_ideal", "dist_mean_student")
    out = {k: np.empty(sigmas.size) for k in keys}
    for i, s in enumerate(sigmas):
        x = data.sample(n, rng) + s * rng.standard_normal((n, mean.size))
        D = denoiser(x, s)
        Dt = model(x, s)
        err = np.linalg.norm(Dt - D, axis=1)
        out["rms"][i] = np.sqrt(np.mean(err ** 2))
        out["median"][i] = np.median(err)
        out["dist_mean_ideal"][i] = np.mean(np.linalg.norm(D - mean, axis=1))
        out["dist_mean_student"][i] = np.mean(np.linalg.norm(Dt - mean, axis=1))
    return out


def _data_mean(data):
    points = np.asarray(data.points, dtype=np.float64)
    weights = getattr(data, "weights", None)
    if weights is None:
        return points.mean(axis=0)
    return np.asarray(weights, dtype=np.float64) @ points
