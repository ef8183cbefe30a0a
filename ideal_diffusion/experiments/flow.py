"""Flow matching and rectified flow with exact velocities (slide "Moving towards fast DMs").

Measured on held-out noises of :func:`~ideal_diffusion.experiments.common.reference`
(x_T = 80 eps; FM start t_max eps at t_max = 80/81; samples are states at t_min, compared in
VE scale x / (1 - t_min) with the exact ODE state at sigma_min; never snapped):

* FM/VE agreement: the FM ODE solved in t (DOP853) against the reference VE solve (all
  ``n_ref`` noises);
* chord deviation of the same paths drawn in VE (sigma) and FM (t) coordinates;
* Euler in t (uniform t grid) against Euler in sigma (Karras grid) at equal NFE;
* straightness (median relative chord deviation, median first-step angle of an
  ``n_path``-step path) of the ideal 1-rectified flow (DOP853 at the path's times), the exact
  2-rectified flow v2 (Euler with ``n_path`` steps: v2 is discontinuous, so a fixed step) and
  the reflow student (DOP853), on the first ``n_eval`` noises;
* few-step Euler errors (NFE in ``v2_steps``) of v2 (first ``n_eval`` noises) and of the
  student (all noises, and against v2 on the first ``n_eval``), and the teacher evaluations
  spent on the pairs;
* where the exact v2 is not straight: ``n_edge`` pairs of held-out noises whose basins
  differ are cut by k-section (:func:`~ideal_diffusion.distill.reflow.support_edge`, oracle at
  ``edge_tol``) down to ``edge_delta`` at the edge of a 2-rectified line bundle; v2 paths
  (``edge_steps`` Euler steps) from just inside and just outside the edge are measured.

Basin solves are the cost (each v2 call solves the ODE for up to 20 candidate noises per
row): the main oracle runs at rtol = atol = ``basin_tol`` = 1e-6, and ``Result.basin_agree``
counts how many of the ``n_ref`` reference noises it assigns to the basin of the reference's
1e-9 solve. The edge experiment needs a finer oracle (``edge_tol`` = 1e-8) because its starts
lie ``edge_delta`` from a basin boundary; both oracles are deterministic functions of their
call sequence.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ..distill.flow import T_MAX, T_MIN, IdealVelocity, euler_t, flow_path, uniform_t
from ..distill.reflow import (
    BasinOracle,
    RectifiedVelocity,
    rectified_velocity,
    support_edge,
    train_reflow,
)
from ..geometry import chord_deviation, first_step_angle
from ..nn import TrainConfig
from ..schedules import SIGMA_MAX, sampling_grid
from ..solvers import sample
from . import _checks as check
from ._cache import cached
from ._figure import SlideFigure
from .common import IMAGE_DATASETS, SummaryRow, dataset, ideal_denoiser, measure, reference

__all__ = ["Config", "Result", "run", "plot", "plot_edge", "summary_config", "summary_rows"]


@dataclass(frozen=True)
class Config:
    """Every knob of the flow experiment (figure settings included)."""

    data: str = "clusters"
    n_ref: int = 400
    ref_seed: int = 2024
    n_eval: int = 8
    steps: tuple = (1, 2, 4, 8)
    v2_steps: tuple = (1, 2, 4)
    n_path: int = 8
    basin_tol: float = 1e-6
    n_pairs: int = 2000
    train: TrainConfig = TrainConfig(steps=600, batch=128, lr=2e-3, warmup=60, seed=0)
    hidden: int = 64
    depth: int = 3
    n_edge: int = 3
    edge_tol: float = 1e-8
    edge_delta: float = 1e-4
    edge_steps: int = 6

    def __post_init__(self):
        check.dataset(self, "data")
        check.integer(self, "n_ref", 2)
        check.integer(self, "ref_seed", 0)
        check.integer(self, "n_eval", 1, self.n_ref)
        check.integers(self, "steps", 1)
        check.integers(self, "v2_steps", 1)
        check.integer(self, "n_path", 1)
        check.real(self, "basin_tol", 0.0, lo_open=True)
        check.integer(self, "n_pairs", 1)
        check.instance(self, "train", TrainConfig)
        check.integer(self, "hidden", 1)
        check.integer(self, "depth", 1)
        check.integer(self, "n_edge", 1, self.n_ref // 2)  # disjoint pairs of held-out noises
        check.real(self, "edge_tol", 0.0, lo_open=True)
        check.real(self, "edge_delta", 0.0, lo_open=True)
        check.integer(self, "edge_steps", 1)


@dataclass(frozen=True, eq=False)
class Result:
    """Numbers of the flow experiment (medians unless stated; angles in radians).

    Attributes
    ----------
    config : Config
    fm_ve_rel_max : float -- max relative |x_FM(t_min) - (1 - t_min) x_VE(sigma_min)| (n_ref)
    chord_ve, chord_fm : float -- median relative chord deviation of the same paths (VE, FM)
    steps : (S,) int; err_euler_t, err_euler_sigma : (S,) median errors at those NFE (n_ref)
    basin_agree : int -- reference noises whose basin (oracle at ``basin_tol``) is that of the
        reference solve, out of n_ref
    chord_1, chord_2, chord_student, angle_1, angle_2, angle_student : float -- straightness of
        the 1-rectified flow, the exact 2-rectified flow and the reflow student (n_eval noises)
    chord_1_rows, chord_2_rows, chord_student_rows : (n_eval,) per-path chord deviations
    v2_steps : (V,) int
    err_v2 : (V,) -- Euler on v2 vs the exact ODE (n_eval noises)
    err_student : (V,) -- the student vs the exact ODE (all n_ref noises)
    err_student_eval : (V,) -- the same on the n_eval noises
    err_student_to_v2 : (V,) -- student vs Euler on v2 at the same NFE (n_eval noises)
    v2_outside : int -- v2 evaluations (rows) outside the support in the main runs
    teacher_evals_pairs : int -- single-point teacher evaluations spent on the reflow pairs
    v2_evals_per_call : float -- basin-solve teacher evaluations per sample per v2 call on the
        ``n_path``-step path
    paths_1, paths_v2, paths_student : (n_path + 1, n_eval, d) states at ``uniform_t(n_path)``
    edge_in, edge_out : (n_edge, d) noises just inside / outside a line bundle's edge
    edge_label : (n_edge,) int -- the data point of the inside lines
    edge_sep : (n_edge,) |edge_in - edge_out|
    edge_paths_v2, edge_paths_student : (edge_steps + 1, 2 n_edge, d) -- rows: inside starts,
        then outside starts
    edge_chord, edge_angle, edge_chord_student : (2 n_edge,) per-path straightness
    edge_start_support : (2 n_edge,) bool -- the start t_max e lies in the support of p_t
    edge_start_lines : (2 n_edge,) int -- candidates with weight > 1e-3 at the start
    edge_outside : int -- v2 evaluations (rows) outside the support along the edge paths
    student_samples : tuple of (n_ref, d) arrays -- the student's Euler-in-t samples, VE
        coordinates, one per ``v2_steps`` entry
    v2_samples : tuple of (n_eval, d) arrays -- Euler on v2, the same (first n_eval noises)
    """

    config: Config
    fm_ve_rel_max: float
    chord_ve: float
    chord_fm: float
    steps: np.ndarray
    err_euler_t: np.ndarray
    err_euler_sigma: np.ndarray
    basin_agree: int
    chord_1: float
    chord_2: float
    chord_student: float
    angle_1: float
    angle_2: float
    angle_student: float
    chord_1_rows: np.ndarray
    chord_2_rows: np.ndarray
    chord_student_rows: np.ndarray
    v2_steps: np.ndarray
    err_v2: np.ndarray
    err_student: np.ndarray
    err_student_eval: np.ndarray
    err_student_to_v2: np.ndarray
    v2_outside: int
    teacher_evals_pairs: int
    v2_evals_per_call: float
    train_seconds: float
    paths_1: np.ndarray
    paths_v2: np.ndarray
    paths_student: np.ndarray
    edge_in: np.ndarray
    edge_out: np.ndarray
    edge_label: np.ndarray
    edge_sep: np.ndarray
    edge_paths_v2: np.ndarray
    edge_paths_student: np.ndarray
    edge_chord: np.ndarray
    edge_angle: np.ndarray
    edge_chord_student: np.ndarray
    edge_start_support: np.ndarray
    edge_start_lines: np.ndarray
    edge_outside: int
    student_samples: tuple = ()
    v2_samples: tuple = ()


def _to_ve(x):
    return x / (1.0 - T_MIN)


def _straightness(states):
    c = chord_deviation(states, relative=True)
    a = first_step_angle(states)
    return c, a, float(np.median(c)), float(np.nanmedian(a))


def _edge_pairs(basin, n):
    """The first n disjoint consecutive pairs (2i, 2i + 1) of noises with different basins."""
    idx = [i for i in range(0, basin.size - 1, 2) if basin[i] != basin[i + 1]][:n]
    if len(idx) < n:
        raise ValueError(f"only {len(idx)} pairs of held-out noises with different basins")
    return np.array(idx)


@cached
def run(cfg: Config = Config()) -> Result:
    D = ideal_denoiser(cfg.data)
    ref = reference(cfg.data, cfg.n_ref, cfg.ref_seed)
    v1 = IdealVelocity(D)
    x_start = (1.0 - T_MAX) * ref.x_T  # = t_max eps
    # FM / VE agreement and the paths in both coordinates (all noises)
    ts = uniform_t(cfg.n_path)
    path = flow_path(v1, x_start, ts, rtol=1e-10, atol=1e-10)
    rel = (np.linalg.norm(path[-1] - (1 - T_MIN) * ref.x_exact, axis=1)
           / np.linalg.norm(path[-1], axis=1))
    ve_states = path / (1.0 - ts)[:, None, None]
    chord_ve = float(np.median(chord_deviation(ve_states, relative=True)))
    chord_fm = float(np.median(chord_deviation(path, relative=True)))
    steps = np.array(cfg.steps)
    e_t, e_s = [], []
    for n in steps:
        e_t.append(measure(_to_ve(euler_t(v1, x_start, uniform_t(int(n)))), ref).err_median)
        e_s.append(measure(sample(D, ref.x_T, sampling_grid(int(n)), "euler"), ref).err_median)
    # the coupling: basins of the reference noises, then the reflow student
    oracle = BasinOracle(D, rtol=cfg.basin_tol, atol=cfg.basin_tol)
    agree = int(np.sum(oracle(ref.x_T / SIGMA_MAX) == ref.basin))
    t0 = time.perf_counter()
    res = train_reflow(oracle, cfg.n_pairs, cfg.train, hidden=cfg.hidden, depth=cfg.depth)
    secs = time.perf_counter() - t0
    # straightness of the three flows on the first n_eval noises
    m = cfg.n_eval
    x0, exact = x_start[:m], ref.x_exact[:m]
    c1r, _, c1, a1 = _straightness(path[:, :m])
    v2 = RectifiedVelocity(oracle)
    before = oracle.teacher_evals
    _, p2 = euler_t(v2, x0, ts, return_trajectory=True)
    per_call = (oracle.teacher_evals - before) / (m * cfg.n_path)
    c2r, _, c2, a2 = _straightness(p2)
    ps = flow_path(res.student, x0, ts, rtol=1e-8, atol=1e-8)
    csr, _, cs, as_ = _straightness(ps)

    def err(x, target):
        return np.linalg.norm(_to_ve(x) - target, axis=1)

    ev2, est, este, e2s, xs_all, xv_all = [], [], [], [], [], []
    for n in cfg.v2_steps:
        g = uniform_t(int(n))
        xv = euler_t(v2, x0, g)
        xs = euler_t(res.student, x_start, g)
        xs_all.append(_to_ve(xs))
        xv_all.append(_to_ve(xv))
        ev2.append(float(np.median(err(xv, exact))))
        est.append(float(np.median(err(xs, ref.x_exact))))
        este.append(float(np.median(err(xs[:m], exact))))
        e2s.append(float(np.median(np.linalg.norm(_to_ve(xs[:m] - xv), axis=1))))
    # where v2 is not straight: the edges of the line bundles
    idx = _edge_pairs(ref.basin, cfg.n_edge)
    eps = ref.x_T / SIGMA_MAX
    fine = BasinOracle(D, rtol=cfg.edge_tol, atol=cfg.edge_tol)
    e_in, e_out, lab = support_edge(fine, eps[idx], eps[idx + 1], T_MAX, cfg.edge_delta)
    starts = T_MAX * np.concatenate([e_in, e_out])
    _, sup, w = rectified_velocity(fine, starts, T_MAX, return_support=True, return_weights=True)
    te = uniform_t(cfg.edge_steps)
    v2f = RectifiedVelocity(fine)
    _, pe = euler_t(v2f, starts, te, return_trajectory=True)
    ce, ae, _, _ = _straightness(pe)
    pes = flow_path(res.student, starts, te, rtol=1e-8, atol=1e-8)
    return Result(
        config=cfg, fm_ve_rel_max=float(rel.max()), chord_ve=chord_ve, chord_fm=chord_fm,
        steps=steps, err_euler_t=np.array(e_t), err_euler_sigma=np.array(e_s),
        basin_agree=agree, chord_1=c1, chord_2=c2, chord_student=cs, angle_1=a1, angle_2=a2,
        angle_student=as_, chord_1_rows=c1r, chord_2_rows=c2r, chord_student_rows=csr,
        v2_steps=np.array(cfg.v2_steps), err_v2=np.array(ev2), err_student=np.array(est),
        err_student_eval=np.array(este), err_student_to_v2=np.array(e2s),
        v2_outside=v2.outside, teacher_evals_pairs=res.teacher_evals,
        student_samples=tuple(xs_all), v2_samples=tuple(xv_all),
        v2_evals_per_call=float(per_call), train_seconds=secs, paths_1=path[:, :m],
        paths_v2=p2, paths_student=ps, edge_in=e_in, edge_out=e_out, edge_label=lab,
        edge_sep=np.linalg.norm(e_in - e_out, axis=1), edge_paths_v2=pe,
        edge_paths_student=pes, edge_chord=ce, edge_angle=ae,
        edge_chord_student=chord_deviation(pes, relative=True), edge_start_support=sup,
        edge_start_lines=(w > 1e-3).sum(axis=1), edge_outside=v2f.outside)


def plot_edge(result: Result, ax=None):
    """Exact 2-rectified paths from just inside (straight) and just outside (bent) a bundle edge,
    with the reflow student's paths from the same starts."""
    r = result
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.6, 5.0))
    else:
        fig = ax.figure
    pts = dataset(r.config.data).points
    n = r.edge_in.shape[0]
    for i in range(2 * n):
        inside = i < n
        p, q = r.edge_paths_v2[:, i], r.edge_paths_student[:, i]
        ax.plot(q[:, 0], q[:, 1], c="0.55", lw=1.0, ls="--", zorder=1,
                label="reflow student, same starts" if i == 0 else None)
        ax.plot(p[:, 0], p[:, 1], "-", marker=".", ms=4, lw=1.3, zorder=2,
                c="tab:blue" if inside else "tab:red",
                label=(r"$v_2$ from just inside the bundle edge" if i == 0 else
                       r"$v_2$ from just outside (gap, $p_t = 0$)" if i == n else None))
    ax.scatter(pts[:, 0], pts[:, 1], s=30, marker="*", c="k", zorder=3, label="data points")
    ax.set_title("where the exact 2-rectified paths bend:\nstarts "
                 f"{r.config.edge_delta:.0e} apart across a bundle edge", fontsize=10)
    ax.set_xlabel("$x_1$")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    return fig


