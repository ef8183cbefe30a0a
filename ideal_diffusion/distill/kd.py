"""Knowledge distillation (lecture rows 13-14): regress a one-step student onto the teacher's map.

The lecture's recipe: collect pairs {(x_T^i, x0_hat^i)} with the teacher's sampler, then fit
f_phi(x_T, sigma_max) -> x0_hat with the loss

    L_KD(phi) = E_{x_T} |x0_hat(x_T) - f_phi(x_T, sigma_max)|^2.

Because x0_hat is a *deterministic* function of x_T, the pointwise minimiser is
f* = x0_hat: the teacher's own n-step map
(:func:`~ideal_diffusion.distill.optima.teacher_map`), which for a delta mixture ends on a
data point. The diffusion loss looks the same but regresses x_T = x0 + sigma_max eps onto the
x0 *that generated it*: x0 is random given x_T, so the minimiser is the average
E[x0 | x_T] = D(x_T, sigma_max), about the data mean at sigma_max = 80
(:func:`noisy_pairs` gives both kinds of pairs on the same inputs).

Conventions: the teacher's sampler grid ``sigmas`` is **descending** (EDM order, e.g.
``karras_sigmas(n)`` with its trailing 0: n steps); the student is evaluated only at
sigma_max = ``sigmas[0]``. Teacher cost is counted in **per-sample denoiser evaluations**:
one call D(x, sigma) on a (B, d) batch counts B. Collecting n pairs with an n_s-step solver
costs ``n * nfe(solver, sigmas)`` (Heun to 0: 2 n_s - 1 per sample); :class:`CountingDenoiser`
measures it, and :func:`collect_pairs` checks the count against that formula.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .. import _validate as _v
from ..data import as_rng
from ..nn import EDMPrecond, Model, Optimiser, TrainConfig, blas_threads, fit, make_net
from ..schedules import SIGMA_MAX
from ..solvers import nfe, sample
from ._record import StudentRecord

__all__ = ["CountingDenoiser", "KDPairs", "KDResult", "collect_pairs", "noisy_pairs",
           "regression_pairs", "train_kd"]


class CountingDenoiser:
    """Wrap a denoiser and count its evaluations, per sample and per call.

    Parameters
    ----------
    denoiser : callable ``denoiser(x, sigma) -> (B, d)``

    Attributes
    ----------
    evals : int -- per-sample evaluations: the sum of B over all calls
    calls : int -- number of (batched) calls
    """

    def __init__(self, denoiser):
        if not callable(denoiser):
            raise ValueError("denoiser must be callable as denoiser(x, sigma)")
        self.denoiser = denoiser
        self.evals = 0
        self.calls = 0

    def __call__(self, x, sigma):
        self.evals += int(np.shape(x)[0])
        self.calls += 1
        return self.denoiser(x, sigma)

    def reset(self) -> None:
        """Set both counters to 0."""
        self.evals = self.calls = 0


@dataclass
class KDPairs:
    """A regression data set (x_T, target) and what the teacher spent making it.

    Attributes
    ----------
    x_T : (n, d) array -- inputs, noise at ``sigma_max``
    target : (n, d) array -- regression targets (teacher outputs, or the generating x0)
    sigma_max : float
    kind : str -- ``"teacher"`` or ``"x0"``
    solver : str or None; sigmas : descending teacher grid or None
    nfe_per_sample : int -- denoiser evaluations per pair (0 for x0 pairs)
    teacher_evals : int -- measured total per-sample evaluations (n * nfe_per_sample)
    """

    x_T: np.ndarray
    target: np.ndarray
    sigma_max: float
    kind: str
    solver: str | None = None
    sigmas: np.ndarray | None = None
    nfe_per_sample: int = 0
    teacher_evals: int = 0

    def __len__(self):
        return self.x_T.shape[0]


def noisy_pairs(data, n: int, sigma_max: float = SIGMA_MAX, rng=0):
    """Draw x0 ~ data and x_T = x0 + sigma_max eps: the exact marginal at sigma_max.

    Returns
    -------
    x_T, x0 : (n, d) arrays (row i of x_T was made from row i of x0)
    """
    n = _v.integer(n, "n", 1)
    sigma_max = _v.real(sigma_max, "sigma_max", 0.0, lo_open=True)
    rng = as_rng(rng)
    x0 = data.sample(int(n), rng)
    return x0 + sigma_max * rng.standard_normal(x0.shape), x0


def collect_pairs(denoiser, x_T, sigmas, solver: str = "heun") -> KDPairs:
    """KD data collection: run the teacher's sampler on every x_T, counting evaluations.

    Parameters
    ----------
    denoiser : callable ``denoiser(x, sigma)`` (the ideal denoiser)
    x_T : (n, d) array at ``sigmas[0]``
    sigmas : **descending** sampler grid (e.g. ``karras_sigmas(steps)``, trailing 0 allowed)
    solver : {"euler", "heun", "dpmpp_2m"}

    Returns
    -------
    KDPairs
        ``kind="teacher"``, ``target = teacher_map(denoiser, x_T, sigmas, solver)``,
        ``teacher_evals`` as counted (equal to ``n * nfe(solver, sigmas)``).

    Raises
    ------
    TypeError
        If ``x_T`` or ``sigmas`` is not a real array (complex, strings, None).
    ValueError
        On a bad grid, solver or x_T (from :func:`~ideal_diffusion.solvers.sample`).
    """
    s = _v.real_array(sigmas, "sigmas", finite=False)
    x_T = _v.states(x_T, "x_T")
    per = nfe(solver, s)
    counter = CountingDenoiser(denoiser)
    target = sample(counter, x_T, s, solver)
    if counter.evals != x_T.shape[0] * per:  # the formula and the count must agree
        raise RuntimeError(f"counted {counter.evals} evaluations, expected {x_T.shape[0] * per}")
    return KDPairs(x_T, target, float(s[0]), "teacher", solver, s, per, counter.evals)


def regression_pairs(x_T, x0, sigma_max: float = SIGMA_MAX) -> KDPairs:
    """The diffusion-loss contrast: pairs (x_T, the x0 that generated it); no teacher cost.

    Parameters
    ----------
    x_T, x0 : (n, d) arrays from :func:`noisy_pairs`
    """
    x_T, x0 = np.asarray(x_T, dtype=np.float64), np.asarray(x0, dtype=np.float64)
    if x_T.ndim != 2 or x_T.shape != x0.shape:
        raise ValueError(f"x_T and x0 must be (n, d) of one shape, got {x_T.shape}, {x0.shape}")
    return KDPairs(x_T, x0, float(sigma_max), "x0")


@dataclass
class KDResult:
    """A one-step student f_phi(x_T, sigma_max) trained by regression.

    Call it as ``student(x_T)`` (one evaluation per sample) or as a consistency-style
    ``student(x, sigma)`` with sigma == sigma_max.

    Attributes
    ----------
    model : Model -- ``Model(MLP, EDMPrecond)`` (the EMA weights when ``train.ema > 0``)
    history : (steps,) training loss
    sigma_max : float
    kind : str -- ``"teacher"`` (KD) or ``"x0"`` (diffusion-loss regression)
    teacher_evals, nfe_per_sample : int -- copied from the pairs
    train_seconds : float -- wall time of training (inflated on a busy machine)
    train : TrainConfig -- the optimiser settings
    hidden, depth : int -- MLP width and number of hidden layers
    n_pairs : int -- size of the regression set
    solver : str or None -- the teacher's solver (None for x0 pairs)
    """

    model: Model
    history: np.ndarray
    sigma_max: float
    kind: str
    teacher_evals: int
    nfe_per_sample: int
    train_seconds: float = 0.0
    train: TrainConfig = field(default_factory=TrainConfig)
    hidden: int = 128
    depth: int = 3
    n_pairs: int = 0
    solver: str | None = None

    def to_record(self) -> StudentRecord:
        """Everything needed to resume or evaluate this student (:mod:`.records`)."""
        return StudentRecord(
            kind="kd", model=self.model, arrays={"history": self.history},
            meta={"sigma_max": float(self.sigma_max), "pairs_kind": self.kind,
                  "teacher_evals": int(self.teacher_evals),
                  "nfe_per_sample": int(self.nfe_per_sample),
                  "train": dataclasses.asdict(self.train), "hidden": int(self.hidden),
                  "depth": int(self.depth), "n_pairs": int(self.n_pairs),
                  "solver": self.solver})

    @classmethod
    def from_record(cls, record: StudentRecord) -> KDResult:
        """The student :meth:`to_record` recorded (the same bits)."""
        m = record.meta
        return cls(record.model, record.arrays["history"], float(m["sigma_max"]),
                   m["pairs_kind"], int(m["teacher_evals"]), int(m["nfe_per_sample"]),
                   train=TrainConfig(**m["train"]), hidden=int(m["hidden"]),
                   depth=int(m["depth"]), n_pairs=int(m["n_pairs"]), solver=m["solver"])

    @property
    def config(self) -> dict:
        """The settings as a plain dict (read-only view kept for the older runner modules)."""
        t = self.train
        return dict(steps=t.steps, batch=t.batch, lr=t.lr, warmup=t.warmup, hidden=self.hidden,
                    depth=self.depth, seed=t.seed, n_pairs=self.n_pairs, solver=self.solver)

    def __call__(self, x_T, sigma=None, boundary=None):
        """f_phi(x_T, sigma_max) under one BLAS thread; ``sigma`` must be sigma_max if given."""
        x_T = np.asarray(x_T, dtype=np.float64)
        if sigma is not None and not np.allclose(sigma, self.sigma_max, rtol=1e-9, atol=0):
            raise ValueError(f"sigma must equal sigma_max = {self.sigma_max} (a KD student "
                             "is defined only there)")
        with blas_threads(1):
            return self.model(x_T, self.sigma_max)


def train_kd(pairs: KDPairs, train: TrainConfig = TrainConfig(),  # noqa: B008 (frozen)
             *, hidden: int | None = None, depth: int | None = None,
             emb_dim: int | None = None, activation: str | None = None, net=None,
             sigma_data: float = 0.5) -> KDResult:
    """Fit f_phi(x_T, sigma_max) to the pairs with Adam (mean squared error, minibatches).

    Parameters
    ----------
    pairs : KDPairs -- from :func:`collect_pairs` (KD) or :func:`regression_pairs` (contrast)
    train : TrainConfig
        Steps, minibatch size (minibatches drawn with replacement), Adam (peak lr, warm-up
        clamped to the steps, cosine decay, clipping, weight decay), the one seed of weights
        and minibatches (same seed, same bits), the progress bar, the divergence bounds;
        ``train.ema > 0`` returns the EMA of the weights.
    hidden, depth, emb_dim, activation : the network (:func:`~ideal_diffusion.nn.make_net`;
        None: ``nn.NET_DEFAULTS``)
    net : MLP, optional -- an injected network (copied), instead of a fresh one
    sigma_data : EDM preconditioning constant (at sigma_max = 80 the network sees x_T / 80)

    Returns
    -------
    KDResult

    Raises
    ------
    TypeError
        If ``pairs`` is not a KDPairs or ``train`` not a TrainConfig.
    ValueError
        On bad sizes.
    FloatingPointError
        When training diverges (the message names the step, the loss and the cause).
    """
    import time

    if not isinstance(pairs, KDPairs):
        raise TypeError("pairs must be a KDPairs (collect_pairs or regression_pairs), "
                        f"got {type(pairs).__name__}")
    if not isinstance(train, TrainConfig):
        raise TypeError(f"train must be a TrainConfig, got {type(train).__name__}")
    rng = np.random.default_rng(train.seed)
    n, d = pairs.x_T.shape
    net = make_net(d, rng, net=net, hidden=hidden, depth=depth, emb_dim=emb_dim,
                   activation=activation)
    model = Model(net, EDMPrecond(sigma_data))
    opt = Optimiser(net.theta, train)
    s = pairs.sigma_max
    batch = train.batch

    def step(i):
        idx = rng.integers(0, n, size=batch)
        diff = model.forward(pairs.x_T[idx], s) - pairs.target[idx]
        loss = float(np.einsum("bd,bd->", diff, diff)) / batch
        model.backward((2.0 / batch) * diff, need_input_grad=False)
        opt.step(i, net.grad)
        return loss

    t0 = time.perf_counter()
    history = fit(step, train, desc=f"KD ({pairs.kind})", params=net.theta)
    opt.finish()
    return KDResult(model, history, s, pairs.kind, pairs.teacher_evals, pairs.nfe_per_sample,
                    time.perf_counter() - t0, train, net.hidden, net.depth, int(n),
                    pairs.solver)
