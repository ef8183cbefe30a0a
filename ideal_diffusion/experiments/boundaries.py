"""Where to put the K boundaries of multi-boundary CD (lecture slide "Multiboundary CD").

The exact MBCD optimum's K-jump sample is the teacher's full chain cut into K pieces, the
same for every placement (notebook 04, Exercise 2), so the placement cannot be chosen by the
exact optimum's own error: it is what a **trained** student must learn that depends on it.
The search scores a placement by how far each segment's jump is from a straight one: the
K-step DDIM (Euler) sampler of the ideal denoiser, one step per segment, against the exact
optimum's K-jump sample (median over ``n_search`` noises that are not the reference noises).
It tries every placement on the distillation grid (b_0 = s_1 fixed, the other K - 1
boundaries at any grid positions below s_N), then trains students at the searched and at the
default (:func:`~ideal_diffusion.distill.mbcd.choose_boundaries`) placements with the summary's
MBCD budget, and compares them on the reference noises with a paired bootstrap.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np

from ..distill.mbcd import choose_boundaries
from ..distill.optima import distill_grid, teacher_chain, teacher_step
from ..distill.sampling import kjump_sample
from ..metrics import PairedComparison, paired_bootstrap
from . import _checks as check
from . import common, mbcd
from ._cache import cached
from ._figure import SlideFigure
from .cd import student_vs_optimum

__all__ = ["SUMMARY", "Config", "Result", "Search", "ddim_kjump", "plot", "run", "search",
           "summary_config", "summary_rows"]


@dataclass(frozen=True)
class Config:
    """Attributes: ``mb`` (the MBCD students: data, grid, network, training, ``Ks``; every K
    must be >= 2, K = 1 has no placement to choose), ``n_search`` and ``search_seed`` (the
    noises of the search; the students are compared on ``mb.cd``'s reference noises), and
    ``n_boot`` (bootstrap resamples of the paired comparison)."""

    mb: mbcd.Config = mbcd.SUMMARY
    n_search: int = 400
    search_seed: int = 7
    n_boot: int = 2000

    def __post_init__(self):
        check.instance(self, "mb", mbcd.Config)
        check.integers(self.mb, "Ks", 2, self.mb.cd.N - 1)
        check.integer(self, "n_search", 2)
        check.integer(self, "search_seed", 0)
        check.require(self, self.search_seed != self.mb.cd.test_seed, "search_seed",
                      f"different from mb.cd.test_seed = {self.mb.cd.test_seed} (the search "
                      "must not see the noises the students are compared on)")
        check.integer(self, "n_boot", 100)

    def student_config(self, K: int, positions=None) -> student_vs_optimum.Config:
        """The K-boundary student at ``positions`` (grid positions) or the default placement."""
        c = self.mb.student_config(K)
        return c if positions is None else replace(c, boundary_positions=tuple(positions))


def ddim_kjump(denoiser, x_T, grid, boundaries) -> np.ndarray:
    """K DDIM (Euler) steps of the denoiser, s_N -> b_{K-1} -> ... -> b_0 = s_1 (one per
    segment). ``grid`` and ``boundaries`` ascending; returns (B, d) states at s_1."""
    jump = lambda x, s, b: teacher_step(denoiser, x, s, b, "euler")  # noqa: E731
    return kjump_sample(jump, x_T, grid, boundaries)


@dataclass(frozen=True, eq=False)
class Search:
    """Every placement of K boundaries tried: ``positions`` (M, K) grid positions (column 0 is
    0: s_1), ``score`` (M,) median |K DDIM jumps - exact optimum's K-jump sample| over the
    search noises; ``best`` and ``default`` the rows of the lowest score and of
    ``choose_boundaries``."""

    K: int
    positions: np.ndarray
    score: np.ndarray
    best: int
    default: int


def search(denoiser, grid, solver: str, K: int, x_T) -> Search:
    """Score every placement of K boundaries on the ascending ``grid`` (see :class:`Search`).

    Parameters
    ----------
    denoiser : the ideal denoiser; grid : (N,) ascending; solver : the teacher's solver
    K : int, 2 <= K <= N - 1; x_T : (B, d) noises at s_N
    """
    g = np.asarray(grid, dtype=np.float64)
    N = g.size
    if not isinstance(K, (int, np.integer)) or not 2 <= K <= N - 1:
        raise ValueError(f"K must be an integer in [2, {N - 1}], got {K!r}")
    target = teacher_chain(denoiser, x_T, g[-1], g[0], g, solver)  # the optimum, any placement
    pos = np.array([(0, *c) for c in itertools.combinations(range(1, N - 1), K - 1)])
    score = np.array([np.median(np.linalg.norm(ddim_kjump(denoiser, x_T, g, g[p]) - target,
                                               axis=1)) for p in pos])
    default = np.searchsorted(g, choose_boundaries(g, K))
    row = int(np.flatnonzero(np.all(pos == default, axis=1))[0])
    return Search(int(K), pos, score, int(np.argmin(score)), row)


@dataclass(frozen=True, eq=False)
class Result:
    """Per K (tuples of length len(Ks)): ``searches`` (:class:`Search` on the search noises),
    ``default`` and ``searched`` (the :class:`.cd.student_vs_optimum.Result` of the students
    at the two placements), ``score_ref`` ((default, searched) DDIM scores on the reference
    noises: does the search carry over?), ``vs_default`` (:class:`PairedComparison` of the
    searched student's errors against the default one's on the reference noises)."""

    config: Config
    Ks: tuple
    searches: tuple
    default: tuple
    searched: tuple
    score_ref: tuple
    vs_default: tuple


@cached
def run(cfg: Config = Config()) -> Result:
    c = cfg.mb.cd
    den = common.ideal_denoiser(c.data)
    grid = distill_grid(c.N)
    x_s = common.noise(den.data.d, cfg.n_search, cfg.search_seed)
    ref = common.reference(c.data, c.n_test, c.test_seed)
    target = teacher_chain(den, ref.x_T, grid[-1], grid[0], grid, c.solver)
    searches, default, searched, score_ref, vs = [], [], [], [], []
    for K in cfg.mb.Ks:
        s = search(den, grid, c.solver, int(K), x_s)
        d = student_vs_optimum.run(cfg.student_config(K))
        b = student_vs_optimum.run(cfg.student_config(K, s.positions[s.best]))
        score_ref.append(tuple(
            float(np.median(np.linalg.norm(ddim_kjump(den, ref.x_T, grid, grid[p]) - target,
                                           axis=1)))
            for p in (s.positions[s.default], s.positions[s.best])))
        vs.append(paired_bootstrap(b.measure.errors, d.measure.errors, cfg.n_boot,
                                   rng=cfg.search_seed))
        searches.append(s)
        default.append(d)
        searched.append(b)
    return Result(config=cfg, Ks=tuple(int(k) for k in cfg.mb.Ks), searches=tuple(searches),
                  default=tuple(default), searched=tuple(searched), score_ref=tuple(score_ref),
                  vs_default=tuple(vs))


def _ci(v: PairedComparison) -> str:
    return f"{v.diff:+.3g} [{v.lo:.3g}, {v.hi:.3g}]"


def plot(result: Result, ax=None):
    """Left: the search (score against b_1); right: the trained students at both placements."""
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(14, 5.4))
    a1, a2 = ax
    fig = a1.figure
    r = result
    grid = distill_grid(r.config.mb.cd.N)
    cols = plt.get_cmap("tab10")([0, 2, 3, 4])
    for j, s in enumerate(r.searches):
        b1 = s.positions[:, 1]
        lowest = np.array([s.score[b1 == i].min() for i in np.unique(b1)])
        a1.loglog(grid[np.unique(b1)], lowest, "o-", ms=3, c=cols[j],
                  label=f"K = {s.K}: default {s.score[s.default]:.3g}, "
                        f"searched {s.score[s.best]:.3g}")
        a1.scatter(grid[s.positions[s.default, 1]], s.score[s.default], marker="s", s=70,
                   facecolors="none", edgecolors=cols[j], zorder=4)
        a1.scatter(grid[s.positions[s.best, 1]], s.score[s.best], marker="*", s=140,
                   color=cols[j], zorder=4)
    a1.set_xlabel(r"lowest interior boundary $b_1$ (the others: best for this $b_1$)")
    a1.set_ylabel("median |K DDIM jumps - exact optimum's K jumps|")
    a1.set_title(f"The search ({r.config.n_search} search noises): square default, "
                 "star searched", fontsize=10)
    a1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    x = np.arange(len(r.Ks))
    w = 0.35
    e_def = [d.measure.err_median for d in r.default]
    e_sea = [b.measure.err_median for b in r.searched]
    a2.bar(x - w / 2, e_def, w, color="0.6", label="default boundaries (choose_boundaries)")
    a2.bar(x + w / 2, e_sea, w, color="tab:blue", label="searched boundaries")
    a2.axhline(r.default[0].measure_oracle.err_median, c="tab:orange", ls=":",
               label=f"exact optimum, any placement "
                     f"({r.default[0].measure_oracle.err_median:.2g})")
    for j in range(len(r.Ks)):
        for dx, res in ((-w / 2, r.default[j]), (w / 2, r.searched[j])):
            a2.annotate("b = " + ", ".join(f"{v:.2g}" for v in res.boundaries[1:]),
                        (x[j] + dx, res.measure.err_median), ha="center", fontsize=7,
                        textcoords="offset points", xytext=(0, 3))
    a2.set_xticks(x, [f"K = {k}" for k in r.Ks])
    a2.set_ylabel(r"median |K-jump sample - exact ODE state at $\sigma_{min}$|")
    a2.set_title("Trained students, searched vs default (paired 95% CI of the median "
                 "difference):\n" + "; ".join(
                     f"K = {k}: {v.verdict} ({_ci(v)})" for k, v in zip(r.Ks, r.vs_default)),
                 fontsize=9)
    a2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    t = r.config.mb.cd.train
    fig.suptitle(f"Boundary placement on {r.config.mb.cd.data}: each student MLP "
                 f"{r.config.mb.cd.hidden}x{r.config.mb.cd.depth}, {t.steps} steps x batch "
                 f"{t.batch}; compared on {r.config.mb.cd.n_test} reference noises")
    fig.tight_layout()
    return fig


#: the summary table's searched-boundary students (the MBCD budget of :data:`mbcd.SUMMARY`)
SUMMARY = Config()


def summary_config(data: str = "clusters") -> Config | None:
    """The Config of the summary table's searched-boundary students on ``data``; None for the
    image sets (a search there trains a d = 64 student per K: beyond the figure budget)."""
    if data in common.IMAGE_DATASETS:
        return None
    return replace(SUMMARY, mb=mbcd.summary_config(data))


def summary_rows(result: Result) -> list:
    """One row per K: the student at the searched boundaries (the default-placement students
    are :func:`mbcd.summary_rows`' rows)."""
    r = result
    rows = []
    for s, b in zip(r.searches, r.searched):
        c, t = b.config, b.config.train
        rows.append(common.SummaryRow(
            c.data, f"MBCD (K={s.K}, searched boundaries)", s.K, int(b.teacher_evals),
            b.measure.err_median, b.measure_oracle.err_median, b.err_to_oracle,
            b.measure.same_basin,
            f"MLP {c.hidden}x{c.depth} ({c.param}), {t.steps} steps x batch {t.batch}, "
            f"mu {t.ema}; N={c.N} {c.solver} grid; boundaries "
            + ", ".join(f"{v:.3g}" for v in b.boundaries) + f" (searched on "
            f"{r.config.n_search} other noises); {c.n_test} noises",
            samples=b.sample, optimum_samples=b.sample_oracle))
    return rows


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("mbcd_boundaries",
                "3. Multiboundary CD: where to put the boundaries: every placement scored by "
                "its K DDIM jumps against the exact optimum, and students trained at the "
                "searched and the default boundaries (the summary's MBCD budget), with paired "
                "CIs",
                lambda: plot(run(Config())), group="cd"),
)
