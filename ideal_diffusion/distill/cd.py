"""Consistency distillation (Song et al. 2023, Algorithm 2), with optional segment boundaries.

The conventions (ascending grid s_1 < ... < s_N, teacher steps, boundaries and segments)
are those of :mod:`ideal_diffusion.distill.optima`. One training step:

1. draw x0 from the data, n uniform on {2, ..., N} and x_n = x0 + s_n eps;
2. x_hat_{n-1} = Solver(x_n, s_n -> s_{n-1}): one teacher step with the ideal denoiser;
3. target = f_{phi^-}(x_hat_{n-1}, s_{n-1}) with the target network phi^- = EMA_mu(phi)
   (mu = 0: a stop-gradient copy of phi), or x_hat_{n-1} itself when s_{n-1} is the lower
   boundary b of the segment of s_n;
4. loss = mean_batch w(s_n) |f_phi(x_n, s_n) - target|^2, minimised over phi only: the target
   is a constant of the step (no gradient flows into it; :func:`cd_step_grad`).

Weighting: ``weighting="cout"`` (the default) uses w(s) = 1 / c_out(s)^2, normalised to mean 1
over the grid levels. It makes the loss a plain squared error on the network output F at every
level: with uniform weights the low-sigma levels, where c_out ~ s - b is tiny, contribute
almost nothing and the student barely denoises there. ``"uniform"`` is the paper's
lambda = 1.

The student is f_phi(x, sigma) = c_skip x + c_out F_phi(c_in x, sigma) relative to the
segment's lower boundary b (``ConsistencyParam``: f(x, b) = x exactly, the lecture's boundary
condition), or the ``JumpParam`` form, or :class:`JumpEDMParam` (``"jump_edm"``: a jump to b
through an EDM-preconditioned denoiser, the form for multi-boundary CD), or ``PlainParam`` (no
boundary condition at all: the loss then has the trivial minimiser f = const, lecture "a
possible solution: ... = 0"; with it, no target is ever replaced by x_hat, so nothing pins f
to the data).

With ``boundaries=None`` this is plain CD; with K boundaries it is multi-boundary CD
(:mod:`ideal_diffusion.distill.mbcd`).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from ..data import as_rng
from ..nn import (
    ConsistencyParam,
    JumpEDMParam,
    JumpParam,
    Model,
    Optimiser,
    PlainParam,
    TrainConfig,
    blas_threads,
    fit,
    make_net,
)
from ..schedules import SIGMA_MIN
from ._record import StudentRecord
from .optima import (
    Grid,
    canonical_boundaries,
    canonical_grid,
    check_boundaries,
    grid_index,
    lower_boundary,
    teacher_step,
)

__all__ = ["CDResult", "JumpEDMParam", "cd_batch", "cd_loss", "cd_step_grad", "cd_weights",
           "make_student", "train_cd"]


PARAMS = {"consistency": ConsistencyParam, "jump": JumpParam, "jump_edm": JumpEDMParam,
          "plain": PlainParam}
WEIGHTINGS = ("cout", "uniform")


def make_student(d: int, param: str = "consistency", sigma_min: float = SIGMA_MIN, *,
                 hidden: int | None = None, depth: int | None = None,
                 emb_dim: int | None = None, activation: str | None = None, net=None,
                 sigma_data: float = 0.5, rng=0, dtype=np.float64) -> Model:
    """A consistency student f_phi(x, sigma) of data dimension ``d``.

    Parameters
    ----------
    param : {"consistency", "jump", "jump_edm", "plain"}
        Output parameterisation; all but "plain" satisfy f(x, b) = x exactly.
    sigma_min : float
        Default boundary b (a per-sample boundary is passed at call time in MBCD).
    hidden, depth, emb_dim, activation, net, rng, dtype :
        The network (:func:`~ideal_diffusion.nn.make_net`; None: ``nn.NET_DEFAULTS``).
    """
    if param not in PARAMS:
        raise ValueError(f"param must be one of {sorted(PARAMS)}, got {param!r}")
    net = make_net(d, as_rng(rng), net=net, hidden=hidden, depth=depth, emb_dim=emb_dim,
                   activation=activation, dtype=dtype)
    p = PlainParam(sigma_data) if param == "plain" else PARAMS[param](sigma_min, sigma_data)
    return Model(net, p)


def cd_batch(denoiser, data, grid, batch: int, rng, solver: str = "heun", boundaries=None):
    """Draw one CD batch: (x_n, s_n, x_hat_{n-1}, s_{n-1}, b) with b the lower boundary of s_n.

    Returns
    -------
    x_n, x_hat : (batch, d) arrays
    s_n, s_prev, b : (batch,) arrays of grid values (s_prev < s_n, b <= s_prev)
    """
    G = Grid(grid)
    g = G.sigmas
    return _draw(denoiser, data, g, lower_boundary(G, boundaries, g), batch, as_rng(rng), solver)


def _draw(denoiser, data, g, low, batch, rng, solver):
    """cd_batch with the grid checked and the per-level lower boundaries ``low`` precomputed."""
    n = rng.integers(1, g.size, size=batch)  # 0-based: n >= 1 means s_n > s_1 (lecture U(2, N))
    x0 = data.sample(batch, rng)
    s_n, s_prev = g[n], g[n - 1]
    x_n = x0 + s_n[:, None] * rng.standard_normal(x0.shape)
    x_hat = teacher_step(denoiser, x_n, s_n, s_prev, solver)
    return x_n, s_n, x_hat, s_prev, low[n]


def _target(f_target, x_hat, s_prev, b, boundary_condition: bool):
    """target = f_target(x_hat, s_prev, b), replaced by x_hat where s_prev is the boundary."""
    if not boundary_condition:
        return np.asarray(f_target(x_hat, s_prev, None))
    at_b = s_prev == b
    out = x_hat.copy()
    if np.any(~at_b):
        k = ~at_b
        out[k] = f_target(x_hat[k], s_prev[k], b[k])
    return out


def cd_loss(f, f_target, denoiser, x_n, s_n, grid, solver: str = "heun", boundaries=None,
            boundary_condition: bool = True) -> np.ndarray:
    """The per-sample CD loss |f(x_n, s_n) - target|^2 (Song et al. 2023, eq. 7 with d = L2^2).

    Parameters
    ----------
    f, f_target : callables ``f(x, sigma, boundary) -> (B, d)`` (student, target network,
        or :class:`~ideal_diffusion.distill.optima.ConsistencyOracle`)
    x_n : (B, d) array; s_n : (B,) grid values > s_1
    boundary_condition : bool
        False: never replace the target by x_hat (CD without a boundary condition).

    Returns
    -------
    loss : (B,) array
    """
    G = Grid(grid)
    g = G.sigmas
    i = grid_index(G, s_n)
    if np.any(i < 1):
        raise ValueError("s_n must be grid values above s_1")
    s_prev = g[i - 1]
    b = lower_boundary(G, boundaries, s_n)
    x_hat = teacher_step(denoiser, x_n, s_n, s_prev, solver)
    target = _target(f_target, x_hat, s_prev, b, boundary_condition)
    pred = f(x_n, s_n, b if boundary_condition else None)
    return np.sum((pred - target) ** 2, axis=1)


def cd_weights(model: Model, grid, boundaries=None, weighting: str = "cout") -> np.ndarray:
    """Per-level loss weights w(s_n) for the levels s_2 .. s_N of an ascending grid.

    ``"cout"``: 1 / c_out(s_n; b(s_n))^2 normalised to mean 1 over those levels (1 for a plain
    student, whose c_out is 1); ``"uniform"``: all 1.

    Returns
    -------
    w : (N,) array indexed like the ascending grid (``w[0]``, for s_1, is unused and set to 0)
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    G = Grid(grid)
    g = G.sigmas
    w = np.zeros(g.size)
    if weighting == "uniform" or not model.param.has_boundary:
        w[1:] = 1.0
        return w
    c_out = model.param.coefficients(g[1:], lower_boundary(G, boundaries, g[1:]))[1]
    w[1:] = 1.0 / c_out ** 2
    w[1:] /= w[1:].mean()
    return w


