"""A small sigma-conditioned MLP ``F(x_in, sigma)`` with a hand-written backward pass.

Architecture (``depth`` hidden layers of width ``hidden``)::

    h_0 = [x_in, emb(sigma)]                 (B, in_dim + emb_dim)
    h_l = act(h_{l-1} @ W_l + b_l)           l = 1 .. depth, (B, hidden)
    y   = h_depth @ W_out + b_out            (B, out_dim)

All parameters live in one flat vector ``theta`` (``net.params`` are named views into it),
and all gradients in one flat vector ``grad`` with the same layout, so an optimiser, an EMA
and a checkpoint see them uniformly.
"""
from __future__ import annotations

import numpy as np

from .. import _validate as _v
from .._rng import as_rng
from .layers import ACTIVATIONS, Linear, SigmaEmbedding, _buffer, check_sigma
from .threads import blas_threads

__all__ = ["MLP"]


def _positive_int(value, name, minimum=1):
    return _v.integer(value, name, minimum)


class MLP:
    """Sigma-conditioned MLP with a flat parameter vector.

    Parameters
    ----------
    in_dim : int
        Data features of ``x_in``.
    hidden : int
        Width of every hidden layer.
    depth : int
        Number of hidden layers (each Linear + activation), >= 1.
    out_dim : int, optional
        Output features (default ``in_dim``).
    emb_dim : int
        Features of the sigma embedding (even), see :class:`~.layers.SigmaEmbedding`.
    activation : {"silu", "relu"}
    rng : numpy.random.Generator or int
        Source of the initial weights (He-normal hidden layers, Xavier-normal output layer,
        zero biases).
    dtype : {numpy.float64, numpy.float32}

    Attributes
    ----------
    theta : (P,) array
        All parameters, flat. ``params[name]`` are views into it.
    grad : (P,) array
        d loss / d theta after :meth:`backward` (overwritten each call); views in ``grads``.
    config : dict
        The constructor arguments (JSON-serialisable), used by checkpoints.
    """

    def __init__(self, in_dim, hidden=128, depth=3, out_dim=None, emb_dim=16,
                 activation="silu", rng=None, dtype=np.float64):
        self.in_dim = _positive_int(in_dim, "in_dim")
        self.hidden = _positive_int(hidden, "hidden")
        self.depth = _positive_int(depth, "depth")
        self.out_dim = self.in_dim if out_dim is None else _positive_int(out_dim, "out_dim")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float64, np.float32):
            raise ValueError(f"dtype must be float64 or float32, got {self.dtype}")
        self.activation = activation
        self.embedding = SigmaEmbedding(emb_dim)
        self.emb_dim = self.embedding.emb_dim
        rng = as_rng(0 if rng is None else rng)

        dims = [self.in_dim + self.emb_dim] + [self.hidden] * self.depth + [self.out_dim]
        self.layout = []  # (name, shape, offset)
        offset = 0
        for i in range(len(dims) - 1):
            tag = f"layer{i}" if i < self.depth else "out"
            for name, shape in ((f"{tag}.W", (dims[i], dims[i + 1])), (f"{tag}.b", (dims[i + 1],))):
                self.layout.append((name, shape, offset))
                offset += int(np.prod(shape))
        self.theta = np.zeros(offset, dtype=self.dtype)
        self.grad = np.zeros(offset, dtype=self.dtype)
        self.params = self._views(self.theta)
        self.grads = self._views(self.grad)

        self.linears = []
        self._tags = [f"layer{i}" for i in range(self.depth)] + ["out"]
        for i, tag in enumerate(self._tags):
            self.linears.append(Linear(
                dims[i], dims[i + 1], rng, init="he" if i < self.depth else "xavier",
                dtype=self.dtype,
                params=(self.params[f"{tag}.W"], self.params[f"{tag}.b"]),
                grads=(self.grads[f"{tag}.W"], self.grads[f"{tag}.b"])))
        self.acts = [ACTIVATIONS[activation]() for _ in range(self.depth)]
        self._h0 = None

    # ------------------------------------------------------------------ layout
    @property
    def config(self) -> dict:
        return {"kind": "MLP", "in_dim": self.in_dim, "hidden": self.hidden, "depth": self.depth,
                "out_dim": self.out_dim, "emb_dim": self.emb_dim, "activation": self.activation,
                "dtype": self.dtype.name}

    @property
    def size(self) -> int:
        """Number of parameters P."""
        return self.theta.size

    def _views(self, flat):
        return {name: flat[o:o + int(np.prod(shape))].reshape(shape)
                for name, shape, o in self.layout}

    def _check_theta(self, theta):
        if theta is None:
            return self.theta
        theta = np.asarray(theta)
        if theta.shape != self.theta.shape:
            raise ValueError(f"theta must have shape {self.theta.shape}, got {theta.shape}")
        return theta

    def _input(self, x_in, sigma, out=None):
        """Fill ``[x_in, emb(sigma)]`` (B, in_dim + emb_dim) in the network dtype."""
        x_in = _v.states(x_in, "x_in", self.in_dim, dtype=None)  # real and finite
        B = x_in.shape[0]
        emb = self.embedding(check_sigma(sigma, B))
        h0 = _buffer(out, (B, self.in_dim + self.emb_dim), self.dtype)
        h0[:, :self.in_dim] = x_in
        h0[:, self.in_dim:] = emb
        return h0

    # ------------------------------------------------------------------ passes
    def _forward(self, x_in, sigma, theta, cache):
        """The one forward pass of training and inference.

        ``cache=True``: the layers keep what their backward needs (layer buffers reused).
        ``cache=False``: nothing is kept, the parameters may come from another flat vector
        ``theta`` (same layout), and every intermediate is fresh. The operations, hence the
        bits, are the same either way.
        """
        if theta is None:
            layer_params = [None] * len(self.linears)
        else:
            p = self._views(self._check_theta(theta).astype(self.dtype, copy=False))
            layer_params = [(p[f"{tag}.W"], p[f"{tag}.b"]) for tag in self._tags]
        h = self._input(x_in, sigma, self._h0 if cache else None)
        if cache:
            self._h0 = h
        for lin, act, lp in zip(self.linears, self.acts, layer_params):
            h = act.forward(lin.forward(h, params=lp, cache=cache), cache=cache)
        return self.linears[-1].forward(h, out="new", params=layer_params[-1], cache=cache)

    def forward(self, x_in, sigma):
        """Training forward pass; caches activations for :meth:`backward`.

        Parameters
        ----------
        x_in : (B, in_dim) array
        sigma : float or (B,) array, > 0

        Returns
        -------
        y : (B, out_dim) array (fresh, in ``dtype``)
        """
        return self._forward(x_in, sigma, None, cache=True)

    def backward(self, g_y, need_input_grad=True):
        """Backpropagate d loss / d y through the last :meth:`forward`.

        Parameters
        ----------
        g_y : (B, out_dim) array
            d loss / d y (not modified).
        need_input_grad : bool
            Return None instead of d loss / d x_in when False (saves one matmul).

        Returns
        -------
        g_x_in : (B, in_dim) array or None
            d loss / d x_in. As a side effect ``self.grad`` holds d loss / d theta
            (overwritten, not accumulated).
        """
        if self._h0 is None:
            raise ValueError("backward called before forward")
        g = np.asarray(g_y, dtype=self.dtype)
        if g.shape != (self._h0.shape[0], self.out_dim):
            want = (self._h0.shape[0], self.out_dim)
            raise ValueError(f"g_y must have shape {want}, got {g.shape}")
        g = self.linears[-1].backward(g)
        for i in range(self.depth - 1, 0, -1):
            g = self.linears[i].backward(self.acts[i].backward(g))
        g = self.acts[0].backward(g)
        return self.linears[0].backward(g, need_input_grad, rows=slice(0, self.in_dim))

    def __call__(self, x_in, sigma, theta=None):
        """Inference: the forward pass without a cache, optionally with another parameter vector.

        Runs under one BLAS thread (:func:`~.threads.blas_threads`), so the result is the same
        bits whatever the environment's thread variables, and equal bit for bit to
        :meth:`forward` on the same input.

        Parameters
        ----------
        x_in : (B, in_dim) array
        sigma : float or (B,) array, > 0
        theta : (P,) array, optional
            Flat parameters to use instead of ``self.theta`` (e.g. an EMA copy), same layout.

        Returns
        -------
        y : (B, out_dim) array (fresh)
        """
        with blas_threads(1):
            return self._forward(x_in, sigma, theta, cache=False)

    predict = __call__

    def copy(self, dtype=None) -> MLP:
        """Independent deep copy (optionally cast to ``dtype``) with the same parameters."""
        cfg = self.config
        new = MLP(cfg["in_dim"], cfg["hidden"], cfg["depth"], cfg["out_dim"], cfg["emb_dim"],
                  cfg["activation"], rng=0, dtype=self.dtype if dtype is None else dtype)
        new.theta[...] = self.theta
        new.grad[...] = self.grad
        return new

    def astype(self, dtype) -> MLP:
        """Copy with parameters cast to ``dtype`` (float32 or float64)."""
        return self.copy(dtype)

    def __repr__(self):
        c = self.config
        return (f"MLP(in_dim={c['in_dim']}, hidden={c['hidden']}, depth={c['depth']}, "
                f"out_dim={c['out_dim']}, emb_dim={c['emb_dim']}, activation={c['activation']!r}, "
                f"dtype={c['dtype']}, params={self.size})")
