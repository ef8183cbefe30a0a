"""Multi-boundary consistency distillation: split [s_1, s_N] into K segments.

Lecture, "Multiboundary CD": instead of one boundary at s_1, choose boundaries
b_0 = s_1 < b_1 < ... < b_{K-1} on the grid. A point of segment (b_k, b_{k+1}] is mapped to
the state of its trajectory at b_k (the student is parameterised relative to that b_k, so
f(x, b_k) = x exactly), and sampling jumps s_N -> b_{K-1} -> ... -> b_0 in K evaluations.
K = 1 is plain CD. The loss and training are those of :mod:`ideal_diffusion.distill.cd`
with ``boundaries``; this module chooses boundaries and names the K-jump sampler.

Parameterisation: :func:`train_mbcd` defaults to :class:`~ideal_diffusion.distill.cd.JumpEDMParam`
(a DDIM jump to b through an EDM-form denoiser), whose network output has data scale in every
segment; ``ConsistencyParam`` relative to a boundary b >> sigma_data must output states of size
~ b / sigma_data, which makes K-jump sampling worse as K grows.
"""
from __future__ import annotations

import numpy as np

from ..nn import TrainConfig
from .cd import CDResult, train_cd
from .optima import Grid, as_grid
from .sampling import kjump_sample

__all__ = ["choose_boundaries", "kjump_sample", "train_mbcd"]


def choose_boundaries(grid, K: int) -> np.ndarray:
    """K boundaries at evenly spaced positions of the grid, starting at s_1 (ascending).

    On the Karras grid, even spacing in grid position is the spread EDM uses for K-step
    sampling, so segments have comparable ODE "difficulty".

    Parameters
    ----------
    grid : (N,) grid values, any order
    K : int, 1 <= K <= N - 1

    Returns
    -------
    boundaries : (K,) array of grid values, ascending, boundaries[0] = s_1
    """
    g = as_grid(grid)
    if not isinstance(K, (int, np.integer)) or not 1 <= K <= g.size - 1:
        raise ValueError(f"K must be an integer in [1, {g.size - 1}], got {K!r}")
    pos = np.round(np.arange(K) * (g.size - 1) / K).astype(int)
    return g[pos]


def train_mbcd(denoiser, data, grid, K: int,
               train: TrainConfig = TrainConfig(ema=0.9),  # noqa: B008 (frozen)
               **kwargs) -> CDResult:
    """Multi-boundary CD with :func:`choose_boundaries` (keyword arguments: :func:`train_cd`).

    Parameters
    ----------
    denoiser, data, grid : as :func:`~ideal_diffusion.distill.cd.train_cd`
    K : int, 1 <= K <= N - 1 -- number of boundaries (:func:`choose_boundaries`)
    train : TrainConfig -- ``train.ema`` is the target decay mu
    **kwargs
        ``solver``, ``param``, ``hidden``, ``depth``, ``emb_dim``, ``activation``, ``net``,
        ``weighting``, ``callback``, ``callback_every`` of ``train_cd``. ``param`` defaults
        to ``"jump_edm"`` here (``train_cd``'s default is ``"consistency"``); ``boundaries``
        is refused (it is what ``K`` chooses).

    Returns
    -------
    CDResult
    """
    if "boundaries" in kwargs:
        raise ValueError("boundaries must not be passed to train_mbcd (K chooses them); "
                         "call train_cd(..., boundaries=...) for your own")
    kwargs.setdefault("param", "jump_edm")
    G = Grid(grid)
    return train_cd(denoiser, data, G, boundaries=choose_boundaries(G, K), train=train,
                    **kwargs)
