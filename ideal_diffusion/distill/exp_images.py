"""Lecture row 23, "Ours, 4 steps vs Teacher, 50 steps", on small glyph images.

The data are the ten digit glyphs ``glyphs("0123456789", size=12)`` (a DeltaMixture of ten
grey 12 x 12 images in [-1, 1], d = 144); the teacher is the ideal denoiser. From the same
noises x_T = 80 z we compare

* **teacher, 50 steps**: Heun on ``karras_sigmas(50)`` (99 denoiser evaluations);
* **student, 4 steps**: a multi-boundary CD student with K = 4 boundaries
  (:func:`~ideal_diffusion.distill.mbcd.train_mbcd` on the distillation grid
  ``distill_grid(N)``, ascending s_1 < ... < s_N, boundaries ``choose_boundaries(grid, 4)``),
  sampled by :func:`~ideal_diffusion.distill.sampling.kjump_sample`: s_N -> b_3 -> b_2 -> b_1
  -> b_0 = s_1, four network evaluations;
* **oracle, 4 jumps**: the exact optimum of the same loss
  (:class:`~ideal_diffusion.distill.optima.ConsistencyOracle` with the same boundaries) sampled
  by the same 4 jumps. It *is* the teacher's Heun chain along the grid (tested bit for bit),
  so it shows what the student is trained to be;
* **plain diffusion, 4 steps**: Heun on ``karras_sigmas(4)`` (7 evaluations; Euler, 4
  evaluations, is measured too) -- few-step diffusion without distillation.

Quality is measured against the exact PF-ODE endpoint of the same noise
(:func:`~ideal_diffusion.geometry.exact_endpoints`): the median distance, and the fraction of
samples whose nearest glyph is the exact endpoint's glyph (a delta mixture: the ideal
denoiser snaps every sampler onto *some* glyph at small sigma, so the failure of few-step
diffusion is landing on the wrong glyph, not blur).

The student uses the jump parameterisation f = (b/sigma) x + (1 - b/sigma) F relative to its
segment's lower boundary b (a DDIM step to b with a learned denoiser F). The consistency
parameterisation's output scale c_out ~ sigma_data is far too small for targets at b ~ 19
(|x_b| ~ b sqrt(d) ~ 230): with it (10 x 10 glyphs, uniform weights, 2000 steps) 11% of
samples had the right digit (chance: 10%), against 90% for the jump form. The loss is
weighted per level by 1 / c_out^2 (``weighting="cout"`` of
:func:`~ideal_diffusion.distill.cd.train_cd`).

Training takes a few minutes on 2 cores, so the figure loads a small committed checkpoint,
``ideal_diffusion/checkpoints/images_mbcd4.npz`` (< 1 MB). Remake it, deterministically from
the seed in :data:`CONFIG`, with::

    python -m ideal_diffusion.distill.exp_images --retrain

(``--steps S`` overrides the step budget, ``--out PATH`` writes elsewhere; without
``--retrain`` the command loads the checkpoint and prints the measured numbers.)
"""
from __future__ import annotations

import argparse
import functools
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..data import glyphs
from ..denoiser import IdealDenoiser
from ..geometry import exact_endpoints, sample_quality
from ..nn import TrainConfig, load_checkpoint, save_checkpoint
from ..nn.threads import blas_threads
from ..schedules import karras_sigmas
from ..solvers import sample
from .cd import CDResult
from .mbcd import choose_boundaries, train_mbcd
from .optima import ConsistencyOracle, distill_grid
from .sampling import kjump_sample

__all__ = ["CHECKPOINT", "CONFIG", "ImageComparison", "compare", "image_data", "load_student",
           "main", "save_student", "train_student"]

CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "images_mbcd4.npz"

#: The experiment: data, grid, student and optimiser (the checkpoint records all of it).
CONFIG = dict(chars="0123456789", size=12, N=18, K=4, solver="heun", param="jump", mu=0.0,
              weighting="cout", hidden=128, depth=3, steps=6000, batch=256, lr=2e-3,
              warmup=100, seed=0)

TEACHER_STEPS = 50
PLAIN_STEPS = 4


