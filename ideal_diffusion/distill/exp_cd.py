"""Seeded, cached experiment runners of consistency distillation (issue 4, experiments 3-8).

Every runner returns plain numbers (dicts of floats and arrays) and is cached with
:func:`functools.lru_cache`, so figures, tests and the report share one trained student per
configuration within a process. The setting (chosen by measurement, see each runner):

* data: ``ring(8)`` (radius 1: neighbouring points 2 sin(pi/8) = 0.765 apart), teacher: the
  ideal denoiser with Heun steps on the distillation grid ``distill_grid(18)`` (ascending,
  s_1 = 0.002 < ... < s_18 = 80);
* student: MLP 128 x 3 (SiLU), boundary parameterisation, Adam lr 3e-3 (100 warm-up steps,
  cosine), batch 256, EMA target mu = 0.9, loss weights 1 / c_out^2 (:func:`cd.cd_weights`),
  one BLAS thread. mu = 0.9 against the stop-gradient mu = 0 halves the high-sigma error at
  the same 1500 steps (measured 0.21 -> 0.125 on held-out points at s = 80).

Grids are ascending as in :mod:`ideal_diffusion.distill.optima`. "Error against the exact
ODE" always compares with :func:`ideal_diffusion.geometry.exact_endpoints` of the same x_T.
"""
from __future__ import annotations

import time
from functools import cache, lru_cache

import numpy as np

from ..data import ring
from ..denoiser import IdealDenoiser
from ..geometry import exact_endpoints, sample_quality
from ..nn import blas_threads
from ..solvers import solve_ode
from .cd import CDResult, train_cd
from .mbcd import choose_boundaries
from .optima import (
    ConsistencyOracle,
    consistency_optimum,
    consistency_training_target,
    distill_grid,
    teacher_step,
)
from .sampling import default_taus, kjump_sample, multistep_sample

__all__ = [
    "CONFIG", "collapse", "mbcd_vs_K", "multistep_curve", "setting", "student",
    "student_vs_optimum", "summary_rows", "theorem1", "trajectory_consistency",
]

#: the experiment setting (data, grid, teacher, training hyper-parameters)
CONFIG = dict(ring=8, N=18, solver="heun", hidden=128, depth=3, batch=256, lr=3e-3, mu=0.9,
              steps=1200, weighting="cout", seed=0)
#: the collapse pair: steps and the AdamW weight decay of both runs (plain and boundary)
COLLAPSE = dict(steps=800, weight_decay=0.3)
#: held-out noise levels at which students are compared with the exact optimum
EVAL_SIGMAS_IDX = (2, 5, 8, 11, 14, 17)  # ascending-grid positions: 0.023 .. 80


@lru_cache(maxsize=1)
def setting():
    """``(data, denoiser, grid)``: ring(8), its ideal denoiser and the ascending 18-level grid."""
    data = ring(CONFIG["ring"])
    return data, IdealDenoiser(data), distill_grid(CONFIG["N"])


@cache
def student(K: int = 1, param: str = "consistency", steps: int = CONFIG["steps"],
            seed: int = CONFIG["seed"], weight_decay: float = 0.0) -> CDResult:
    """A trained CD (K = 1) or multi-boundary CD student of :data:`CONFIG` (cached).

    ``result.config["train_seconds"]`` holds the wall-clock training time (one BLAS thread;
    inflated when other processes share the two cores).
    """
    data, den, grid = setting()
    b = choose_boundaries(grid, K)
    c = CONFIG
    t0 = time.perf_counter()
    with blas_threads(1):
        res = train_cd(den, data, grid, c["solver"], b, param, c["mu"], steps, c["batch"],
                       c["lr"], 100, c["hidden"], c["depth"], seed, False, c["weighting"],
                       weight_decay)
    res.config["train_seconds"] = time.perf_counter() - t0
    return res


