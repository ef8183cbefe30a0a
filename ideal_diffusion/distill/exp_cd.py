"""Seeded, cached experiment runners of consistency distillation (issue 4, experiments 3-8).

Every runner returns plain numbers (dicts of floats and arrays) and is cached with
:func:`functools.lru_cache`, so figures, tests and the report share one trained student per
configuration within a process. The setting (chosen by measurement, see each runner):

* data: ``ring(8)`` (radius 1: neighbouring points 2 sin(pi/8) = 0.765 apart), teacher: the
  ideal denoiser with Heun steps on the distillation grid ``distill_grid(18)`` (ascending,
  s_1 = 0.002 < ... < s_18 = 80);
* student: MLP 128 x 3 (SiLU), boundary parameterisation, Adam lr 3e-3 (100 warm-up steps,
  cosine), 1600 steps x batch 128 (cheaper per step than 1200 x 256 and better: measured
  K = 1 0.118 vs 0.140, K = 4 0.020 vs 0.045 at 2000 x 128), EMA target mu = 0.9, loss
  weights 1 / c_out^2 (:func:`cd.cd_weights`), one BLAS thread. mu = 0.9 against the
  stop-gradient mu = 0 halves the high-sigma error at the same 1500 steps
  (measured 0.21 -> 0.125 on held-out points at s = 80).
* multi-boundary students (K > 1) use :class:`cd.JumpEDMParam` (``CONFIG["mbcd_param"]``), the
  K = 1 student ``ConsistencyParam`` (the paper's form; the two agree to 3 digits at K = 1).

MBCD, measured with :data:`CONFIG` (1600 x 128, seed 0; median |K-jump sample - exact ODE
endpoint|, 400 noises): K = 1 0.148, K = 2 0.162, K = 4 0.043, the oracle 0.002 for every K.
Earlier at 1200 x 256 (seed 0 / seed 1): K = 1: 0.140 / 0.173, K = 2: 0.164 / 0.148,
K = 4: 0.045 / 0.072. At 1200 x 256 with ``ConsistencyParam`` for every segment it got *worse*
with K (0.14, 0.23, 0.37): relative to a boundary b >> sigma_data its F must output
states of size b / sd.
Plain ``JumpParam``: 0.21, 0.21, 0.19 (no skip connection at low sigma). With
``"jump_edm"`` at K = 1: 0.1398 against 0.1402. Budget (seed 0, batch 256; 600 / 1200 /
2400 steps):
K = 1: 0.26 / 0.14 / 0.077, K = 2: 0.22 / 0.16 / 0.057, K = 4: 0.19 / 0.045 / 0.011
(:func:`mbcd_budget`). Per-level training samples do not depend on K (n is uniform on the
grid); what K changes is where the hard part sits. The error of the final sample comes
almost entirely from the bottom jump (:func:`mbcd_vs_K` ``jump_error``): the basin decision
happens at sigma ~ 0.3-2, which for K = 2 lies inside the bottom segment (0.002, 1.92], so
K = 2 is no easier than K = 1; for K = 4 the bottom segment is (0.002, 0.14], where the map
is nearly the projection on the nearest point. Upper jumps' errors are contracted by the
exact flow (each alone moves the final sample by <= 0.002), but the student's next jump
contracts them less well: the 4-jump error (0.043) exceeds the sum of the single-jump
errors (0.023).

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
from ..nn import TrainConfig
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
    "CONFIG", "collapse", "mbcd_budget", "mbcd_vs_K", "multistep_curve", "setting", "student",
    "student_vs_optimum", "summary_rows", "theorem1", "trajectory_consistency",
]

#: the experiment setting (data, grid, teacher, training hyper-parameters)
CONFIG = dict(ring=8, N=18, solver="heun", hidden=128, depth=3, batch=128, lr=3e-3, mu=0.9,
              steps=1600, weighting="cout", seed=0, mbcd_param="jump_edm")
#: the collapse runs: steps and the AdamW weight decay of the plain and boundary runs (a third,
#: plain run without decay is the control)
COLLAPSE = dict(steps=400, weight_decay=1.0, batch=256)
#: held-out noise levels at which students are compared with the exact optimum
EVAL_SIGMAS_IDX = (2, 5, 8, 11, 14, 17)  # ascending-grid positions: 0.023 .. 80


@lru_cache(maxsize=1)
def setting():
    """``(data, denoiser, grid)``: ring(8), its ideal denoiser and the ascending 18-level grid."""
    data = ring(CONFIG["ring"])
    return data, IdealDenoiser(data), distill_grid(CONFIG["N"])


def student(K: int = 1, param: str | None = None, steps: int | None = None,
            seed: int = CONFIG["seed"], weight_decay: float = 0.0) -> CDResult:
    """A trained CD (K = 1) or multi-boundary CD student of :data:`CONFIG` (cached).

    ``param`` None: ``"consistency"`` for K = 1, ``CONFIG["mbcd_param"]`` (``"jump_edm"``) for
    K > 1. ``steps`` None: ``CONFIG["steps"]``, read at call time, so setting
    ``CONFIG["steps"]`` before any runner is called shrinks every student (the notebooks' FAST
    mode does this). ``result.train_seconds`` holds the wall-clock training time
    (one BLAS thread; inflated when other processes share the two cores).
    """
    if param is None:
        param = "consistency" if K == 1 else CONFIG["mbcd_param"]
    if steps is None:
        steps = CONFIG["steps"]
    return _student(int(K), param, int(steps), int(seed), float(weight_decay))


@cache
def _student(K, param, steps, seed, weight_decay) -> CDResult:
    data, den, grid = setting()
    b = choose_boundaries(grid, K)
    c = CONFIG
    train = TrainConfig(steps=steps, batch=c["batch"], lr=c["lr"], warmup=100, ema=c["mu"],
                        seed=seed, weight_decay=weight_decay, progress=False)
    return train_cd(den, data, grid, c["solver"], b, train, param=param, hidden=c["hidden"],
                    depth=c["depth"], weighting=c["weighting"])


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
             n: int = 200, seed: int = 102, every: int = 25) -> dict:
    """CD with and without the boundary parameterisation, same seed, batches and steps.

    Three runs of :data:`CONFIG` (mu = 0.9): ``plain`` and ``bc`` (boundary parameterisation)
    with the same AdamW weight decay, a pull of the weights towards 0 that the CD loss does not
    resist once outputs are consistent; and ``plain0``, plain without decay (the control). The
    output spread is traced over training on fixed held-out inputs.

    Measured (400 steps, decay 1.0): from the random-init spread 0.67 the plain outputs shrink
    to 0.37 within 50 steps while the loss falls 0.46 -> 0.007, then stay at 0.35-0.43 (loss
    0.002); the boundary run grows to the data's spread 1.0 within 125 steps. Without decay the
    plain run also shrinks first (0.38 at step 75) and then drifts up to 0.8, with nothing tying
    it to the data (median |f - f*| 0.99, the ring's radius; 0.87 with decay; boundary run
    0.30, whose high levels are still coarse after 400 steps with decay). With
    mu = 0 (stop-gradient) the plain run is unstable (spread 0.1 -> 30 and back, loss spikes
    to 10): the collapse is towards a set of near-constant outputs, not a clean fixed point.

    Returns
    -------
    dict: ``sigma`` (L,); for run in (plain, bc, plain0): ``spread_{run}`` (L,) final RMS
    spread of the outputs across held-out inputs at each level, ``trace_{run}`` (T,) median
    over levels of that spread at ``trace_steps`` (T,), ``loss_{run}`` (steps,) training
    losses, ``opt_{run}`` median |f - f*| (pooled over levels), ``samples_{run}`` (n, d)
    outputs f(x, s) on the held-out inputs ``samples_input`` (n, d) at ``samples_sigma``
    (0.30); ``data_spread`` (RMS spread of the data, 1.0), ``ratio_plain``
    / ``ratio_bc`` / ``ratio_plain0`` (median over levels of spread / data spread),
    ``train_seconds``.
    """
    data, den, grid = setting()
    c = CONFIG
    xs = _heldout(EVAL_SIGMAS_IDX, n, seed)
    levels = [np.full(n, grid[i]) for i in EVAL_SIGMAS_IDX]
    opt = np.concatenate([consistency_optimum(den, x, s, grid, c["solver"])
                          for x, s in zip(xs, levels)])
    ds = _spread(data.points)
    out = dict(sigma=grid[list(EVAL_SIGMAS_IDX)], data_spread=ds, samples_sigma=levels[1][0],
               samples_input=xs[1])
    t0 = time.perf_counter()
    for run, param, wd in (("plain", "plain", weight_decay), ("bc", "consistency", weight_decay),
                           ("plain0", "plain", 0.0)):
        trace, t_steps = [], []

        def cb(i, model, _theta, param=param, trace=trace, t_steps=t_steps):
            b = None if param == "plain" else grid[0]
            trace.append(np.median([_spread(model(x, s, b)) for x, s in zip(xs, levels)]))
            t_steps.append(i)

        train = TrainConfig(steps=steps, batch=COLLAPSE["batch"], lr=c["lr"], warmup=100,
                            ema=c["mu"], seed=c["seed"], weight_decay=wd, progress=False)
        res = train_cd(den, data, grid, c["solver"], None, train, param=param,
                       hidden=c["hidden"], depth=c["depth"], weighting=c["weighting"],
                       callback=cb, callback_every=every)
        sp = np.array([_spread(res(x, s)) for x, s in zip(xs, levels)])
        f = np.concatenate([res(x, s) for x, s in zip(xs, levels)])
        out.update({f"spread_{run}": sp, f"trace_{run}": np.array(trace),
                    f"loss_{run}": res.history, f"ratio_{run}": float(np.median(sp) / ds),
                    f"opt_{run}": float(np.median(np.linalg.norm(f - opt, axis=1))),
                    f"samples_{run}": res(xs[1], levels[1])})
    out["trace_steps"] = np.array(t_steps)
    out["train_seconds"] = time.perf_counter() - t0
    return out


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


def _jump_errors(res, orc, x_T, xo):
    """Median |final sample - oracle sample| when only jump k is the student's (k = 0 bottom).

    Jump k starts from the exact (oracle) state at its segment's top; every other jump is
    exact. Returns a (K,) array ordered like the (ascending) boundaries.
    """
    b = res.boundaries
    tops = np.append(b[1:], res.grid[-1])
    B = x_T.shape[0]
    jump = lambda f, x, k: f(x, np.full(B, tops[k]), np.full(B, b[k]))  # noqa: E731
    err = np.empty(b.size)
    state = x_T
    for k in range(b.size - 1, -1, -1):
        y = jump(res, state, k)
        for j in range(k - 1, -1, -1):
            y = jump(orc, y, j)
        err[k] = np.median(np.linalg.norm(y - xo, axis=1))
        state = jump(orc, state, k)
    return err


@cache
def mbcd_vs_K(Ks=(1, 2, 4)) -> dict:
    """K-jump sampling of the trained K-boundary students (:func:`student`) and their oracles.

    Returns
    -------
    dict with ``K`` (M,) and, over K: ``student_exact`` / ``oracle_exact`` (median distance to
    the exact ODE endpoint of the same x_T), ``student_data`` / ``oracle_data`` (median
    distance to the nearest data point), ``student_basin`` / ``oracle_basin`` (fraction in the
    exact basin), ``student_vs_oracle`` (median |student sample - oracle sample|),
    ``teacher_evals``, ``train_seconds`` (M,); ``level_sigma`` (L,) and ``level_error`` (M, L)
    the median |f - f*_K| on held-out points (:func:`student_vs_optimum`: the per-segment
    optimum); ``boundaries`` and ``jump_error`` (lists of (K,) arrays, ascending: the final
    sample's error when only jump k is the student's, :func:`_jump_errors`); ``param``.
    """
    data, den, grid = setting()
    x_T, exact = _noise()
    keys = ("student_exact", "oracle_exact", "student_data", "oracle_data", "student_basin",
            "oracle_basin", "student_vs_oracle", "teacher_evals", "train_seconds",
            "level_error", "boundaries", "jump_error", "param")
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
        out["train_seconds"].append(res.train_seconds)
        out["level_error"].append(student_vs_optimum(K, ct=False)["student"])
        out["boundaries"].append(res.boundaries)
        out["jump_error"].append(_jump_errors(res, orc, x_T, xo))
        out["param"].append(res.param)
    out = {k: (v if k in ("boundaries", "jump_error", "param") else np.asarray(v))
           for k, v in out.items()}
    out["K"] = np.asarray(Ks)
    out["level_sigma"] = grid[list(EVAL_SIGMAS_IDX)]
    return out


@cache
def mbcd_budget(steps=(600, 1200, 2400), Ks=(1, 2, 4), seed: int = CONFIG["seed"]) -> dict:
    """K-jump error against the exact ODE vs the training budget (slow: ~2 min; no figure).

    Returns ``steps`` (S,), ``K`` (M,) and ``student_exact`` (S, M): median |K-jump sample -
    exact ODE endpoint| of :func:`student` (K, steps, seed), 400 noises. Measured (seed 0, at
    batch 256 before :data:`CONFIG` moved to 128), 600 / 1200 / 2400 steps: K = 1 0.26 / 0.14 /
    0.077, K = 2 0.22 / 0.16 / 0.057, K = 4 0.19 / 0.045 / 0.011.
    """
    data, den, grid = setting()
    x_T, exact = _noise()
    err = np.empty((len(steps), len(Ks)))
    for i, st in enumerate(steps):
        for j, K in enumerate(Ks):
            res = student(K, steps=st, seed=seed)
            x = kjump_sample(res, x_T, grid, res.boundaries)
            err[i, j] = sample_quality(data, x, exact).median_dist_to_exact
    return dict(steps=np.asarray(steps), K=np.asarray(Ks), student_exact=err)


def summary_rows() -> list[dict]:
    """Rows of the summary table (lecture row 22) for CD (K = 1) and MBCD (K = 2, 4).

    Each row: ``method``, ``teacher_evals`` (total single-point denoiser evaluations spent
    in training), ``student_steps`` (K network evaluations per sample), ``median_dist_to_exact``
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
                   f"{c['depth']} ({m['param'][j]} param.), {c['steps']} steps x batch "
                   f"{c['batch']}; exact per-segment optimum, same K jumps: "
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