def cd_step_grad(model: Model, target_theta, x_n, s_n, x_hat, s_prev, b,
                 boundary_condition: bool = True, weights=None):
    """Loss and gradient of one CD step w.r.t. the online parameters, the target held fixed.

    loss(theta) = mean_i w_i |f_theta(x_n_i, s_n_i) - target_i|^2 with
    target_i = f_{target_theta}(x_hat_i, s_prev_i), or x_hat_i where s_prev_i == b_i (when
    ``boundary_condition``). ``target_theta`` enters only through the target, which is
    computed once and treated as a constant: the gradient flows only through the online side.

    Parameters
    ----------
    model : Model (online parameters ``model.net.theta``)
    target_theta : (P,) array, the target network phi^- (EMA; ``model.net.theta`` for mu = 0)
    x_n, x_hat : (B, d) arrays; s_n, s_prev, b : (B,) arrays (from :func:`cd_batch`)
    weights : (B,) array, optional (default 1)

    Returns
    -------
    loss : float
    grad : (P,) array -- ``model.net.grad`` (overwritten by the next backward; copy to keep)
    """
    def f_target(x, s, bb):
        return model(x, s, bb, theta=target_theta)

    target = _target(f_target, x_hat, s_prev, b, boundary_condition)
    B = x_n.shape[0]
    pred = model.forward(x_n, s_n, b if boundary_condition else None)
    diff = pred - target
    if weights is None:
        loss = float(np.einsum("bd,bd->", diff, diff)) / B
    else:
        w = np.asarray(weights, dtype=np.float64)[:, None]
        loss = float(np.einsum("bd,bd->", w * diff, diff)) / B
        diff *= w
    model.backward((2.0 / B) * diff, need_input_grad=False)
    return loss, model.net.grad


