"""The one training setup: a :class:`TrainConfig`, the network factory :func:`make_net`, the
optimiser :class:`Optimiser` (Adam, learning-rate schedule, EMA), and the loop :func:`fit`.

Every trainer of :mod:`ideal_diffusion.distill` builds its network with :func:`make_net` (or
takes an injected ``net=``) and its optimiser with :class:`Optimiser` from the one
:class:`TrainConfig`; nothing else builds an Adam or an EMA.

Every student of the toolkit (the denoiser student, KD, CD, multi-boundary CD, and the later
ones) is trained by a step function ``step(i) -> loss`` run by :func:`fit`, which

* holds BLAS to one thread (:func:`~ideal_diffusion.nn.threads.blas_threads`): the networks
  are tiny, and the result is then bit-identical whatever the environment's thread variables;
* shows a tqdm bar in interactive use, and none under CI or pytest;
* keeps the loss history;
* stops with :class:`FloatingPointError`, naming the step, the loss and the cause, when the loss
  is not finite, when it grows far beyond its running minimum, or when the parameters blow past
  a bound (a diverging run never "finishes").
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass

import numpy as np

from .. import _validate as _v
from .mlp import MLP
from .optim import EMA, Adam, lr_schedule
from .threads import blas_threads

__all__ = ["DISPLAY_FIELDS", "NET_DEFAULTS", "Optimiser", "TrainConfig", "fit", "make_net"]

#: the students' network when a trainer is given no architecture (see :func:`make_net`)
NET_DEFAULTS = {"hidden": 128, "depth": 3, "emb_dim": 16, "activation": "silu"}


#: TrainConfig fields that only change what is shown (the progress bar), never the trained bits:
#: not part of a student's identity or name
DISPLAY_FIELDS = ("progress",)


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of one training run (frozen: hashable, usable as a cache key).

    Attributes
    ----------
    steps : int >= 1
        Optimiser steps.
    batch : int >= 1
        Samples per step.
    lr : float > 0
        Peak learning rate (linear warm-up, then cosine decay to 0).
    warmup : int >= 0
        Warm-up steps; clamped to ``steps`` (``effective_warmup``).
    ema : float in [0, 1]
        EMA decay of the averaged parameters: for CD the target network phi^- (0: a
        stop-gradient copy), for regression students the weights used at evaluation (0: none).
    weight_decay : float >= 0
        Decoupled (AdamW) weight decay.
    clip_norm : float > 0 or None
        Global gradient-norm clipping.
    seed : int >= 0
        The one seed of the initial weights and of every batch.
    progress : bool or None
        tqdm bar; None means: only in interactive use (stderr is a terminal, and neither
        ``CI`` nor ``PYTEST_CURRENT_TEST`` is set).
    max_param_rms : float > 0
        Divergence bound on the root-mean-square parameter (a fresh network has about 0.1).
    loss_growth : float > 1
        Divergence bound: the smoothed loss may not exceed this multiple of its running minimum.
    """

    steps: int = 2000
    batch: int = 256
    lr: float = 3e-3
    warmup: int = 100
    ema: float = 0.0
    weight_decay: float = 0.0
    clip_norm: float | None = 1.0
    seed: int = 0
    progress: bool | None = None
    max_param_rms: float = 100.0
    loss_growth: float = 1e4

    def __post_init__(self):
        """Check every field and store it converted (ints as int, floats as float).

        Raises
        ------
        TypeError
            A field of the wrong type (a bool or a string where a number is meant, a float
            where an integer is meant).
        ValueError
            A field outside its range (the message names the field and the range).
        """
        conv = {
            "steps": _v.integer(self.steps, "steps", 1),
            "batch": _v.integer(self.batch, "batch", 1),
            "lr": _v.real(self.lr, "lr", 0.0, math.inf, lo_open=True),
            "warmup": _v.integer(self.warmup, "warmup", 0),
            "ema": _v.real(self.ema, "ema", 0.0, 1.0),
            "weight_decay": _v.real(self.weight_decay, "weight_decay", 0.0, math.inf),
            "clip_norm": (None if self.clip_norm is None else
                          _v.real(self.clip_norm, "clip_norm", 0.0, math.inf, lo_open=True)),
            "seed": _v.integer(self.seed, "seed", 0),
            "max_param_rms": _v.real(self.max_param_rms, "max_param_rms", 0.0, math.inf,
                                     lo_open=True),
            "loss_growth": _v.real(self.loss_growth, "loss_growth", 1.0, math.inf,
                                   lo_open=True),
        }
        if not (self.progress is None or isinstance(self.progress, (bool, np.bool_))):
            raise TypeError(f"progress must be None, True or False, got {self.progress!r}")
        conv["progress"] = None if self.progress is None else bool(self.progress)
        for name, value in conv.items():
            object.__setattr__(self, name, value)

    @property
    def effective_warmup(self) -> int:
        """``warmup`` clamped to ``steps``."""
        return min(self.warmup, self.steps)

    def lr_at(self, step: int) -> float:
        """The learning rate of ``step``: linear warm-up, then cosine decay to 0."""
        return lr_schedule(step, self.lr, self.effective_warmup, self.steps)

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (``dataclasses.replace``)."""
        from dataclasses import replace

        return replace(self, **changes)


def make_net(in_dim: int, rng=0, *, net=None, hidden=None, depth=None, emb_dim=None,
             activation=None, dtype=np.float64) -> MLP:
    """The one factory of the students' networks: a fresh :class:`MLP`, or an injected one.

    Parameters
    ----------
    in_dim : int >= 1
        Data features (the network maps ``(B, in_dim)`` to ``(B, in_dim)``).
    rng : numpy.random.Generator or int
        Source of the initial weights (a Generator is advanced: the trainers then draw their
        batches from the same stream).
    net : MLP, optional
        An injected network (e.g. a warm start or a custom architecture). It is copied, so
        training never changes the caller's object; ``rng`` is then not used.
    hidden, depth, emb_dim, activation : optional
        The architecture; None takes :data:`NET_DEFAULTS` (128, 3, 16, "silu"). With ``net``
        a value that is given must agree with the net's own.
    dtype : float64 or float32 (fresh networks only)

    Returns
    -------
    MLP, ``in_dim`` inputs and outputs

    Raises
    ------
    TypeError
        If ``net`` is not an MLP.
    ValueError
        On a bad architecture, or an injected net whose size or architecture disagrees.
    """
    arch = {"hidden": hidden, "depth": depth, "emb_dim": emb_dim, "activation": activation}
    if net is None:
        arch = {k: NET_DEFAULTS[k] if v is None else v for k, v in arch.items()}
        return MLP(in_dim, hidden=arch["hidden"], depth=arch["depth"], emb_dim=arch["emb_dim"],
                   activation=arch["activation"], rng=rng, dtype=dtype)
    if not isinstance(net, MLP):
        raise TypeError(f"net must be an ideal_diffusion.nn.MLP, got {type(net).__name__}")
    if net.in_dim != in_dim or net.out_dim != in_dim:
        raise ValueError(f"net must map {in_dim} features to {in_dim}, "
                         f"got in_dim={net.in_dim}, out_dim={net.out_dim}")
    for key, value in arch.items():
        if value is not None and value != getattr(net, key):
            raise ValueError(f"{key}={value!r} disagrees with the injected net's "
                             f"{key}={getattr(net, key)!r}; leave it None")
    return net.copy()


class Optimiser:
    """Adam with the :class:`TrainConfig` schedule, and the EMA of the parameters.

    Built from the one TrainConfig: Adam (peak ``lr``, ``weight_decay``, ``clip_norm``), the
    learning rate of step i (:meth:`TrainConfig.lr_at`: warm-up, then cosine decay) and the EMA
    of decay ``train.ema``.

    Parameters
    ----------
    theta : (P,) float array
        The parameters, updated in place by :meth:`step`.
    train : TrainConfig
    target : bool
        True: the EMA is a target network (consistency distillation) and is kept even for
        ``train.ema == 0`` (then a stop-gradient copy of theta). False: the EMA exists only
        when ``train.ema > 0`` and holds the weights a regression student is evaluated with
        (:meth:`finish` copies them into theta).

    Attributes
    ----------
    adam : Adam
    ema : EMA or None
    """

    def __init__(self, theta, train: TrainConfig, target: bool = False):
        if not isinstance(train, TrainConfig):
            raise TypeError(f"train must be a TrainConfig, got {type(train).__name__}")
        self.theta = theta
        self.train = train
        self.adam = Adam(theta, lr=train.lr, weight_decay=train.weight_decay,
                         clip_norm=train.clip_norm)
        self.ema = EMA(theta, train.ema) if (target or train.ema > 0) else None

    def step(self, i: int, grad) -> None:
        """Adam step ``i`` (0-based) on ``theta`` at the scheduled rate, then the EMA update."""
        self.adam.step(self.theta, grad, self.train.lr_at(i))
        if self.ema is not None:
            self.ema.update(self.theta)

    def finish(self) -> None:
        """Load the EMA weights into theta (no-op without an EMA): a regression student's end."""
        if self.ema is not None:
            self.theta[...] = self.ema.theta