def plot(result: Result, ax=None):
    """Paths of the 1-rectified flow, the exact 2-rectified flow, the reflow student, and the
    edge panel (:func:`plot_edge`)."""
    r = result
    if ax is None:
        fig, axes = plt.subplots(1, 4, figsize=(18, 5.4))
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    pts = dataset(r.config.data).points
    for a, p, name, c in zip(axes, (r.paths_1, r.paths_v2, r.paths_student),
                             ("ideal flow matching (1-rectified)", "exact 2-rectified flow $v_2$",
                              "reflow student"), (r.chord_1, r.chord_2, r.chord_student)):
        a.plot(p[:, :, 0], p[:, :, 1], lw=0.8, c="tab:blue", alpha=0.7)
        a.scatter(pts[:, 0], pts[:, 1], s=30, marker="*", c="k", zorder=3)
        a.set_title(f"{name}\nmedian relative chord deviation {c:.2g}", fontsize=10)
        a.set_xlabel("$x_1$")
        a.set_aspect("equal")
    axes[0].set_ylabel("$x_2$")
    if len(axes) > 3:
        plot_edge(r, axes[3])
    fig.suptitle("Moving towards fast DMs: flow-based approaches straighten trajectories "
                 r"(paths from $t_{max}\,\epsilon$ to $t_{min}$)")
    fig.tight_layout()
    return fig


