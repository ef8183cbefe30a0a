"""Adam on a flat parameter vector, a learning-rate schedule, and an EMA of parameters.

All three work on flat 1-D vectors (``MLP.theta`` / ``MLP.grad``) with preallocated buffers and
in-place updates: one step is a dozen vectorised operations over the P parameters, with no
temporaries.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _validate as _v

__all__ = ["Adam", "lr_schedule", "EMA"]


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction, decoupled weight decay and norm clipping.

    For gradient ``g`` at step ``t = 1, 2, ...``::

        g   <- g * min(1, clip_norm / ||g||_2)                 (if clip_norm is set)
        m   <- b1 m + (1 - b1) g
        v   <- b2 v + (1 - b2) g^2
        theta <- theta (1 - lr wd)                            (AdamW-style, if weight_decay > 0)
        theta <- theta - lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps)

    Parameters
    ----------
    theta : int or (P,) array
        Number of parameters P, or the parameter vector (only its size and dtype are used).
    lr : float, > 0 (finite)
    betas : (float, float), each in [0, 1)
    eps : float, > 0
    weight_decay : float, >= 0
        Decoupled weight decay (multiplies theta by ``1 - lr * weight_decay`` each step).
    clip_norm : float, optional, > 0
        Clip the global L2 norm of the gradient to this value (the caller's ``grad`` is not
        modified; the scale is folded into the moment updates).
    dtype : numpy dtype, optional
        Dtype of the moment buffers (default: that of ``theta``, or float64 for an int).

    Attributes
    ----------
    t : int
        Steps taken. ``m``, ``v`` : (P,) moment buffers. ``last_grad_norm`` : float or None.
    """

    def __init__(self, theta, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 clip_norm=None, dtype=None):
        if isinstance(theta, (int, np.integer)) and not isinstance(theta, bool):
            size, dt = int(theta), np.float64
        else:
            theta = np.asarray(theta)
            if theta.ndim != 1:
                raise ValueError(f"theta must be a flat 1-D vector, got shape {theta.shape}")
            size, dt = theta.size, theta.dtype
        if size < 1:
            raise ValueError(f"theta size must be >= 1, got {size}")
        self.lr = _check_lr(lr)
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}") from None
        b1 = _check_real(b1, "betas[0]", lambda v: 0 <= v < 1, "[0, 1)")
        b2 = _check_real(b2, "betas[1]", lambda v: 0 <= v < 1, "[0, 1)")
        self.eps = _check_real(eps, "eps", lambda v: v > 0, "(0, inf)")
        self.betas = (b1, b2)
        self.weight_decay = _check_real(weight_decay, "weight_decay", lambda v: v >= 0,
                                        "[0, inf)")
        self.clip_norm = None if clip_norm is None else _check_real(
            clip_norm, "clip_norm", lambda v: v > 0, "(0, inf) or None")
        dt = np.dtype(dt if dtype is None else dtype)
        self.m = np.zeros(size, dt)
        self.v = np.zeros(size, dt)
        self._tmp = np.empty(size, dt)
        self.t = 0
        self.last_grad_norm = None

    def step(self, theta, grad, lr=None):
        """One Adam update of ``theta`` in place.

        Parameters
        ----------
        theta : (P,) array
            Updated in place.
        grad : (P,) array
            d loss / d theta (not modified).
        lr : float, optional
            Learning rate for this step (e.g. from :func:`lr_schedule`), >= 0 (a schedule may
            reach 0 at its end); default ``self.lr``.

        Returns
        -------
        theta : the same array

        Raises
        ------
        FloatingPointError
            If ``grad`` has a NaN or an infinite entry (``theta`` is then left unchanged).
        """
        if theta.shape != self.m.shape or grad.shape != self.m.shape:
            raise ValueError(f"theta and grad must have shape {self.m.shape}, "
                             f"got {theta.shape} and {grad.shape}")
        lr = self.lr if lr is None else _check_lr(lr, allow_zero=True)
        sq = float(np.dot(grad, grad))
        if not math.isfinite(sq):
            bad = int(np.count_nonzero(~np.isfinite(grad)))
            where = (f"{bad} non-finite entries" if bad
                     else "finite entries whose squared norm overflows")
            raise FloatingPointError(
                f"Adam step {self.t + 1}: the gradient is not finite ({where}); theta is left "
                "unchanged")
        b1, b2 = self.betas
        m, v, tmp = self.m, self.v, self._tmp
        self.t += 1
        scale = 1.0
        if self.clip_norm is not None:
            norm = math.sqrt(sq)
            self.last_grad_norm = norm
            if norm > self.clip_norm:
                scale = self.clip_norm / norm
        # m <- b1 m + (1 - b1) g ; v <- b2 v + (1 - b2) g^2   (scale folded in)
        m *= b1
        np.multiply(grad, (1 - b1) * scale, out=tmp)
        m += tmp
        v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= (1 - b2) * scale * scale
        v += tmp
        # theta -= lr / bc1 * m / (sqrt(v / bc2) + eps), as
        # theta -= (lr sqrt(bc2) / bc1) * m / (sqrt(v) + eps sqrt(bc2))  (one pass fewer)
        bc1 = 1.0 - b1 ** self.t
        root_bc2 = math.sqrt(1.0 - b2 ** self.t)
        np.sqrt(v, out=tmp)
        tmp += self.eps * root_bc2
        np.divide(m, tmp, out=tmp)
        tmp *= lr * root_bc2 / bc1
        if self.weight_decay:
            theta *= 1.0 - lr * self.weight_decay
        theta -= tmp
        return theta

    def state_dict(self) -> dict:
        return {"m": self.m.copy(), "v": self.v.copy(), "t": self.t}


