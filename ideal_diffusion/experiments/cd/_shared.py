"""Shared pieces of the CD experiments: plot colours, the trainer with every knob named, and
the held-out noisy points at grid levels."""
from __future__ import annotations

import numpy as np

from ...distill.cd import CDResult, train_cd
from ...nn import TrainConfig
from .. import common

__all__ = ["C_AVG", "C_CT", "C_ORACLE", "C_STUDENT", "heldout", "train_student"]

C_STUDENT, C_ORACLE, C_AVG, C_CT = "tab:blue", "tab:orange", "tab:gray", "tab:green"


def train_student(den, data, grid, solver, boundaries, train: TrainConfig, *, param, hidden,
                  depth, weighting, callback=None, callback_every=50) -> CDResult:
    """``train_cd`` with every knob named."""
    return train_cd(den, data, grid, solver, boundaries, train, param=param, hidden=hidden,
                    depth=depth, weighting=weighting, callback=callback,
                    callback_every=callback_every)


def heldout(data: str, grid, levels, n: int, seed: int) -> list:
    """n held-out noisy points x0 + s eps per grid level ``grid[i]`` for i in ``levels``."""
    ds = common.dataset(data)
    rng = np.random.default_rng(seed)
    out = []
    for i in levels:
        x0 = ds.sample(n, rng)
        out.append(x0 + grid[i] * rng.standard_normal(x0.shape))
    return out