def summary_config(data: str = "clusters") -> Config | None:
    """The Config of the summary table's flow rows on ``data``; None for the image sets (see
    :func:`summary_rows`)."""
    return None if data in IMAGE_DATASETS else Config(data=data)


def summary_rows(result: Result) -> list[SummaryRow]:
    """Rows at NFE 1, 2, 4: the reflow student and Euler on the exact 2-rectified velocity.

    2-D sets only: for the digits every v2 evaluation needs basin solves of up to 1,797
    candidates per point, far beyond the figure budget, so :func:`summary_config` gives None.
    The student row carries its samples of all ``n_ref`` reference noises (error, CI and
    quality columns); its optimum (v2) columns are over the first ``n_eval`` of them, which
    ``n_optimum_noises`` names. The oracle row is over those ``n_eval`` noises only; its
    ``teacher_evals`` are the basin-solve evaluations its v2 calls cost per sample.
    """
    r = result
    c = r.config
    data = c.data
    rows = []
    for j, (n, ev, e2) in enumerate(zip(r.v2_steps, r.err_v2, r.err_student_to_v2)):
        if n not in (1, 2, 4):
            continue
        pl = "s" if n > 1 else ""
        xs = r.student_samples[j] if r.student_samples else None
        rows.append(SummaryRow(data, f"reflow student (Euler in t, {n} step{pl})", int(n),
                               r.teacher_evals_pairs, float(r.err_student[j]), float(ev),
                               float(e2), np.nan,
                               notes=f"{c.n_pairs} exact pairs (basin solves); optimum (v2) "
                                     f"columns on the first {c.n_eval} of {c.n_ref} noises",
                               samples=xs, n_optimum_noises=int(c.n_eval)))
        rows.append(SummaryRow(data, f"Euler on the exact 2-rectified velocity ({n} step{pl})",
                               int(n), int(round(r.v2_evals_per_call * n)), float(ev),
                               float(ev), None, np.nan,
                               notes=f"an oracle, on the first {c.n_eval} of {c.n_ref} noises: "
                                     f"its teacher evals are spent while sampling (basin "
                                     f"solves, ~{r.v2_evals_per_call:.0f} per sample per call)",
                               n_noises=int(c.n_eval), n_optimum_noises=int(c.n_eval)))
    return rows


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("flow_reflow_paths",
                "'Moving towards fast DMs: 1. Flow based approaches': ideal flow matching (= "
                "the VE PF-ODE) bends; the exact 2-rectified flow is straight except from "
                "starts outside its support (just beyond a line bundle's edge); the reflow "
                "student is nearly straight",
                lambda: plot(run(Config())), group="flow"),
)