def image_data(config: dict | None = None):
    """The glyph data, its ideal denoiser and the ascending distillation grid of ``config``.

    Returns
    -------
    data : DeltaMixture of len(chars) points in d = size**2
    denoiser : IdealDenoiser
    grid : (N,) ascending grid values s_1 = 0.002 < ... < s_N = 80
    """
    c = CONFIG if config is None else config
    data = glyphs(c["chars"], size=c["size"])
    return data, IdealDenoiser(data), distill_grid(c["N"])


def train_student(config: dict | None = None, steps: int | None = None,
                  progress=None) -> CDResult:
    """Train the K-boundary CD student of ``config`` (one BLAS thread: same seed, same bits).

    Parameters
    ----------
    config : dict, optional
        Keys as :data:`CONFIG` (default).
    steps : int, optional
        Override of ``config["steps"]`` (>= 1), e.g. a tiny budget for a smoke test.

    Returns
    -------
    CDResult (``config`` holds the experiment's config with the steps actually used)
    """
    c = dict(CONFIG if config is None else config)
    if steps is not None:
        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        c["steps"] = int(steps)
    data, den, grid = image_data(c)
    train = TrainConfig(steps=c["steps"], batch=c["batch"], lr=c["lr"], warmup=c["warmup"],
                        ema=c["mu"], seed=c["seed"], progress=progress)
    res = train_mbcd(den, data, grid, c["K"], train, solver=c["solver"], param=c["param"],
                     weighting=c["weighting"], hidden=c["hidden"], depth=c["depth"])
    return ImageStudent(**{f.name: getattr(res, f.name) for f in fields(CDResult)},
                        experiment=c)


@dataclass
class ImageStudent(CDResult):
    """A :class:`CDResult` that also keeps the experiment's settings (``config``: the glyph
    data, grid size, K and optimiser, as in :data:`CONFIG`), for checkpoints."""

    experiment: dict = field(default_factory=dict)

    @property
    def config(self) -> dict:
        return dict(self.experiment)


