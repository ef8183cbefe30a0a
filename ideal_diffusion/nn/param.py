"""Output parameterisations ``f(x, sigma) = c_skip x + c_out F(c_in x, sigma)`` and the Model.

Every parameterisation feeds the network the scaled input ``c_in x`` with
``c_in = 1 / sqrt(sigma^2 + sigma_data^2)`` (unit variance at every noise level when the data
has standard deviation sigma_data), and conditions it on sigma itself (the network turns sigma
into ``c_noise = log(sigma) / 4`` features). They differ in ``c_skip`` and ``c_out``:

==========================  ===============================  =====================================
parameterisation            c_skip                           c_out
==========================  ===============================  =====================================
:class:`EDMPrecond`         sd^2 / (sigma^2 + sd^2)          sigma sd / sqrt(sigma^2 + sd^2)
:class:`ConsistencyParam`   sd^2 / ((sigma - b)^2 + sd^2)    (sigma - b) sd / sqrt(sigma^2 + sd^2)
:class:`JumpParam`          b / sigma                        1 - b / sigma
:class:`PlainParam`         0                                1
==========================  ===============================  =====================================

(sd = sigma_data, b = boundary.) The consistency and jump forms satisfy the lecture's boundary
condition ``f(x, b) = x`` *exactly* in floating point, for any network output: at sigma == b,
``c_skip`` is ``sd^2 / sd^2`` or ``b / b``, i.e. exactly 1, and ``c_out`` is exactly 0.
``sigma < boundary`` is refused. The boundary may be given per sample (multi-boundary CD: each
sample's segment lower boundary).
"""
from __future__ import annotations

import numpy as np

from .. import _validate as _v
from .layers import check_sigma
from .threads import blas_threads

__all__ = ["EDMPrecond", "ConsistencyParam", "JumpParam", "JumpEDMParam", "PlainParam", "Model",
           "PARAMETERISATIONS", "param_from_config"]


def _check_sd(sigma_data):
    return _v.real(sigma_data, "sigma_data", 0.0, lo_open=True)


def _check_boundary(boundary, B=None):
    b = _v.real_array(boundary, "boundary", finite=False)
    if b.ndim > 1 or (b.ndim == 1 and B is not None and b.shape[0] != B):
        raise ValueError(f"boundary must be a scalar or a ({B},) array, got shape {b.shape}")
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        raise ValueError("boundary must be finite and >= 0 (allowed range: [0, inf))")
    return b


class _Param:
    """Common part: sigma_data, c_in, and the boundary bookkeeping."""

    has_boundary = False
    boundary = None

    def __init__(self, sigma_data=0.5):
        self.sigma_data = _check_sd(sigma_data)

    def c_in(self, sigma):
        """``1 / sqrt(sigma^2 + sigma_data^2)``."""
        return 1.0 / np.sqrt(sigma * sigma + self.sigma_data ** 2)

    def resolve_boundary(self, sigma, boundary=None):
        """Return the boundary to use (float64, () or (B,)); checks ``sigma >= boundary``."""
        if not self.has_boundary:
            return None
        b = _check_boundary(self.boundary if boundary is None else boundary, None)
        if b.ndim == 1 and sigma.ndim == 1 and b.shape != sigma.shape:
            raise ValueError(f"boundary shape {b.shape} does not match sigma shape {sigma.shape}")
        if np.any(sigma < b):
            raise ValueError("sigma must be >= boundary (allowed range: [boundary, inf)); "
                             f"got min(sigma - boundary) = {np.min(sigma - b):.3g}")
        return b

    def coefficients(self, sigma, boundary=None):
        """``(c_skip, c_out, c_in)`` as float64 arrays broadcastable against sigma.

        Parameters
        ----------
        sigma : float64 array, () or (B,), > 0
        boundary : float or (B,) array, optional
            Overrides ``self.boundary`` (only for boundary parameterisations).
        """
        raise NotImplementedError

    @property
    def config(self) -> dict:
        cfg = {"kind": type(self).__name__, "sigma_data": self.sigma_data}
        if self.has_boundary:
            cfg["boundary"] = self.boundary
        return cfg

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.config.items() if k != "kind")
        return f"{type(self).__name__}({args})"


class _BoundaryParam(_Param):
    """Common part of the parameterisations with a boundary condition f(x, b) = x."""

    has_boundary = True

    def __init__(self, boundary, sigma_data=0.5):
        super().__init__(sigma_data)
        self.boundary = float(_check_boundary(boundary))