@dataclass
class CDResult:
    """A trained consistency student.

    Attributes
    ----------
    model : Model -- the online student f_phi
    target_theta : (P,) array -- the target network's parameters phi^- (EMA)
    history : (steps,) array -- the training loss
    grid, boundaries : ascending arrays of grid values
    solver : str -- the teacher's one-step solver
    teacher_evals : int -- denoiser evaluations spent, counted per sample (Heun: 2 per step)
    train : TrainConfig -- the optimiser settings (``train.ema`` is the target decay mu)
    param : str -- the output parameterisation ("consistency", "jump", "jump_edm", "plain")
    hidden, depth : int -- MLP width and number of hidden layers
    weighting : str -- per-level loss weights ("cout" or "uniform")
    train_seconds : float -- wall time of training (inflated on a busy machine)
    """

    model: Model
    target_theta: np.ndarray
    history: np.ndarray
    grid: np.ndarray
    boundaries: np.ndarray
    solver: str
    teacher_evals: int
    train: TrainConfig = field(default_factory=TrainConfig)
    param: str = "consistency"
    hidden: int = 128
    depth: int = 3
    weighting: str = "cout"
    train_seconds: float = 0.0

    def __call__(self, x, sigma, boundary=None):
        """The online student; a boundary defaults to each sigma's segment lower boundary.

        Parameters
        ----------
        x : (B, d) array
        sigma : float or (B,) array in [s_1, s_N] (any value, not only grid values)
        boundary : float or (B,) array, optional
            When given, each entry must be the lower boundary of its sigma's segment (the
            largest stored boundary below sigma), or sigma itself (f(x, b) = x); anything
            else is a student this network was not trained as, and is refused.

        Returns
        -------
        f : (B, d) array (one BLAS thread: the same bits whatever the thread variables)
        """
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"x must have shape (B, d), got {x.shape}")
        s = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (x.shape[0],))
        lo, hi = self.grid[0], self.grid[-1]
        if not np.all((s >= lo) & (s <= hi)):
            raise ValueError(f"sigma must lie in [s_1, s_N] = [{lo:g}, {hi:g}] (the range the "
                             f"student was trained on), got values in [{s.min():g}, {s.max():g}]")
        if self.model.param.has_boundary:
            own = lower_boundary(self.grid, self.boundaries, s)
            if boundary is None:
                boundary = own
            else:
                given = np.broadcast_to(np.asarray(boundary, dtype=np.float64), s.shape)
                if not np.all((given == own) | (given == s)):
                    raise ValueError(
                        "boundary must be, per sample, the lower boundary of sigma's segment "
                        "(or sigma itself); this student's boundaries are "
                        f"{self.boundaries.tolist()}")
                boundary = given
        with blas_threads(1):
            return self.model(x, s, boundary)

    def to_record(self) -> StudentRecord:
        """Everything needed to resume or evaluate this student (:mod:`.records`)."""
        return StudentRecord(
            kind="cd", model=self.model,
            arrays={"target_theta": self.target_theta, "history": self.history,
                    "grid": self.grid, "boundaries": self.boundaries},
            meta={"solver": self.solver, "teacher_evals": int(self.teacher_evals),
                  "train": dataclasses.asdict(self.train), "param": self.param,
                  "hidden": int(self.hidden), "depth": int(self.depth),
                  "weighting": self.weighting})

    @classmethod
    def from_record(cls, record: StudentRecord) -> CDResult:
        """The student :meth:`to_record` recorded (the same bits; a grid that this machine's
        :func:`~.optima.distill_grid` rounds one ulp differently is taken as that grid, see
        :func:`~.optima.canonical_grid`)."""
        a, m = record.arrays, record.meta
        grid = canonical_grid(a["grid"])
        return cls(record.model, a["target_theta"], a["history"], grid,
                   canonical_boundaries(a["boundaries"], grid),
                   m["solver"], int(m["teacher_evals"]), train=TrainConfig(**m["train"]),
                   param=m["param"], hidden=int(m["hidden"]), depth=int(m["depth"]),
                   weighting=m["weighting"])

    @property
    def config(self) -> dict:
        """The settings as a plain dict (read-only view kept for the older runner modules)."""
        t = self.train
        return dict(solver=self.solver, param=self.param, mu=t.ema, steps=t.steps,
                    batch=t.batch, lr=t.lr, warmup=t.warmup, hidden=self.hidden,
                    depth=self.depth, seed=t.seed, weighting=self.weighting,
                    weight_decay=t.weight_decay, train_seconds=self.train_seconds)