def _heldout(sigma_idx, n, seed):
    """n held-out noisy points per grid level: x0 ~ data, x = x0 + s eps (seeded)."""
    data, _, grid = setting()
    rng = np.random.default_rng(seed)
    out = []
    for i in sigma_idx:
        x0 = data.sample(n, rng)
        out.append(x0 + grid[i] * rng.standard_normal(x0.shape))
    return out


@cache
def student_vs_optimum(K: int = 1, n: int = 500, seed: int = 101, ct: bool = True) -> dict:
    """Median |f_student - f*| on held-out points at the levels :data:`EVAL_SIGMAS_IDX`.

    Returns
    -------
    dict with (L,) arrays over the levels (ascending sigma): ``sigma``, ``student`` (median
    |f - f*|), ``average`` (median |D(x, s) - f*|: the diffusion optimum's distance from the
    consistency optimum), ``ct`` (median |f_CT - f*|, the one-sample CT target's optimum;
    NaN at K > 1 or when ``ct`` is False), and ``spacing`` (0.765, neighbouring data points),
    ``train_seconds``.
    """
    data, den, grid = setting()
    res = student(K)
    b = res.boundaries
    keys = ("student", "average", "ct")
    out = {k: np.full(len(EVAL_SIGMAS_IDX), np.nan) for k in keys}
    for j, (i, x) in enumerate(zip(EVAL_SIGMAS_IDX, _heldout(EVAL_SIGMAS_IDX, n, seed))):
        s = np.full(n, grid[i])
        fs = consistency_optimum(den, x, s, grid, CONFIG["solver"], b)
        out["student"][j] = np.median(np.linalg.norm(res(x, s) - fs, axis=1))
        out["average"][j] = np.median(np.linalg.norm(den(x, s) - fs, axis=1))
        if ct and K == 1:
            f_ct = consistency_training_target(den, x, s, grid, CONFIG["solver"], b)
            out["ct"][j] = np.median(np.linalg.norm(f_ct - fs, axis=1))
    pts = data.points
    out["sigma"] = grid[list(EVAL_SIGMAS_IDX)]
    out["spacing"] = float(np.linalg.norm(pts[0] - pts[1]))
    out["train_seconds"] = res.config["train_seconds"]
    return out


def _spread(y):
    """RMS distance of the rows of y from their mean: how far outputs spread across inputs."""
    return float(np.sqrt(np.mean(np.sum((y - y.mean(axis=0)) ** 2, axis=1))))


@cache
def collapse(steps: int = COLLAPSE["steps"], weight_decay: float = COLLAPSE["weight_decay"],
             n: int = 500, seed: int = 102) -> dict:
    """CD with and without the boundary parameterisation, same seed, batches and steps.

    Both runs use the same AdamW weight decay: a pull of the weights towards 0 that the CD
    loss does not resist once outputs are consistent, so it exposes which runs have an anchor.
    (Without decay, measured over 800-1500 steps, the plain run does not shrink: at mu = 0.9
    its outputs keep their random-init spread ~1.05, at mu = 0 they drift to a spread ~10 with
    no relation to the data and a loss that does not fall. Either way nothing ties them to data.)

    Returns
    -------
    dict: ``sigma`` (L,), ``spread_plain`` / ``spread_bc`` (L,) RMS spread of the outputs
    across held-out inputs at each level, ``data_spread`` (RMS spread of the data, 1.0 for
    the unit ring), ``ratio_plain`` / ``ratio_bc`` (median over levels of spread / data
    spread), ``loss_plain`` / ``loss_bc`` (steps,) training losses, ``mean_plain`` (d,) the
    constant the plain student collapses to.
    """
    data, _, grid = setting()
    plain = student(1, "plain", steps, weight_decay=weight_decay)
    bc = student(1, "consistency", steps, weight_decay=weight_decay)
    xs = _heldout(EVAL_SIGMAS_IDX, n, seed)
    sp = np.array([_spread(plain(x, np.full(n, grid[i]))) for i, x in zip(EVAL_SIGMAS_IDX, xs)])
    sb = np.array([_spread(bc(x, np.full(n, grid[i]))) for i, x in zip(EVAL_SIGMAS_IDX, xs)])
    ds = _spread(data.points)
    return dict(sigma=grid[list(EVAL_SIGMAS_IDX)], spread_plain=sp, spread_bc=sb, data_spread=ds,
                ratio_plain=float(np.median(sp) / ds), ratio_bc=float(np.median(sb) / ds),
                loss_plain=plain.history, loss_bc=bc.history,
                mean_plain=plain(xs[-1], np.full(n, grid[EVAL_SIGMAS_IDX[-1]])).mean(axis=0))