class EDMPrecond(_Param):
    """EDM denoiser preconditioning (Karras et al. 2022), for D(x, sigma) ~ E[x0 | x].

    ``c_skip = sd^2 / (sigma^2 + sd^2)``, ``c_out = sigma sd / sqrt(sigma^2 + sd^2)``,
    ``c_in = 1 / sqrt(sigma^2 + sd^2)``, ``c_noise = log(sigma) / 4``. No boundary: passing one
    is an error.
    """

    def coefficients(self, sigma, boundary=None):
        if boundary is not None:
            raise ValueError("boundary must be None for EDMPrecond (it has no boundary condition)")
        sd2 = self.sigma_data ** 2
        r = sigma * sigma + sd2
        return sd2 / r, sigma * self.sigma_data / np.sqrt(r), 1.0 / np.sqrt(r)


class ConsistencyParam(_BoundaryParam):
    """Consistency-model boundary parameterisation (Song et al. 2023) relative to boundary b.

    ``c_skip = sd^2 / ((sigma - b)^2 + sd^2)``,
    ``c_out = (sigma - b) sd / sqrt(sigma^2 + sd^2)`` (sigma, not sigma - b, under the root: the
    published form), ``c_in = 1 / sqrt(sigma^2 + sd^2)``. At sigma == b: c_skip == 1 and
    c_out == 0 exactly, so ``f(x, b) == x``.

    Parameters
    ----------
    boundary : float, >= 0
        Default boundary b (required: sigma_min for plain CD); a per-call boundary overrides
        it.
    sigma_data : float, > 0
    """

    def coefficients(self, sigma, boundary=None):
        b = self.resolve_boundary(sigma, boundary)
        sd = self.sigma_data
        ds = sigma - b
        r = np.sqrt(sigma * sigma + sd * sd)
        return sd * sd / (ds * ds + sd * sd), ds * sd / r, 1.0 / r


class JumpParam(_BoundaryParam):
    """The jump ("one Euler/DDIM step to the boundary") form.

    ``f = (b / sigma) x + (1 - b / sigma) F(c_in x, sigma)``: c_skip = b / sigma,
    c_out = 1 - b / sigma, ``c_in = 1 / sqrt(sigma^2 + sd^2)``. F plays the role of a denoiser
    output; at sigma == b, ``b / sigma == 1`` exactly, so ``f(x, b) == x``.

    Parameters
    ----------
    boundary : float, >= 0
    sigma_data : float, > 0
        Used only for ``c_in``.
    """

    def coefficients(self, sigma, boundary=None):
        b = self.resolve_boundary(sigma, boundary)
        ratio = b / sigma
        return ratio, 1.0 - ratio, self.c_in(sigma)


class PlainParam(_Param):
    """No parameterisation: ``f = F(c_in x, sigma)`` (c_skip = 0, c_out = 1).

    There is no boundary condition (the collapse experiment): a ``boundary`` passed to the
    model is accepted and ignored, so the same distillation code runs with and without it.
    """

    def coefficients(self, sigma, boundary=None):
        return np.zeros_like(sigma), np.ones_like(sigma), self.c_in(sigma)


class JumpEDMParam(JumpParam):
    """A jump to the boundary through an EDM-preconditioned denoiser (multi-boundary CD).

    f(x, sigma) = (b / sigma) x + (1 - b / sigma) D(x, sigma) with
    D = c_skip^EDM x + c_out^EDM F(c_in x, sigma): the DDIM step from sigma to b with the
    denoiser D predicted in EDM form (the parameterisation of multistep consistency models,
    Heek et al. 2024). Hence c_skip = b/sigma + (1 - b/sigma) sd^2 / (sigma^2 + sd^2),
    c_out = (1 - b/sigma) sigma sd / sqrt(sigma^2 + sd^2), c_in = 1 / sqrt(sigma^2 + sd^2).

    Why: for one data point the exact state at b is exactly (b/sigma) x + (1 - b/sigma) x0,
    so F has a data-scale, unit-variance target in *every* segment. ``ConsistencyParam``
    relative to a boundary b >> sigma_data makes F output states of size ~ b / sd instead, and
    plain ``JumpParam`` has no skip connection at low sigma. At sigma == b, b / sigma == 1
    exactly and the second term is exactly 0, so f(x, b) == x.
    """

    def coefficients(self, sigma, boundary=None):
        b = self.resolve_boundary(sigma, boundary)
        sd = self.sigma_data
        ratio = b / sigma
        q = 1.0 - ratio
        r2 = sigma * sigma + sd * sd
        return ratio + q * (sd * sd / r2), q * sigma * sd / np.sqrt(r2), 1.0 / np.sqrt(r2)