def _check_lr(lr, allow_zero=False):
    """``lr`` as a float: finite and > 0 (>= 0 for one scheduled step, when allow_zero).
    TypeError if it is not a real number, ValueError if it is out of range."""
    return _v.real(lr, "lr", 0.0, lo_open=not allow_zero)


def _check_real(value, name, ok, allowed):
    """``value`` as a float with ``ok(value)`` true (``allowed`` says where, in words).
    TypeError if it is not a real number, ValueError if it is not finite or not allowed."""
    if not _v.is_real(value):
        raise TypeError(f"{name} must be a real number in {allowed}, got "
                        f"{type(value).__name__} {value!r}")
    v = float(value)
    if not (math.isfinite(v) and ok(v)):
        raise ValueError(f"{name} must be finite and in {allowed}, got {value!r}")
    return v


def lr_schedule(step, base_lr, warmup, total, kind="cosine", min_lr=0.0) -> float:
    """Learning rate at ``step``: linear warm-up, then cosine decay or constant.

    ``lr = base_lr (step + 1) / warmup`` for ``step < warmup``; afterwards ``base_lr`` (constant)
    or ``min_lr + (base_lr - min_lr) (1 + cos(pi p)) / 2`` with
    ``p = (step - warmup) / max(1, total - warmup)`` clipped to [0, 1] (cosine).

    Parameters
    ----------
    step : int, >= 0
    base_lr : float, > 0
    warmup : int, >= 0
    total : int, >= warmup
        Total number of steps (the cosine reaches ``min_lr`` at ``step = total``).
    kind : {"cosine", "constant"}
    min_lr : float, in [0, base_lr]
    """
    if kind not in ("cosine", "constant"):
        raise ValueError(f"kind must be 'cosine' or 'constant', got {kind!r}")
    if step < 0 or warmup < 0 or total < warmup:
        raise ValueError(f"need step >= 0, warmup >= 0 and total >= warmup; "
                         f"got step={step}, warmup={warmup}, total={total}")
    if not base_lr > 0 or not 0 <= min_lr <= base_lr:
        raise ValueError(f"need base_lr > 0 and 0 <= min_lr <= base_lr, got {base_lr}, {min_lr}")
    if step < warmup:
        return base_lr * (step + 1) / warmup
    if kind == "constant":
        return float(base_lr)
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * p))


class EMA:
    """Exponential moving average of a flat parameter vector (the target network).

    ``update(theta)``: ``target <- mu * target + (1 - mu) * theta``. With ``mu = 0`` the target
    equals the online parameters exactly (stop-gradient target, ``0 * target + 1 * theta``).

    Parameters
    ----------
    theta : (P,) array
        Initial parameters (copied).
    mu : float, in [0, 1]
        Decay. ``mu = 1`` freezes the target.

    Attributes
    ----------
    theta : (P,) array
        The averaged parameters (pass to ``Model.__call__(..., theta=ema.theta)``).
    """

    def __init__(self, theta, mu):
        mu = _check_real(mu, "mu", lambda v: 0.0 <= v <= 1.0, "[0, 1]")
        theta = np.asarray(theta)
        if theta.ndim != 1:
            raise ValueError(f"theta must be a flat 1-D vector, got shape {theta.shape}")
        if not np.issubdtype(theta.dtype, np.floating):
            raise ValueError(f"theta must be a floating-point vector, got dtype {theta.dtype}")
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta must be finite (it has NaN or infinite entries)")
        self.mu = mu
        self.theta = theta.copy()
        self._tmp = np.empty_like(self.theta)

    def update(self, theta):
        """Fold online parameters ``theta`` into the average (in place); return ``self.theta``.

        Raises
        ------
        ValueError
            If ``theta`` has the wrong shape.
        FloatingPointError
            If ``theta`` has a NaN or an infinite entry (the average is left unchanged).
        """
        theta = np.asarray(theta)
        if theta.shape != self.theta.shape:
            raise ValueError(f"theta must have shape {self.theta.shape}, got {theta.shape}")
        if not math.isfinite(float(np.dot(theta, theta))) and not np.all(np.isfinite(theta)):
            raise FloatingPointError(
                "EMA.update: theta is not finite (NaN or infinite entries); the average is "
                "left unchanged")
        self.theta *= self.mu
        np.multiply(theta, 1.0 - self.mu, out=self._tmp)
        self.theta += self._tmp
        return self.theta
