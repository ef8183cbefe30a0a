"""Rectified flow (Liu, Gong, Liu 2023) with the exact 2-rectified velocity.

Conventions (those of :mod:`ideal_diffusion.distill.flow`)
---------------------------------------------------------
FM time t in [0, 1], t = 0 data, t = 1 noise, noise eps ~ N(0, I) at t = 1; grids in t are
**descending**. The sampler convention of the toolkit starts the VE PF-ODE at x_T = 80 eps,
sigma_max = 80, which is the FM state t_max eps at t_max = 80/81.

The 1-rectified coupling
------------------------
The ideal flow-matching ODE (the "1-rectified flow", equivalent to the VE PF-ODE) defines a
deterministic map of noises to data. **Here it is defined from t_max**: Phi(eps) is the t -> 0
end of the exact FM ODE started at x(t_max) = t_max eps, i.e. of the VE PF-ODE started at
x_T = 80 eps. For a delta mixture the end is a data point: Phi(eps) = x_j for eps in the
*basin* B_j = {eps : the exact ODE from 80 eps ends at x_j}. Basin membership is computed by
:class:`BasinOracle`: ``solve_ode`` (DOP853 in log sigma) from 80 eps down to sigma_min at
rtol = atol = 1e-8 (default), then the nearest data point of the state at sigma_min (for the
``clusters`` set this agrees with a 1e-10 solve on 1,000 of 1,000 test noises; only noises
within the solve's error of a basin boundary can be misassigned).

The exact 2-rectified velocity
------------------------------
Reflow trains a new flow on the straight lines between coupled pairs,
x_t = (1 - t) Z + t eps with Z = Phi(eps). Its optimum is v2(x, t) = E[eps - Z | x_t = x].
Derivation: given Z = x_j, the only noise with x_t = x is eps_j = (x - (1 - t) x_j) / t
(the map eps -> x_t is affine with Jacobian t^d, the same for every j). The pair (eps, Z)
has eps ~ N(0, I) and Z = x_j exactly when eps in B_j, so the density of x_t is

    p_t(x) = t^-d sum_j N(eps_j; 0, I) 1[eps_j in B_j],

and the posterior of Z given x_t = x is

    w_j(x, t) = N(eps_j; 0, I) 1[eps_j in B_j] / sum_k N(eps_k; 0, I) 1[eps_k in B_k].

There are no data weights: the basin masses P(eps in B_j) carry them. On the path
eps - Z = eps_j - x_j = (x - x_j) / t, so

    v2(x, t) = sum_j w_j (eps_j - x_j) = (x - sum_j w_j x_j) / t,

the flow-matching velocity with the softmax posterior replaced by the Gaussian density of
the implied noises *truncated to their basins*. Where no eps_j lies in its basin,
p_t(x) = 0 and v2 is undefined (e.g. two points on a line: the gap between the two straight
bundles); :func:`rectified_velocity` then falls back to the untruncated weights
w_j ~ N(eps_j; 0, I) and reports the row outside the support.

Candidates with log N(eps_j) more than ``window`` (50) nats below the best in-basin candidate
carry relative weight below e^-50 and are not tested; the others are tested together in one
vectorised basin solve (all (x, j) pairs of a call), and every tested noise is cached.

v2 is discontinuous where an eps_j crosses the boundary of B_j. At the sampler's start
x = t_max e (t = t_max) the candidates are e - x_j (1 - t_max) / t_max = e - x_j / 80, so the
start whose line ends at x_j is a start in the *translate* B_j + x_j / 80 of its basin; the
translates can overlap (two lines through one point: v2 averages, the path bends) or leave
gaps (no line at all: p_t = 0, v2 undefined, and the untruncated fallback bends the path until
it enters the support). :func:`support_edge` finds the edge of a translate by k-section; what
lies beyond it is measured in :mod:`ideal_diffusion.experiments.flow`.

The reflow student
------------------
:func:`train_reflow`: a velocity MLP v_theta(x, t) (the toolkit's hand-written-backprop
``nn.MLP`` conditioned on sigma(t) = t / (1 - t)) regressed on counted teacher pairs
(eps, Phi(eps)) as in the rectified-flow paper: loss E |v_theta(x_t, t) - (eps - Z)|^2 with
t ~ U(t_min, t_max). Its exact optimum is v2.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _validate as _v
from ..data import DeltaMixture
from ..metrics import nearest_point
from ..nn import MLP, Optimiser, TrainConfig, fit, make_net
from ..schedules import SIGMA_MAX, SIGMA_MIN
from ..solvers import solve_ode
from .flow import T_MAX, T_MIN, _check_t, _check_x, sigma_of_t

__all__ = ["BasinOracle", "ReflowResult", "VelocityStudent", "rectified_velocity",
           "RectifiedVelocity", "reflow_pairs", "support_edge", "train_reflow"]


class _Counted:
    """Wrap a denoiser and count single-point evaluations (rows per call)."""

    def __init__(self, denoiser):
        self.denoiser, self.evals = denoiser, 0

    def __call__(self, x, sigma):
        self.evals += np.asarray(x).shape[0]
        return self.denoiser(x, sigma)


class BasinOracle:
    """basin(eps): the index j of the data point the exact PF-ODE from x_T = 80 eps ends at.

    Parameters
    ----------
    denoiser : IdealDenoiser of a DeltaMixture
    rtol, atol : float, > 0
        Tolerances of the basin solve (DOP853 in log sigma, 80 -> sigma_min).
    sigma_max, sigma_end : float
        Start and end noise levels of the solve; the basin is the nearest data point of the
        state at ``sigma_end``.
    chunk : int
        Rows per solve (one adaptive solve per chunk: the batch shares its steps).

    Attributes
    ----------
    teacher_evals : int
        Single-point denoiser evaluations spent so far (cached noises cost nothing).
    """

    def __init__(self, denoiser, rtol: float = 1e-8, atol: float = 1e-8,
                 sigma_max: float = SIGMA_MAX, sigma_end: float = SIGMA_MIN, chunk: int = 1000):
        if not isinstance(getattr(denoiser, "data", None), DeltaMixture):
            kind = type(getattr(denoiser, "data", None)).__name__
            raise ValueError("denoiser must be an IdealDenoiser of a DeltaMixture, got "
                             f"{type(denoiser).__name__} of {kind}")
        rtol = _v.real(rtol, "rtol", 0.0, lo_open=True)
        atol = _v.real(atol, "atol", 0.0, lo_open=True)
        sigma_max = _v.real(sigma_max, "sigma_max", 0.0, lo_open=True)
        sigma_end = _v.real(sigma_end, "sigma_end", 0.0, sigma_max, lo_open=True, hi_open=True)
        self.denoiser = _Counted(denoiser)
        self.data = denoiser.data
        self.rtol, self.atol = rtol, atol
        self.sigma_max, self.sigma_end = sigma_max, sigma_end
        self.chunk = _v.integer(chunk, "chunk", 1)
        self._cache: dict[bytes, int] = {}

    @property
    def teacher_evals(self) -> int:
        return self.denoiser.evals

    def __call__(self, eps) -> np.ndarray:
        """Basin indices of the noises ``eps`` (B, d): an int array (B,)."""
        eps = np.ascontiguousarray(_check_x(eps, "eps"))
        keys = [r.tobytes() for r in eps]
        out = np.empty(len(keys), dtype=np.int64)
        todo = []
        for i, k in enumerate(keys):
            j = self._cache.get(k)
            if j is None:
                todo.append(i)
            else:
                out[i] = j
        if todo:
            # unique rows only (the same noise may be asked twice in one call)
            first = {}
            for i in todo:
                first.setdefault(keys[i], i)
            rows = np.array(list(first.values()))
            for a in range(0, rows.size, self.chunk):
                r = rows[a:a + self.chunk]
                y = solve_ode(self.denoiser, self.sigma_max * eps[r], self.sigma_max,
                              self.sigma_end, rtol=self.rtol, atol=self.atol)
                idx = nearest_point(self.data, y)[0]
                for i, j in zip(r, idx):
                    self._cache[keys[i]] = int(j)
            for i in todo:
                out[i] = self._cache[keys[i]]
        return out

    def coupling(self, eps) -> np.ndarray:
        """Z = Phi(eps): the data point of each noise's basin, (B, d)."""
        return self.data.points[self(eps)]