def interactive() -> bool:
    """True when a progress bar helps: stderr is a terminal and we are not under CI or pytest."""
    if os.environ.get("CI") or os.environ.get("PYTEST_CURRENT_TEST"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _diverged(desc, step, loss, cause):
    where = f"{desc}: " if desc else ""
    return FloatingPointError(
        f"{where}training diverged at step {step} (loss {loss:.6g}): {cause}; "
        "lower the learning rate")


def fit(step_fn, steps, progress=None, desc: str = "", params=None,
        max_param_rms: float = 100.0, loss_growth: float = 1e4, postfix_every: int = 10,
        threads: int | None = 1) -> np.ndarray:
    """Call ``step_fn(step)`` for ``step = 0 .. steps - 1`` and collect the losses.

    Parameters
    ----------
    step_fn : callable
        ``step_fn(step) -> float``: one optimisation step (draw a seeded batch, forward,
        backward, optimiser update) returning the batch loss.
    steps : int >= 0, or a :class:`TrainConfig`
        Number of steps; a TrainConfig also supplies ``progress``, ``max_param_rms`` and
        ``loss_growth``.
    progress : bool or None
        tqdm bar (None: :func:`interactive`).
    desc : str
        Bar label and prefix of error messages.
    params : (P,) array, optional
        The parameter vector, checked against ``max_param_rms`` after every step.
    max_param_rms : float
        Divergence bound on sqrt(mean(params^2)).
    loss_growth : float
        Divergence bound: after 20 steps, the loss smoothed over ~10 steps may not exceed
        ``loss_growth`` times its running minimum.
    threads : int or None
        BLAS threads inside the loop (default 1; None leaves them unchanged).

    Returns
    -------
    history : (steps,) float64 array
        The loss of every step.

    Raises
    ------
    FloatingPointError
        When the loss is not finite, grows past ``loss_growth`` times its running minimum, or
        the parameters' RMS passes ``max_param_rms``; the message names the step, the loss, the
        cause (and the last finite loss).
    """
    if isinstance(steps, TrainConfig):
        cfg = steps
        steps = cfg.steps
        progress = cfg.progress if progress is None else progress
        max_param_rms, loss_growth = cfg.max_param_rms, cfg.loss_growth
    steps = _v.integer(steps, "steps", 0)
    show = interactive() if progress is None else bool(progress)
    history = np.empty(steps, dtype=np.float64)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=desc, leave=False, dynamic_ncols=True)
    last_ok = None
    smooth, best = None, math.inf
    try:
        with blas_threads(threads):
            for step in range(steps):
                loss = float(step_fn(step))
                if not math.isfinite(loss):
                    prev = ("no finite loss before it" if last_ok is None
                            else f"last finite loss {last_ok[1]:.6g} at step {last_ok[0]}")
                    raise _diverged(desc, step, loss, f"the loss is not finite ({prev})")
                history[step] = loss
                last_ok = (step, loss)
                smooth = loss if smooth is None else 0.9 * smooth + 0.1 * loss
                if step >= 20:
                    if smooth > loss_growth * best:
                        raise _diverged(desc, step, loss,
                                        f"the smoothed loss {smooth:.6g} grew past {loss_growth:g}"
                                        f" x its running minimum {best:.6g}")
                    best = min(best, smooth)
                if params is not None:
                    rms = math.sqrt(float(np.dot(params, params)) / params.size)
                    if not rms <= max_param_rms:
                        raise _diverged(desc, step, loss,
                                        f"the parameters' RMS {rms:.6g} passed the bound "
                                        f"{max_param_rms:g}")
                if bar is not None:
                    if step % postfix_every == 0 or step == steps - 1:
                        bar.set_postfix_str(f"loss={loss:.4g}", refresh=False)
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return history