@cache
def theorem1(Ns=(16, 32, 64, 128, 256), n: int = 48, seed: int = 5) -> dict:
    """Median |consistency_optimum(x_T, s_N) - exact ODE to s_1| vs grid size, Euler and Heun.

    The same x_T = 80 z (seeded) for every grid; the reference is DOP853 from 80 to 0.002 (the
    consistency function's own endpoint s_1, not the data point). Returns ``N`` (M,),
    ``h`` (M,) the mean log-spacing 1/(N - 1) of the Karras grid in its rho-warped coordinate
    (proportional to every step), ``euler`` / ``heun`` (M,) median errors and the fitted orders
    ``p_euler`` / ``p_heun`` (slope of log error against log N, sign flipped).
    """
    data, den, _ = setting()
    x_T = 80 * np.random.default_rng(seed).standard_normal((n, data.d))
    ref = solve_ode(den, x_T, 80.0, 0.002)
    Ns = np.asarray(Ns)
    out = {"N": Ns, "h": 1.0 / (Ns - 1)}
    for solver in ("euler", "heun"):
        errs = []
        for N in Ns:
            g = distill_grid(int(N))
            f = consistency_optimum(den, x_T, g[-1], g, solver)
            errs.append(np.median(np.linalg.norm(f - ref, axis=1)))
        out[solver] = np.array(errs)
        out[f"p_{solver}"] = float(-np.polyfit(np.log(Ns), np.log(errs), 1)[0])
    return out


@lru_cache(maxsize=1)
def _noise(n: int = 400, seed: int = 103):
    """Shared sampling noise x_T = 80 z and its exact ODE endpoints (data points)."""
    data, den, _ = setting()
    x_T = 80 * np.random.default_rng(seed).standard_normal((n, data.d))
    return x_T, exact_endpoints(den, x_T)


@cache
def multistep_curve(max_steps: int = 8, seed: int = 104) -> dict:
    """Stochastic multistep consistency sampling, 1..max_steps evaluations, student and oracle.

    The taus are :func:`sampling.default_taus` (grid values, Karras-spread); the same x_T and
    the same re-noising draws (seed) for student and oracle. Returns ``steps`` (S,) and, for
    ``who`` in (student, oracle), ``{who}_exact`` (median distance to the exact ODE endpoint
    of the same x_T), ``{who}_data`` (median distance to the nearest data point), and
    ``{who}_basin`` (fraction in the exact endpoint's basin), each (S,).
    """
    data, den, grid = setting()
    x_T, exact = _noise()
    fs = {"student": student(1), "oracle": ConsistencyOracle(den, grid, CONFIG["solver"])}
    steps = np.arange(1, max_steps + 1)
    out = {"steps": steps}
    for who, f in fs.items():
        q = [sample_quality(data, multistep_sample(f, x_T, grid, default_taus(grid, int(k)),
                                                   rng=seed), exact) for k in steps]
        out[f"{who}_exact"] = np.array([x.median_dist_to_exact for x in q])
        out[f"{who}_data"] = np.array([x.median_dist_to_data for x in q])
        out[f"{who}_basin"] = np.array([x.frac_same_basin for x in q])
    return out


