"""Flow matching and rectified flow with exact velocities (slide "Moving towards fast DMs").

Measured on held-out noises of :func:`~ideal_diffusion.experiments.common.reference`
(x_T = 80 eps; FM start t_max eps at t_max = 80/81; samples are states at t_min, compared in
VE scale x / (1 - t_min) with the exact ODE state at sigma_min; never snapped):

* FM/VE agreement: the FM ODE solved in t (DOP853) against the reference VE solve;
* chord deviation of the same paths drawn in VE (sigma) and FM (t) coordinates;
* Euler in t (uniform t grid) against Euler in sigma (Karras grid) at equal NFE;
* straightness (median relative chord deviation, median first-step angle of a fine
  ``n_path``-step path) of the ideal 1-rectified flow (DOP853 at the path's times), the exact
  2-rectified flow (Euler with ``n_path`` steps: v2 is discontinuous across basin images, so a
  fixed fine step) and the reflow student (DOP853);
* few-step Euler error (NFE 1, 2, 4) of v2 and of the student against the exact map, and the
  teacher evaluations spent on the pairs.

The v2 measurements use the first ``n_eval`` reference noises (each v2 evaluation runs basin
solves); the basin oracle uses rtol = atol = ``basin_tol``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ..distill.flow import T_MAX, T_MIN, IdealVelocity, euler_t, flow_path, uniform_t
from ..distill.reflow import BasinOracle, RectifiedVelocity, train_reflow
from ..geometry import chord_deviation, first_step_angle
from ..nn import TrainConfig
from ..solvers import sample
from ._cache import cached
from .common import SummaryRow, ideal_denoiser, measure, reference, sampler_sigmas

__all__ = ["Config", "Result", "run", "plot", "summary_rows"]


@dataclass(frozen=True)
class Config:
    """Every knob of the flow experiment (figure settings included)."""

    data: str = "clusters"
    n_ref: int = 400
    ref_seed: int = 2024
    n_eval: int = 64
    steps: tuple = (1, 2, 4, 8)
    n_path: int = 32
    basin_tol: float = 1e-7
    n_pairs: int = 4000
    train: TrainConfig = TrainConfig(steps=1500, batch=256, lr=2e-3, warmup=100, seed=0)
    hidden: int = 64
    depth: int = 3


@dataclass(frozen=True, eq=False)
class Result:
    """Numbers of the flow experiment (medians over the held-out noises).

    Attributes
    ----------
    fm_ve_rel_max : float -- max relative |x_FM(t_min) - (1 - t_min) x_VE(sigma_min)|
    chord_ve, chord_fm : float -- median relative chord deviation of the same paths (VE, FM)
    steps : (S,) int; err_euler_t, err_euler_sigma : (S,) median errors at those NFE
    straight : dict-free triple of (chord, angle) per flow: chord_1, chord_2, chord_student,
        angle_1, angle_2, angle_student (medians; angles in radians)
    err_v2, err_student, err_student_to_v2 : (S,) medians at the same NFE (first n_eval noises)
    teacher_evals_pairs : int; v2_evals_per_sample : float (basin-solve evaluations per sample
        per v2 sampling run at the largest NFE)
    paths_v2 : (n_path + 1, n_eval, 2) states of the 2-rectified flow; eps : (n_eval, 2)
    """

    cfg: Config
    fm_ve_rel_max: float
    chord_ve: float
    chord_fm: float
    steps: np.ndarray
    err_euler_t: np.ndarray
    err_euler_sigma: np.ndarray
    chord_1: float
    chord_2: float
    chord_student: float
    angle_1: float
    angle_2: float
    angle_student: float
    err_v2: np.ndarray
    err_student: np.ndarray
    err_student_to_v2: np.ndarray
    teacher_evals_pairs: int
    v2_evals_per_sample: float
    train_seconds: float
    paths_1: np.ndarray
    paths_v2: np.ndarray
    paths_student: np.ndarray
    chord_v2_rows: np.ndarray


def _to_ve(x):
    return x / (1.0 - T_MIN)


def _straightness(states):
    return (float(np.median(chord_deviation(states, relative=True))),
            float(np.nanmedian(first_step_angle(states))))


@cached
def run(cfg: Config = Config()) -> Result:
    D = ideal_denoiser(cfg.data)
    ref = reference(cfg.data, cfg.n_ref, cfg.ref_seed)
    v1 = IdealVelocity(D)
    x_start = (1.0 - T_MAX) * ref.x_T  # = t_max eps
    # FM / VE agreement and the paths in both coordinates
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
        e_s.append(measure(sample(D, ref.x_T, sampler_sigmas(int(n)), "euler"), ref).err_median)
    # straightness of the three flows on the first n_eval noises
    m = cfg.n_eval
    x0, exact = x_start[:m], ref.x_exact[:m]
    c1, a1 = _straightness(path[:, :m])
    oracle = BasinOracle(D, rtol=cfg.basin_tol, atol=cfg.basin_tol)
    t0 = time.perf_counter()
    res = train_reflow(oracle, cfg.n_pairs, cfg.train, cfg.hidden, cfg.depth)
    secs = time.perf_counter() - t0
    v2 = RectifiedVelocity(oracle)
    _, p2 = euler_t(v2, x0, ts, return_trajectory=True)
    c2, a2 = _straightness(p2)
    ps = flow_path(res.student, x0, ts, rtol=1e-8, atol=1e-8)
    cs, as_ = _straightness(ps)
    err = lambda x: np.linalg.norm(_to_ve(x) - exact, axis=1)  # noqa: E731
    ev2, est, e2s = [], [], []
    for n in steps:
        before = oracle.teacher_evals
        xv = euler_t(v2, x0, uniform_t(int(n)))
        per_sample = (oracle.teacher_evals - before) / m
        xs = euler_t(res.student, x0, uniform_t(int(n)))
        ev2.append(float(np.median(err(xv))))
        est.append(float(np.median(err(xs))))
        e2s.append(float(np.median(np.linalg.norm(_to_ve(xs - xv), axis=1))))
    return Result(cfg, float(rel.max()), chord_ve, chord_fm, steps, np.array(e_t), np.array(e_s),
                  c1, c2, cs, a1, a2, as_, np.array(ev2), np.array(est), np.array(e2s),
                  res.teacher_evals, float(per_sample), secs, path[:, :m], p2, ps,
                  chord_deviation(p2, relative=True))


def plot(result: Result, ax=None):
    """Paths of the 1-rectified flow, the exact 2-rectified flow and the reflow student."""
    r = result
    if ax is None:
        fig, axes = plt.subplots(1, 3, figsize=(14, 4.6), sharex=True, sharey=True)
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    from .common import dataset
    pts = dataset(r.cfg.data).points
    for a, p, name, c in zip(axes, (r.paths_1, r.paths_v2, r.paths_student),
                             ("ideal flow matching (1-rectified)", "exact 2-rectified flow $v_2$",
                              "reflow student"), (r.chord_1, r.chord_2, r.chord_student)):
        a.plot(p[:, :, 0], p[:, :, 1], lw=0.6, c="tab:blue", alpha=0.6)
        a.scatter(pts[:, 0], pts[:, 1], s=30, marker="*", c="k", zorder=3)
        a.set_title(f"{name}\nmedian relative chord deviation {c:.3g}", fontsize=10)
        a.set_xlabel("$x_1$")
        a.set_aspect("equal")
    axes[0].set_ylabel("$x_2$")
    fig.suptitle("Moving towards fast DMs: flow-based approaches straighten trajectories "
                 r"(paths from $t_{max}\,\epsilon$ to $t_{min}$)")
    fig.tight_layout()
    return fig


def summary_rows(data: str = "clusters") -> list[SummaryRow]:
    """Rows at NFE 1, 2, 4: the reflow student and Euler on the exact 2-rectified velocity.

    2-D sets only: for ``"digits"`` every v2 evaluation needs basin solves of up to 1,797
    candidates per point, far beyond the ~60 s budget, so no rows are returned. Errors are
    medians over the first ``n_eval`` reference noises.
    """
    if data == "digits":
        return []
    r = run(Config(data=data))
    rows = []
    for n, ev, es, e2 in zip(r.steps, r.err_v2, r.err_student, r.err_student_to_v2):
        if n not in (1, 2, 4):
            continue
        rows.append(SummaryRow(data, f"reflow student (Euler in t, {n} steps)", int(n),
                               r.teacher_evals_pairs, float(es), float(ev), float(e2), np.nan,
                               notes=f"{r.cfg.n_pairs} exact pairs (basin solves); "
                                     f"first {r.cfg.n_eval} noises"))
        rows.append(SummaryRow(data, f"Euler on the exact 2-rectified velocity ({n} steps)",
                               int(n), 0, float(ev), float(ev), None, np.nan,
                               notes="oracle: every v2 call runs basin solves "
                                     f"(~{r.v2_evals_per_sample:.0f} teacher evals per sample "
                                     "at the largest NFE)"))
    return rows