PARAMETERISATIONS = {c.__name__: c for c in (EDMPrecond, ConsistencyParam, JumpParam,
                                                JumpEDMParam, PlainParam)}


def param_from_config(cfg: dict):
    """Rebuild a parameterisation from its ``config`` dict (ValueError if unknown)."""
    kind = cfg.get("kind")
    if kind not in PARAMETERISATIONS:
        raise ValueError(f"unknown parameterisation {kind!r}; allowed: {sorted(PARAMETERISATIONS)}")
    kwargs = {k: v for k, v in cfg.items() if k != "kind"}
    return PARAMETERISATIONS[kind](**kwargs)


class Model:
    """A network plus an output parameterisation: ``f = c_skip x + c_out F(c_in x, sigma)``.

    Parameters
    ----------
    net : MLP (or any object with the MLP interface: forward/backward/__call__, theta, grad)
    param : EDMPrecond, ConsistencyParam, JumpParam or PlainParam
    """

    def __init__(self, net, param):
        if net.in_dim != net.out_dim:
            raise ValueError("Model needs net.in_dim == net.out_dim, "
                             f"got {net.in_dim}, {net.out_dim}")
        self.net = net
        self.param = param
        self._cache = None

    def _prepare(self, x, sigma, boundary):
        # float32 kept, everything real else float64; complex, strings, NaN and inf refused
        x = _v.states(x, "x", self.net.in_dim, dtype=None)
        s = check_sigma(sigma, x.shape[0])
        if s.ndim == 0 and boundary is not None and np.ndim(boundary) == 1:
            s = np.full(x.shape[0], s)  # a per-sample boundary makes the coefficients per sample
        c_skip, c_out, c_in = self.param.coefficients(s, boundary)
        dtype = np.result_type(x.dtype, self.net.dtype)
        col = (lambda c: np.asarray(c, dtype)[:, None]) if s.ndim else (lambda c: dtype.type(c))
        return x, s, col(c_skip), col(c_out), col(c_in)

    def forward(self, x, sigma, boundary=None):
        """Training forward pass (caches for :meth:`backward`).

        Parameters
        ----------
        x : (B, d) array
        sigma : float or (B,) array, > 0 and >= boundary
        boundary : float or (B,) array, optional
            Per-sample boundary overriding ``param.boundary`` (boundary parameterisations).

        Returns
        -------
        f : (B, d) array, dtype ``result_type(x, net.dtype)``
        """
        x, s, c_skip, c_out, c_in = self._prepare(x, sigma, boundary)
        F = self.net.forward(c_in * x, s)
        self._cache = (c_skip, c_out, c_in, x.shape)
        return c_skip * x + c_out * F

    def backward(self, g_f, need_input_grad=True):
        """Backpropagate d loss / d f of the last :meth:`forward`.

        Returns
        -------
        g_x : (B, d) array or None
            d loss / d x (None when ``need_input_grad`` is False). ``net.grad`` holds
            d loss / d theta (overwritten).
        """
        if self._cache is None:
            raise ValueError("backward called before forward")
        c_skip, c_out, c_in, shape = self._cache
        g_f = np.asarray(g_f)
        if g_f.shape != shape:
            raise ValueError(f"g_f must have shape {shape}, got {g_f.shape}")
        g_in = self.net.backward(c_out * g_f, need_input_grad)
        if not need_input_grad:
            return None
        return c_skip * g_f + c_in * g_in

    def __call__(self, x, sigma, boundary=None, theta=None):
        """Inference: ``f(x, sigma)`` without caching.

        Parameters
        ----------
        theta : (P,) array, optional
            Alternative flat parameters (e.g. the EMA target network); ``net.theta`` is untouched.

        Runs under one BLAS thread (:func:`~.threads.blas_threads`): the same bits whatever
        the environment's thread variables.
        """
        x, s, c_skip, c_out, c_in = self._prepare(x, sigma, boundary)
        with blas_threads(1):
            return c_skip * x + c_out * self.net(c_in * x, s, theta=theta)

    def copy(self) -> Model:
        """Independent deep copy (network parameters and parameterisation)."""
        return Model(self.net.copy(), param_from_config(self.param.config))

    @property
    def config(self) -> dict:
        return {"architecture": self.net.config, "parameterisation": self.param.config}

    def __repr__(self):
        return f"Model({self.net!r}, {self.param!r})"
