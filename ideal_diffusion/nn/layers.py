"""Layers with hand-written forward and backward passes.

Every layer caches in ``forward`` exactly what its ``backward`` needs, and writes into
preallocated buffers (reallocated only when the batch size changes), so that a training
step of a small MLP is a handful of BLAS calls plus a few fused in-place elementwise
operations.

Conventions
-----------
* Activations are row-major ``(B, features)``; ``B`` is the batch size.
* ``backward(g)`` receives d loss / d output and returns d loss / d input. Parameter
  gradients are *overwritten* (not accumulated) into the layer's gradient arrays.
* Nothing here knows about diffusion: sigma enters only through
  :class:`SigmaEmbedding`, as a conditioning input.
"""
from __future__ import annotations

import numpy as np

from .. import _validate as _v

__all__ = ["Linear", "SiLU", "ReLU", "SigmaEmbedding", "ACTIVATIONS", "check_sigma"]


def _buffer(buf, shape, dtype):
    """Return ``buf`` if it already has ``shape``, else a fresh uninitialised array."""
    if buf is None or buf.shape != shape:
        return np.empty(shape, dtype=dtype)
    return buf


def check_sigma(sigma, B: int | None = None, name: str = "sigma") -> np.ndarray:
    """Validate a noise level: a finite scalar > 0 or a ``(B,)`` array of them.

    Returns
    -------
    sigma : float64 array of shape () or (B,)

    Raises
    ------
    TypeError
        If ``sigma`` is not real (None, a string, complex).
    ValueError
        If ``sigma`` is not finite and > 0, or its shape is neither () nor (B,).
    """
    s = _v.real_array(sigma, name, finite=False)
    if s.ndim > 1 or (s.ndim == 1 and B is not None and s.shape[0] != B):
        raise ValueError(f"{name} must be a scalar or a ({B},) array, got shape {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"{name} must be finite and > 0 (allowed range: (0, inf))")
    return s


class Linear:
    """Affine layer ``z = h @ W + b``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output features; ``W`` is ``(n_in, n_out)``, ``b`` is ``(n_out,)``.
    rng : numpy.random.Generator
        Source of the initial weights.
    init : {"he", "xavier"}
        He-normal (std sqrt(2 / n_in), for layers followed by ReLU/SiLU) or Xavier-normal
        (std sqrt(2 / (n_in + n_out)), for the linear output layer). Biases start at 0.
    dtype : numpy dtype
    params, grads : tuple of two arrays, optional
        ``(W, b)`` and ``(gW, gb)`` storage to use (e.g. views into a flat parameter
        vector); fresh arrays when omitted.
    """

    def __init__(self, n_in, n_out, rng, init="he", dtype=np.float64, params=None, grads=None):
        if init not in ("he", "xavier"):
            raise ValueError(f"init must be 'he' or 'xavier', got {init!r}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        shape_W, shape_b = (self.n_in, self.n_out), (self.n_out,)
        self.W, self.b = params if params is not None else (
            np.empty(shape_W, dtype), np.empty(shape_b, dtype))
        self.gW, self.gb = grads if grads is not None else (
            np.zeros(shape_W, dtype), np.zeros(shape_b, dtype))
        std = np.sqrt(2.0 / self.n_in) if init == "he" else np.sqrt(2.0 / (self.n_in + self.n_out))
        self.W[...] = rng.standard_normal(shape_W) * std
        self.b[...] = 0.0
        self._h = None
        self._z = None
        self._gh = None

    def forward(self, h, out=None, params=None, cache=True):
        """``z = h @ W + b``; caches ``h`` (by reference) for the weight gradient.

        Parameters
        ----------
        h : (B, n_in) array
        out : (B, n_out) array, optional
            Destination; the layer's own buffer when omitted (``"new"`` for a fresh array).
        params : (W, b) arrays, optional
            Weights to use instead of the layer's own (same shapes; inference with another
            parameter vector, e.g. an EMA copy).
        cache : bool
            Keep ``h`` for :meth:`backward` (training). False: nothing is kept and the result
            is a fresh array (inference; the layer's buffers are untouched).

        Returns
        -------
        z : (B, n_out) array
        """
        W, b = (self.W, self.b) if params is None else params
        if not cache:
            out = None
        else:
            self._h = h
            if out is None:
                out = self._z = _buffer(self._z, (h.shape[0], self.n_out), W.dtype)
            elif isinstance(out, str):
                out = None
        z = np.matmul(h, W, out=out)
        z += b
        return z

    def backward(self, g, need_input_grad=True, rows=None):
        """Overwrite ``gW = h^T g`` and ``gb = sum_B g``; return ``g @ W^T``.

        Parameters
        ----------
        g : (B, n_out) array
            d loss / d z.
        need_input_grad : bool
            Skip the input gradient (returns None) when False.
        rows : slice, optional
            Return d loss / d h only for these input features (``W[rows]``), e.g. the
            data part of a concatenated ``[x, embedding]`` input.

        Returns
        -------
        gh : (B, n_in) array (or the selected columns), or None
        """
        np.matmul(self._h.T, g, out=self.gW)
        np.sum(g, axis=0, out=self.gb)
        if not need_input_grad:
            return None
        W = self.W if rows is None else self.W[rows]
        self._gh = _buffer(self._gh, (g.shape[0], W.shape[0]), g.dtype)
        return np.matmul(g, W.T, out=self._gh)


class SiLU:
    """SiLU (swish): ``a = z * s`` with ``s = sigmoid(z) = 1 / (1 + exp(-z))``.

    The derivative is ``da/dz = s + a (1 - s)``, computed in ``backward`` from the cached ``s``
    and ``a`` (no transcendental function in the backward pass). ``exp(-z)`` overflows to
    ``inf`` for z < -709 (float64), which correctly gives s = 0; the warning is silenced.
    """

    name = "silu"

    def __init__(self):
        self._s = self._a = self._t = None

    def forward(self, z, cache=True):
        """Return ``a = silu(z)``; caches ``s`` and ``a`` for :meth:`backward`.

        Parameters
        ----------
        z : (B, n) array
        cache : bool
            True (training): ``a`` is a layer buffer and ``s``, ``a`` are kept. False
            (inference): ``z`` is overwritten by ``a`` and returned, nothing is kept. Both
            compute ``a = z * (1 / (1 + exp(-z)))`` with the same operations: the same bits.

        Returns
        -------
        a : (B, n) array
        """
        s = _buffer(self._s, z.shape, z.dtype) if cache else np.empty_like(z)
        np.negative(z, out=s)
        with np.errstate(over="ignore"):
            np.exp(s, out=s)
        s += 1.0
        np.reciprocal(s, out=s)
        if not cache:
            z *= s
            return z
        self._s = s
        self._a = a = _buffer(self._a, z.shape, z.dtype)
        np.multiply(z, s, out=a)
        return a

    def backward(self, g):
        """Multiply ``g`` (d loss / d a, overwritten in place) by ``s + a (1 - s)``; return it."""
        s, a = self._s, self._a
        self._t = t = _buffer(self._t, s.shape, s.dtype)
        np.multiply(s, a, out=t)
        np.subtract(s, t, out=t)
        t += a
        g *= t
        return g


class ReLU:
    """ReLU: ``a = max(z, 0)``; derivative ``1[z > 0]`` (0 at the kink)."""

    name = "relu"

    def __init__(self):
        self._a = self._mask = None

    def forward(self, z, cache=True):
        """Return ``a = relu(z)``; caches the mask ``z > 0`` for :meth:`backward`.

        ``cache=False`` (inference): ``z`` is overwritten by ``a`` and returned, nothing kept.
        """
        if not cache:
            return np.maximum(z, 0, out=z)
        self._a = a = _buffer(self._a, z.shape, z.dtype)
        self._mask = m = _buffer(self._mask, z.shape, z.dtype)
        np.greater(z, 0, out=m)
        np.maximum(z, 0, out=a)
        return a

    def backward(self, g):
        """Zero ``g`` (overwritten in place) where ``z <= 0``; return it."""
        g *= self._mask
        return g


ACTIVATIONS = {"silu": SiLU, "relu": ReLU}


class SigmaEmbedding:
    """Fourier features of the EDM noise conditioning ``c_noise = log(sigma) / 4``.

    ``emb(sigma) = [cos(2 pi f_k c_noise), sin(2 pi f_k c_noise)]_k`` with ``emb_dim / 2``
    fixed frequencies ``f_k`` spaced geometrically from ``f_min`` to ``f_max``. The
    defaults (1/8 to 4 cycles per unit of c_noise) cover the EDM range
    sigma in [0.002, 80] (c_noise in [-1.55, 1.10]) without aliasing: the slowest
    feature is monotone over the whole range, the fastest resolves a factor ~1.3 in sigma.
    There are no trainable parameters, so there is no backward pass (sigma is a
    conditioning input, never differentiated).

    Parameters
    ----------
    emb_dim : int
        Number of features, even and >= 2.
    f_min, f_max : float
        Lowest and highest frequency, 0 < f_min <= f_max.
    """

    def __init__(self, emb_dim=16, f_min=0.125, f_max=4.0):
        if int(emb_dim) != emb_dim or emb_dim < 2 or emb_dim % 2:
            raise ValueError(f"emb_dim must be an even integer >= 2, got {emb_dim}")
        if not (0 < f_min <= f_max):
            raise ValueError(f"need 0 < f_min <= f_max, got f_min={f_min}, f_max={f_max}")
        self.emb_dim = int(emb_dim)
        self.f_min, self.f_max = float(f_min), float(f_max)
        self.freqs = 2 * np.pi * np.geomspace(f_min, f_max, self.emb_dim // 2)

    def __call__(self, sigma) -> np.ndarray:
        """Features of ``sigma`` (scalar or (B,), > 0).

        Returns
        -------
        emb : float64 array, (1, emb_dim) for a scalar sigma, else (B, emb_dim)
        """
        s = check_sigma(sigma)
        c_noise = np.log(np.atleast_1d(s)) / 4.0
        phase = c_noise[:, None] * self.freqs[None, :]
        return np.concatenate([np.cos(phase), np.sin(phase)], axis=1)