def train_cd(denoiser, data, grid, solver: str = "heun", boundaries=None,
             train: TrainConfig = TrainConfig(ema=0.9),  # noqa: B008 (frozen: immutable)
             *, param: str = "consistency", hidden: int | None = None,
             depth: int | None = None, emb_dim: int | None = None,
             activation: str | None = None, net=None, weighting: str = "cout", callback=None,
             callback_every: int = 50) -> CDResult:
    """Train a consistency student by CD against the ideal-denoiser teacher.

    Parameters
    ----------
    denoiser : IdealDenoiser (the teacher)
    data : DeltaMixture or GaussianMixture (x0 is drawn from it)
    grid : (N,) array of grid sigmas (any order; see :func:`optima.distill_grid`), or a
        :class:`~ideal_diffusion.distill.optima.Grid`
    solver : {"euler", "heun"} -- the teacher's one-step solver
    boundaries : (K,) array of grid values containing s_1, or None (plain CD)
    train : TrainConfig
        Steps, batch, Adam (peak lr, warm-up clamped to the steps, cosine decay, clipping,
        decoupled weight decay: a pull of every weight towards 0, i.e. of the plain student
        towards the constant trivial solution), the seed of weights and batches (same seed,
        same bits), the progress bar, the divergence bounds, and ``train.ema``: the EMA decay
        mu of the target network phi^- (0: a stop-gradient copy of phi).
    param : {"consistency", "jump", "jump_edm", "plain"} -- "plain": no boundary condition
    hidden, depth, emb_dim, activation : the network (:func:`~ideal_diffusion.nn.make_net`;
        None: ``nn.NET_DEFAULTS``)
    net : MLP, optional -- an injected network (copied), instead of a fresh one
    weighting : {"cout", "uniform"} -- per-level loss weights (:func:`cd_weights`)
    callback : callable ``callback(step, model, target_theta)``, optional
        Called before the first step (step 0) and after every ``callback_every`` steps
        (``step`` = steps done) and after the last; it must not modify the model.
    callback_every : int >= 1

    Returns
    -------
    CDResult

    Raises
    ------
    ValueError
        On a bad grid, boundaries, solver, parameterisation, weighting or sizes.
    FloatingPointError
        When training diverges (:func:`~ideal_diffusion.nn.fit`: the message names the step,
        the loss and the cause).
    """
    if not isinstance(train, TrainConfig):
        raise TypeError(f"train must be a TrainConfig, got {type(train).__name__}")
    if solver not in ("euler", "heun"):
        raise ValueError(f"solver must be 'euler' or 'heun', got {solver!r}")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if isinstance(callback_every, bool) or not isinstance(callback_every, (int, np.integer)) \
            or callback_every < 1:
        raise ValueError(f"callback_every must be an integer >= 1, got {callback_every!r}")
    G = Grid(grid)
    g = G.sigmas
    b_all = check_boundaries(G, boundaries)
    rng = np.random.default_rng(train.seed)
    model = make_student(data.d, param, g[0], hidden=hidden, depth=depth, emb_dim=emb_dim,
                         activation=activation, net=net, rng=rng)
    net = model.net
    opt = Optimiser(net.theta, train, target=True)
    ema = opt.ema
    has_bc = param != "plain"
    evals_per_sample = 2 if solver == "heun" else 1
    steps, batch = train.steps, train.batch

    low = lower_boundary(G, b_all, g)
    w_level = cd_weights(model, G, b_all, weighting)

    if callback is not None:
        callback(0, model, ema.theta)

    def step(i):
        x_n, s_n, x_hat, s_prev, b = _draw(denoiser, data, g, low, batch, rng, solver)
        w = w_level[np.searchsorted(g, s_n)]
        loss, grad = cd_step_grad(model, ema.theta, x_n, s_n, x_hat, s_prev, b, has_bc, w)
        opt.step(i, grad)
        if callback is not None and ((i + 1) % callback_every == 0 or i + 1 == steps):
            callback(i + 1, model, ema.theta)
        return loss

    label = "CD" if b_all.size == 1 else f"MBCD K={b_all.size}"
    t0 = time.perf_counter()
    history = fit(step, train, desc=f"{label} ({param}, {solver})", params=net.theta)
    seconds = time.perf_counter() - t0
    return CDResult(model, ema.theta.copy(), history, g, b_all, solver,
                    steps * batch * evals_per_sample, train, param, net.hidden, net.depth,
                    weighting, seconds)