def save_student(res: CDResult, path=CHECKPOINT) -> Path:
    """Write the student's online network with its experiment config, grid and boundaries.

    The grid and boundaries are stored ascending, as sigma values.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(path, res.model, experiment=dict(res.config),
                           grid=res.grid.tolist(), boundaries=res.boundaries.tolist(),
                           seed=int(res.config["seed"]), teacher_evals=int(res.teacher_evals),
                           final_loss=float(np.mean(res.history[-100:])))


def load_student(path=CHECKPOINT) -> CDResult:
    """Load a student saved by :func:`save_student` as a callable :class:`CDResult`.

    Raises
    ------
    ValueError
        If the file is not a checkpoint of this experiment, or its grid/boundaries do not
        match those its config implies (``distill_grid(N)``, ``choose_boundaries(grid, K)``).
    """
    model, cfg = load_checkpoint(path)
    extra = cfg.get("extra", {})
    if "experiment" not in extra:
        raise ValueError(f"{path}: not an images-experiment checkpoint (no 'experiment' config)")
    c = extra["experiment"]
    grid, bounds = np.asarray(extra["grid"]), np.asarray(extra["boundaries"])
    if not (np.array_equal(grid, distill_grid(c["N"]))
            and np.array_equal(bounds, choose_boundaries(grid, c["K"]))):
        raise ValueError(f"{path}: stored grid/boundaries do not match N={c['N']}, K={c['K']}")
    train = TrainConfig(steps=c["steps"], batch=c["batch"], lr=c["lr"], warmup=c["warmup"],
                        ema=c["mu"], seed=c["seed"])
    return ImageStudent(model, model.net.theta.copy(), np.array([extra["final_loss"]]), grid,
                        bounds, c["solver"], int(extra["teacher_evals"]), train, c["param"],
                        c["hidden"], c["depth"], c["weighting"], experiment=dict(c))


@dataclass(frozen=True)
class ImageComparison:
    """Samples of one set of noises by each sampler, and their quality.

    Attributes
    ----------
    x_T : (B, d) noises at sigma = 80
    samples : dict name -> (B, d) samples; names "teacher", "student", "oracle", "plain"
        (Heun, 4 steps), "plain_euler" (Euler, 4 steps), plus "exact" (the exact PF-ODE
        endpoints)
    nfe : dict name -> network/denoiser evaluations per sample
    quality : dict name -> SampleQuality against "exact"
    to_teacher : dict name -> (B,) distance to the teacher's 50-step sample
    size : int (image side)
    grid_size : int (levels N of the distillation grid)
    """

    x_T: np.ndarray
    samples: dict
    nfe: dict
    quality: dict
    to_teacher: dict
    size: int
    grid_size: int

    def table(self) -> str:
        """One line per sampler: evaluations, median distances, same-glyph fraction."""
        rows = [f"{'sampler':<12}{'NFE':>5}{'med |x-exact|':>15}{'med |x-teacher|':>17}"
                f"{'same glyph':>12}"]
        for k, q in self.quality.items():
            rows.append(f"{k:<12}{self.nfe[k]:>5}{q.median_dist_to_exact:>15.4f}"
                        f"{np.median(self.to_teacher[k]):>17.4f}{q.frac_same_basin:>12.3f}")
        return "\n".join(rows)


def compare(student: CDResult | None = None, n: int = 512, seed: int = 1) -> ImageComparison:
    """Sample the same ``n`` noises (seeded) with every sampler and measure them.

    Parameters
    ----------
    student : CDResult, optional -- default: the committed checkpoint
    n : int >= 1 ; seed : int -- noises x_T = 80 z, z ~ N(0, I) from ``default_rng(seed)``
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    student = load_student() if student is None else student
    c = student.config
    data, den, grid = image_data(c)
    b = student.boundaries
    x_T = 80.0 * np.random.default_rng(seed).standard_normal((n, data.d))
    with blas_threads(1):
        s = {"teacher": sample(den, x_T, karras_sigmas(TEACHER_STEPS), "heun"),
             "student": kjump_sample(student, x_T, grid, b),
             "oracle": kjump_sample(ConsistencyOracle(den, grid, c["solver"], b), x_T, grid, b),
             "plain": sample(den, x_T, karras_sigmas(PLAIN_STEPS), "heun"),
             "plain_euler": sample(den, x_T, karras_sigmas(PLAIN_STEPS), "euler")}
        exact = exact_endpoints(data, x_T)  # DOP853: most of the time; 1 thread is faster
    nfe = {"teacher": 2 * TEACHER_STEPS - 1, "student": b.size,
           "oracle": b.size, "plain": 2 * PLAIN_STEPS - 1, "plain_euler": PLAIN_STEPS}
    quality = {k: sample_quality(data, v, exact) for k, v in s.items()}
    to_teacher = {k: np.linalg.norm(v - s["teacher"], axis=1) for k, v in s.items()}
    s["exact"] = exact
    return ImageComparison(x_T, s, nfe, quality, to_teacher, c["size"], grid.size)


@functools.lru_cache(maxsize=2)
def cached_comparison(n: int = 512, seed: int = 1) -> ImageComparison:
    """:func:`compare` with the committed checkpoint, cached (shared by figures and report)."""
    return compare(None, n, seed)


def main(argv=None) -> int:
    """Command line: ``python -m ideal_diffusion.distill.exp_images [--retrain] [--steps S]``."""
    ap = argparse.ArgumentParser(prog="python -m ideal_diffusion.distill.exp_images",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--retrain", action="store_true", help="train and write the checkpoint")
    ap.add_argument("--steps", type=int, default=None, help="override the training steps")
    ap.add_argument("--out", type=Path, default=CHECKPOINT, help="checkpoint path")
    ap.add_argument("--n", type=int, default=512, help="noises to measure on")
    ap.add_argument("--no-eval", action="store_true", help="skip the measurement")
    args = ap.parse_args(argv)
    if args.retrain:
        t0 = time.perf_counter()
        res = train_student(steps=args.steps)
        path = save_student(res, args.out)
        print(f"trained {res.config['steps']} steps in {time.perf_counter() - t0:.1f} s "
              f"(final loss {np.mean(res.history[-100:]):.4g}); wrote {path} "
              f"({path.stat().st_size / 1024:.0f} KiB)")
    if not args.no_eval:
        t0 = time.perf_counter()
        cmp_ = compare(load_student(args.out), args.n)
        print(cmp_.table())
        print(f"(measured on {args.n} noises in {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