def rectified_velocity(oracle: BasinOracle, x, t, window: float = 50.0,
                       return_support: bool = False, return_weights: bool = False):
    """The exact 2-rectified velocity v2(x, t) = E[eps - Z | x_t = x] (module notes).

    Parameters
    ----------
    oracle : BasinOracle
    x : (B, d) array, FM states
    t : float or (B,) array in (0, 1)
    window : float > 0
        Candidates more than ``window`` nats below the best in-basin one are not tested.
    return_support : bool
        Also return ``(B,)`` bool: False where no eps_j lies in its basin (p_t(x) = 0; the
        untruncated weights are used there).
    return_weights : bool
        Also return the posterior weights w : (B, N) of Z = x_j (rows sum to 1).

    Returns
    -------
    v2 : (B, d) float64 array
    in_support : (B,) bool array, only with ``return_support``
    w : (B, N) array, only with ``return_weights``
    """
    if not isinstance(oracle, BasinOracle):
        raise TypeError(f"oracle must be a BasinOracle, got {type(oracle).__name__}")
    window = _v.real(window, "window", 0.0, lo_open=True)
    x = _check_x(x)
    B, d = x.shape
    t = _check_t(t, B)
    pts = oracle.data.points
    N = pts.shape[0]
    eps = (x[:, None, :] - (1.0 - t)[:, None, None] * pts[None]) / t[:, None, None]  # (B, N, d)
    logp = -0.5 * np.einsum("bnd,bnd->bn", eps, eps)
    tested = np.zeros((B, N), dtype=bool)
    inb = np.zeros((B, N), dtype=bool)
    rowmax = logp.max(axis=1)
    thr = rowmax - window
    while True:
        need = (logp >= thr[:, None]) & ~tested
        if not need.any():
            found = (inb & tested).any(axis=1)
            best = np.where(inb, logp, -np.inf).max(axis=1)
            # rows with an in-basin candidate: test down to best - window; rows without: all
            new_thr = np.where(found, best - window, -np.inf)
            if np.all(new_thr >= thr):
                break
            thr = np.minimum(thr, new_thr)
            continue
        bi, ji = np.nonzero(need)
        inb[bi, ji] = oracle(eps[bi, ji]) == ji
        tested[bi, ji] = True
    support = inb.any(axis=1)
    keep = np.where(support[:, None], inb, True) & (logp >= thr[:, None])
    z = np.where(keep, logp, -np.inf)
    w = np.exp(z - z.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    v = (x - w @ pts) / t[:, None]
    out = (v,) + ((support,) if return_support else ()) + ((w,) if return_weights else ())
    return out if len(out) > 1 else v


class RectifiedVelocity:
    """v2 as a callable ``v(x, t)`` (t a float or (B,) array), counting its evaluations.

    Attributes
    ----------
    oracle : BasinOracle (its ``teacher_evals`` counts the basin solves)
    nfe : int -- velocity evaluations, per row
    outside : int -- rows seen outside the support of p_t
    """

    def __init__(self, oracle: BasinOracle, window: float = 50.0):
        self.oracle, self.window = oracle, window
        self.nfe = 0
        self.outside = 0

    def __call__(self, x, t):
        v, sup = rectified_velocity(self.oracle, x, t, self.window, return_support=True)
        self.nfe += v.shape[0]
        self.outside += int((~sup).sum())
        return v


def support_edge(oracle: BasinOracle, lo, hi, t: float, delta: float, k: int = 16):
    """Starts on both sides of the edge of the 2-rectified line bundle through ``t lo``.

    For each row, j = the data point whose line passes through x = t lo at time t (the
    in-basin candidate of :func:`rectified_velocity`; it must be unique, i.e. weight 1), and
    the segment lo -> hi is cut by k-section (k interior points per round, one basin solve of
    all rows per round) on "the candidate noise (t e - (1 - t) x_j) / t of x = t e lies in
    B_j" until the bracket is shorter than ``delta``.

    Parameters
    ----------
    oracle : BasinOracle
    lo, hi : (B, d) arrays -- noises e (starts t e); the predicate must hold at lo, not at hi
    t : float in (0, 1) -- the start time (t_max for the sampler's start)
    delta : float > 0 -- final bracket length
    k : int >= 1

    Returns
    -------
    inside, outside : (B, d) arrays -- the last noise with the predicate and the first without,
        |inside - outside| <= delta, or adjacent in floating point where ``delta`` is below
        the float spacing of the bracket (the k-section stops when a round moves nothing)
    label : (B,) int -- j

    Raises
    ------
    TypeError
        On non-real lo / hi / t / delta or a non-integer k.
    ValueError
        On mismatched shapes, delta <= 0, k < 1, or lo / hi not on both sides of an edge.
    """
    if not isinstance(oracle, BasinOracle):
        raise TypeError(f"oracle must be a BasinOracle, got {type(oracle).__name__}")
    lo, hi = _check_x(lo, "lo").copy(), _check_x(hi, "hi").copy()
    if lo.shape != hi.shape:
        raise ValueError(f"lo and hi must have the same shape, got {lo.shape} and {hi.shape}")
    delta = _v.real(delta, "delta", 0.0, lo_open=True)
    k = _v.integer(k, "k", 1)
    t = float(_check_t(_v.real(t, "t")))
    pts = oracle.data.points
    _, w = rectified_velocity(oracle, t * lo, t, return_weights=True)
    label = w.argmax(axis=1)
    if not np.all(w.max(axis=1) > 1 - 1e-12):
        raise ValueError("lo must lie on exactly one line of the 2-rectified coupling")
    shift = (1.0 - t) / t * pts[label]

    def inside(e, lab_shift, lab):
        return oracle(e - lab_shift) == lab

    if np.any(inside(hi, shift, label)):
        raise ValueError("hi must lie off the line bundle of lo's data point")
    s = np.linspace(0.0, 1.0, k + 2)[1:-1]
    # each round shrinks a bracket by a factor >= k + 1 >= 2 until it is below delta or at the
    # float spacing (then a round moves nothing); 4200 rounds would span far more than the
    # float64 range, so the bound only guards against a predicate that is not monotone
    for _ in range(4200):
        if not np.max(np.linalg.norm(hi - lo, axis=1)) > delta:
            break
        before = (lo.copy(), hi.copy())
        cand = lo[:, None] + s[None, :, None] * (hi - lo)[:, None]
        ok = inside(cand.reshape(-1, lo.shape[1]), np.repeat(shift, s.size, axis=0),
                    np.repeat(label, s.size)).reshape(-1, s.size)
        for r in range(lo.shape[0]):
            out = np.flatnonzero(~ok[r])
            j = out[0] if out.size else s.size
            new_lo = lo[r] if j == 0 else cand[r, j - 1]
            if j < s.size:
                hi[r] = cand[r, j]
            lo[r] = new_lo
        if np.array_equal(lo, before[0]) and np.array_equal(hi, before[1]):
            break  # float spacing: no candidate lies strictly inside any bracket
    return lo, hi, label


def reflow_pairs(oracle: BasinOracle, n: int, rng):
    """n counted teacher pairs (eps, Z = Phi(eps)) of the 1-rectified coupling.

    Parameters
    ----------
    oracle : BasinOracle (its teacher_evals grows by the solves' evaluations)
    n : int >= 1
    rng : numpy Generator or int seed

    Returns
    -------
    eps : (n, d) array, N(0, I)
    Z : (n, d) array, data points
    teacher_evals : int -- single-point denoiser evaluations spent on these pairs
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    before = oracle.teacher_evals
    eps = rng.standard_normal((int(n), oracle.data.d))
    Z = oracle.coupling(eps)
    return eps, Z, oracle.teacher_evals - before


class VelocityStudent:
    """A velocity model v_theta(x, t) = MLP([x, emb(sigma(t))]), sigma(t) = t / (1 - t).

    Parameters
    ----------
    net : MLP -- d features in and out (e.g. :func:`~ideal_diffusion.nn.make_net`)
    """

    def __init__(self, net: MLP):
        if not isinstance(net, MLP) or net.in_dim != net.out_dim:
            raise TypeError("net must be an ideal_diffusion.nn.MLP with in_dim == out_dim")
        self.net = net

    def __call__(self, x, t):
        """v_theta(x, t): x (B, d), t float or (B,) in (0, 1) -> (B, d)."""
        x = _check_x(x)
        t = _check_t(t, x.shape[0])
        return self.net(x, sigma_of_t(t))

    def loss_grad(self, x, t, target):
        """Mean |v_theta(x, t) - target|^2 over rows, and d loss / d theta (``net.grad``)."""
        pred = self.net.forward(x, sigma_of_t(t))
        diff = pred - target
        B = x.shape[0]
        self.net.backward((2.0 / B) * diff, need_input_grad=False)
        return float(np.einsum("bd,bd->", diff, diff)) / B, self.net.grad


@dataclass
class ReflowResult:
    """A trained reflow student.

    Attributes
    ----------
    student : VelocityStudent (the EMA weights when ``train.ema > 0``)
    history : (steps,) training losses
    teacher_evals : int -- single-point teacher evaluations spent on the pairs
    n_pairs : int
    train : TrainConfig
    """

    student: VelocityStudent
    history: np.ndarray
    teacher_evals: int
    n_pairs: int
    train: TrainConfig = field(default_factory=TrainConfig)

    def __call__(self, x, t):
        return self.student(x, t)


def train_reflow(oracle: BasinOracle, n_pairs: int = 4000,
                 train: TrainConfig = TrainConfig(),  # noqa: B008 (frozen)
                 *, hidden: int | None = None, depth: int | None = None,
                 emb_dim: int | None = None, activation: str | None = None, net=None,
                 t_min: float = T_MIN, t_max: float = T_MAX) -> ReflowResult:
    """Train a reflow student on counted pairs (eps, Phi(eps)).

    Each step draws ``train.batch`` pairs from the fixed pair set, t ~ U(t_min, t_max),
    x_t = (1 - t) Z + t eps, and takes an Adam step on |v_theta(x_t, t) - (eps - Z)|^2.

    Parameters
    ----------
    oracle : BasinOracle -- the teacher coupling (its evaluations are counted)
    n_pairs : int >= 1
    train : TrainConfig -- steps, batch, lr (warm-up + cosine), seed (pairs, weights, batches);
        ``train.ema > 0`` returns the EMA of the weights (the default ``ema = 0``: none)
    hidden, depth, emb_dim, activation : the network (:func:`~ideal_diffusion.nn.make_net`;
        None: ``nn.NET_DEFAULTS``)
    net : MLP, optional -- an injected network (copied), instead of a fresh one
    t_min, t_max : float, 0 < t_min < t_max < 1

    Returns
    -------
    ReflowResult

    Raises
    ------
    TypeError
        If ``oracle`` is not a BasinOracle, ``train`` not a TrainConfig, or a size not an
        integer.
    ValueError
        On out-of-range sizes or times.
    """
    if not isinstance(oracle, BasinOracle):
        raise TypeError(f"oracle must be a BasinOracle, got {type(oracle).__name__}")
    if not isinstance(train, TrainConfig):
        raise TypeError(f"train must be a TrainConfig, got {type(train).__name__}")
    _v.integer(n_pairs, "n_pairs", 1)
    t_min = _v.real(t_min, "t_min", 0.0, 1.0, lo_open=True, hi_open=True)
    t_max = _v.real(t_max, "t_max", 0.0, 1.0, lo_open=True, hi_open=True)
    if not 0 < t_min < t_max < 1:
        raise ValueError(f"need 0 < t_min < t_max < 1, got {t_min}, {t_max}")
    rng = np.random.default_rng(train.seed)
    eps, Z, evals = reflow_pairs(oracle, n_pairs, rng)
    student = VelocityStudent(make_net(oracle.data.d, rng, net=net, hidden=hidden, depth=depth,
                                       emb_dim=emb_dim, activation=activation))
    opt = Optimiser(student.net.theta, train)

    def step(i):
        k = rng.integers(0, n_pairs, train.batch)
        t = rng.uniform(t_min, t_max, train.batch)
        xt = (1 - t)[:, None] * Z[k] + t[:, None] * eps[k]
        loss, grad = student.loss_grad(xt, t, eps[k] - Z[k])
        opt.step(i, grad)
        return loss

    hist = fit(step, train, desc="reflow", params=student.net.theta)
    opt.finish()
    return ReflowResult(student, hist, evals, int(n_pairs), train)