@cache
def mbcd_vs_K(Ks=(1, 2, 4)) -> dict:
    """K-jump sampling of the trained K-boundary students and of their oracles.

    Returns ``K`` (M,), ``student_exact`` / ``oracle_exact`` (median distance to the exact
    ODE endpoint of the same x_T), ``student_data`` / ``oracle_data`` (median distance to the
    nearest data point), ``student_basin`` / ``oracle_basin`` (fraction in the exact basin),
    ``student_vs_oracle`` (median |student sample - oracle sample|), ``teacher_evals`` and
    ``train_seconds`` (M,).
    """
    data, den, grid = setting()
    x_T, exact = _noise()
    keys = ("student_exact", "oracle_exact", "student_data", "oracle_data", "student_basin",
            "oracle_basin", "student_vs_oracle", "teacher_evals", "train_seconds")
    out = {k: [] for k in keys}
    for K in Ks:
        res = student(K)
        orc = ConsistencyOracle(den, grid, CONFIG["solver"], res.boundaries)
        xs = kjump_sample(res, x_T, grid, res.boundaries)
        xo = kjump_sample(orc, x_T, grid, res.boundaries)
        for who, x in (("student", xs), ("oracle", xo)):
            q = sample_quality(data, x, exact)
            out[f"{who}_exact"].append(q.median_dist_to_exact)
            out[f"{who}_data"].append(q.median_dist_to_data)
            out[f"{who}_basin"].append(q.frac_same_basin)
        out["student_vs_oracle"].append(float(np.median(np.linalg.norm(xs - xo, axis=1))))
        out["teacher_evals"].append(res.teacher_evals)
        out["train_seconds"].append(res.config["train_seconds"])
    out = {k: np.asarray(v) for k, v in out.items()}
    out["K"] = np.asarray(Ks)
    return out


def summary_rows() -> list[dict]:
    """Rows of the summary table (lecture row 22) for CD (K = 1) and MBCD (K = 2, 4).

    Each row: ``method``, ``teacher_evals`` (denoiser evaluations spent in training, per
    sample), ``student_steps`` (K network evaluations per sample), ``median_dist_to_exact``
    and ``frac_same_basin`` of K-jump samples against the exact ODE endpoint of the same x_T
    (400 noises), ``notes``.
    """
    m = mbcd_vs_K((1, 2, 4))
    c = CONFIG
    rows = []
    for j, K in enumerate(m["K"]):
        rows.append(dict(
            method="CD" if K == 1 else f"MBCD (K={K})", teacher_evals=int(m["teacher_evals"][j]),
            student_steps=int(K), median_dist_to_exact=float(m["student_exact"][j]),
            frac_same_basin=float(m["student_basin"][j]),
            notes=(f"ring({c['ring']}), N={c['N']} {c['solver']} grid, MLP {c['hidden']}x"
                   f"{c['depth']}, {c['steps']} steps x batch {c['batch']}; oracle: "
                   f"{m['oracle_exact'][j]:.3g}")))
    return rows


@cache
def trajectory_consistency(n_traj: int = 6, seed: int = 105) -> dict:
    """Points along teacher trajectories and where the student and oracle send them (row 15).

    Returns ``sigma`` (L,) ascending grid levels, ``states`` (L, n_traj, d) the teacher chain
    from s_N (x_T = 80 z) down to s_1, ``student`` / ``oracle`` (L, n_traj, d) f at each state.
    """
    data, den, grid = setting()
    x = 80 * np.random.default_rng(seed).standard_normal((n_traj, data.d))
    res = student(1)
    orc = ConsistencyOracle(den, grid, CONFIG["solver"])
    states = np.empty((grid.size, n_traj, data.d))
    states[-1] = x
    for i in range(grid.size - 1, 0, -1):
        states[i - 1] = teacher_step(den, states[i], grid[i], grid[i - 1], CONFIG["solver"])
    s = lambda i: np.full(n_traj, grid[i])  # noqa: E731
    return dict(sigma=grid, states=states,
                student=np.stack([res(states[i], s(i)) for i in range(grid.size)]),
                oracle=np.stack([orc(states[i], s(i)) for i in range(grid.size)]))

