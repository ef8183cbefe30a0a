"""Central finite differences against the hand-written backward pass, in float64."""
from __future__ import annotations

import numpy as np

__all__ = ["gradcheck"]


def _rel_err(num, ana):
    """Normwise relative error ``max|num - ana| / max(max|num|, max|ana|)`` (0 if both vanish)."""
    scale = max(np.max(np.abs(num)), np.max(np.abs(ana)))
    return 0.0 if scale == 0 else float(np.max(np.abs(num - ana)) / scale)


def gradcheck(model_or_net, x, sigma, boundary=None, h=1e-6, max_entries=None, rng=0):
    """Compare ``backward`` with central finite differences for every parameter and the input.

    The scalar loss is ``L = sum(w * out)`` with fixed random weights ``w`` (so its gradient
    w.r.t. the output is ``w``). Each checked entry ``p`` gets
    ``(L(p + h) - L(p - h)) / (2 h)``; the error reported per parameter array is the normwise
    relative error ``max|num - ana| / max(max|num|, max|ana|)``. The check runs on a float64
    copy of the network, so a float32 network is checked through its float64 twin.

    Parameters
    ----------
    model_or_net : Model or MLP
    x : (B, d) array
        Input (``x`` of the Model, ``x_in`` of an MLP).
    sigma : float or (B,) array
    boundary : float or (B,) array, optional
        Passed to ``Model.forward`` (models only).
    h : float
        Finite-difference step.
    max_entries : int, optional
        Check at most this many randomly chosen entries of each parameter array (all when None).
    rng : int or numpy.random.Generator
        Seed for ``w`` and the entry subsets.

    Returns
    -------
    errors : dict
        ``{param_name: rel_err, ..., "x": rel_err}``.
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    is_model = hasattr(model_or_net, "param")
    if is_model:
        obj = model_or_net.copy()
        obj.net = obj.net.astype(np.float64)
        net = obj.net
        kwargs = {"boundary": boundary}
    else:
        if boundary is not None:
            raise ValueError("boundary is only meaningful for a Model")
        obj = net = model_or_net.astype(np.float64)
        kwargs = {}
    x = np.array(x, dtype=np.float64)

    def loss(xx):
        return float(np.sum(w * obj(xx, sigma, **kwargs)))

    out = obj.forward(x, sigma, **kwargs)
    w = rng.standard_normal(out.shape)
    g_x = obj.backward(w)
    grads = {k: v.copy() for k, v in net.grads.items()}

    errors = {}
    for name, shape, offset in net.layout:
        size = int(np.prod(shape))
        idx = np.arange(size)
        if max_entries is not None and size > max_entries:
            idx = np.sort(rng.choice(size, max_entries, replace=False))
        num = np.empty(idx.size)
        for j, i in enumerate(idx):
            k = offset + i
            old = net.theta[k]
            net.theta[k] = old + h
            lp = loss(x)
            net.theta[k] = old - h
            lm = loss(x)
            net.theta[k] = old
            num[j] = (lp - lm) / (2 * h)
        errors[name] = _rel_err(num, grads[name].ravel()[idx])

    num = np.empty(x.size)
    flat = x.reshape(-1)
    for i in range(x.size):
        old = flat[i]
        flat[i] = old + h
        lp = loss(x)
        flat[i] = old - h
        lm = loss(x)
        flat[i] = old
        num[i] = (lp - lm) / (2 * h)
    errors["x"] = _rel_err(num, g_x.ravel())
    return errors
