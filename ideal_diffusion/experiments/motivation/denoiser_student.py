"""The denoiser student: a trained MLP D_theta (EDM loss) of a data set, shared by
:mod:`.student_vs_ideal` and :mod:`.error_vs_steps`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...nn import TrainConfig
from .. import _checks as check
from .._cache import cached
from ..common import (
    dataset,
)
from ._shared import _figure


@dataclass(frozen=True)
class Config:
    """A trained MLP denoiser D_theta (EDM loss) on a data set.

    Attributes
    ----------
    data : str
    train : TrainConfig
    hidden, depth : int -- MLP size
    wide_frac : float -- fraction of each batch with log-uniform sigma on [0.002, 80]
        (EDM's log-normal barely reaches the large sigma where the averaging happens)
    """

    data: str = "clusters"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1500, progress=False))
    hidden: int = 64
    depth: int = 3
    wide_frac: float = 0.25

    def __post_init__(self):
        check.dataset(self, "data")
        check.instance(self, "train", TrainConfig)
        check.integer(self, "hidden", 1)
        check.integer(self, "depth", 1)
        check.real(self, "wide_frac", 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class Result:
    """Attributes: config; student (``student(x, sigma)`` is D_theta); history (loss/step)."""

    config: Config
    student: object
    history: np.ndarray


@cached
def run(cfg: Config = Config()) -> Result:
    # ideal_diffusion.distill.denoiser_student.train_denoiser_student(data, train, *, hidden,
    # depth, ..., wide_frac) -> DenoiserStudent (.model, .history, __call__(x, sigma))
    from ...distill.denoiser_student import train_denoiser_student

    st = train_denoiser_student(dataset(cfg.data), cfg.train, hidden=cfg.hidden,
                                depth=cfg.depth, wide_frac=cfg.wide_frac)
    return Result(config=cfg, student=st, history=np.asarray(st.history))


def plot(result: Result, ax=None):
    """The training loss per step (log scale, with a running mean of 50)."""
    fig, (ax,) = _figure(ax, figsize=(6.4, 4.2))
    h = result.history
    k = min(50, h.size)
    ax.semilogy(h, c="0.75", lw=0.6, label="loss per step")
    ax.semilogy(np.arange(k - 1, h.size), np.convolve(h, np.ones(k) / k, mode="valid"),
                c="tab:blue", label=f"running mean of {k}")
    t = result.config.train
    ax.set_xlabel("training step")
    ax.set_ylabel("EDM denoising loss")
    ax.set_title(f"Denoiser student on {result.config.data}: MLP {result.config.hidden}x"
                 f"{result.config.depth}, {t.steps} steps x batch {t.batch}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
