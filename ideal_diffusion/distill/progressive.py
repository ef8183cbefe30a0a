"""Progressive distillation (Salimans & Ho 2022) with the exact per-round optimum.

Setting
-------
The teacher is the ideal VE denoiser D sampled by DDIM, which for VE is the Euler step in
sigma written with the x0 prediction:

    DDIM(x0_hat; x, s -> s') = x0_hat + (s'/s) (x - x0_hat)  =  x + (s' - s)(x - x0_hat)/s.

The N-step sampler grid is the **descending** Karras grid s_0 = 80 > s_1 > ... > s_N = 0.002
(no trailing 0; N a power of 2, e.g. 16). Round k (k = 1 .. log2 N) trains an x0-parameterised
student f_k whose DDIM sampler runs on every 2^k-th grid value, N / 2^k steps; round 0 is the
teacher itself (f_0 = D).

The target
----------
One DDIM step of f_k from s to s'' (two steps of the round k-1 grid, s > s' > s'') must equal
two DDIM steps of f_{k-1}:

    x'  = DDIM(f_{k-1}(x, s);   x,  s  -> s'),
    x'' = DDIM(f_{k-1}(x', s'); x', s' -> s'').

Solving x'' = x~ + (s''/s)(x - x~) for the x0 prediction x~ gives the closed-form target

    x~ = (x'' - (s''/s) x) / (1 - s''/s).                               (:func:`pd_target`)

The exact optimum
-----------------
For a deterministic teacher, x~ is a function of x, so the loss E w(s) |f(x, s) - x~(x, s)|^2
(x drawn from the noised data, full support) is minimised pointwise by f*_k = x~: one DDIM step
of f*_k is exactly two of f*_{k-1}, hence 2^k teacher steps. The oracle after all rounds,
sampled with N / 2^k steps, is therefore the teacher's N-step Euler/DDIM sampler (up to
rounding in x~: checked to 1e-12 in ``tests/test_progressive.py``). :class:`PDOracle` builds
f*_k by exactly this recursion.

Training (:func:`train_progressive`)
------------------------------------
Round k trains on the *trained* student of round k-1 as its teacher (round 1 on the ideal D),
initialised from it (Salimans & Ho, Algorithm 2), so training errors compound over the rounds.
The ideal teacher is evaluated only in round 1: 2 evaluations per training sample; later rounds
spend 2 *student* evaluations per sample. Consistency distillation instead distils the whole
chain in one loss against the ideal teacher every step (its exact one-step optimum on the same
grid with an Euler teacher is the same N-step Euler map), so it does not stack one round's
training error onto the next round's targets.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _validate as _v
from ..nn import EDMPrecond, Model, Optimiser, TrainConfig, fit, make_net

__all__ = ["PDOracle", "PDResult", "ddim_step", "pd_sample", "pd_target", "round_grid",
           "train_progressive"]


def _check_grid(sigmas) -> np.ndarray:
    s = _v.real_array(sigmas, "sigmas", finite=False)
    if s.ndim != 1 or s.size < 2 or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError("sigmas must be a 1-D grid of >= 2 finite values > 0 (no trailing 0)")
    if np.any(np.diff(s) >= 0):
        raise ValueError("sigmas must be strictly descending (noise -> data)")
    return s


def round_grid(sigmas, k: int) -> np.ndarray:
    """The round-k sampler grid: every 2^k-th value of the N-step grid, **descending**.

    Parameters
    ----------
    sigmas : (N + 1,) descending grid, N divisible by 2^k
    k : int, 0 <= k <= log2 N

    Returns
    -------
    (N / 2^k + 1,) array
    """
    s = _check_grid(sigmas)
    n = s.size - 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0 or n % (2 ** k):
        raise ValueError(f"k must be an integer in [0, log2 N] with 2^k dividing N = {n}, "
                         f"got {k!r}")
    return s[:: 2 ** k].copy()


def ddim_step(x0_hat, x, s, s_next) -> np.ndarray:
    """x0_hat + (s_next / s)(x - x0_hat): the VE DDIM (Euler) step; s, s_next float or (B,).

    Raises TypeError on non-real levels, ValueError unless s > 0 and s_next >= 0 are finite.
    """
    s, s_next = _v.real_array(s, "s"), _v.real_array(s_next, "s_next")
    if np.any(s <= 0) or np.any(s_next < 0):
        raise ValueError("ddim_step needs s > 0 and s_next >= 0")
    r = s_next / s
    r = r[:, None] if r.ndim else r
    return x0_hat + r * (x - x0_hat)


def pd_target(x, x2, s, s2) -> np.ndarray:
    """x~ = (x'' - (s''/s) x) / (1 - s''/s): the x0 whose DDIM step s -> s'' lands on x''.

    Parameters
    ----------
    x, x2 : (B, d) arrays -- the state at s and the two-step result at s''
    s, s2 : float or (B,) arrays, s > s2 > 0

    Raises TypeError on non-real levels, ValueError unless s > s2 > 0 (finite).
    """
    r = _v.real_array(s2, "s2") / _v.real_array(s, "s")
    if np.any(r >= 1) or np.any(r <= 0):
        raise ValueError("need s > s2 > 0 (one step towards the data)")
    r = r[:, None] if r.ndim else r
    return (x2 - r * x) / (1.0 - r)


def _next_levels(grid_prev, s):
    """For round-k levels s (per row), the next two levels s', s'' of the round k-1 grid."""
    g = grid_prev
    s = np.asarray(s, dtype=np.float64)
    i = np.argmin(np.abs(g[None, :] - s.reshape(-1, 1)), axis=1)
    if not np.all(np.abs(g[i] - s.ravel()) <= 1e-12 * g[i]) or np.any(i % 2) or np.any(
            i + 2 > g.size - 1):
        raise ValueError("sigma must be a grid value of the next round other than its last "
                         "(sigma_min)")
    return g[i].reshape(s.shape), g[i + 1].reshape(s.shape), g[i + 2].reshape(s.shape)


def two_step_target(f_prev, x, s, grid_prev) -> np.ndarray:
    """x~ from two DDIM steps of ``f_prev`` on ``grid_prev`` from s (per row) (module notes)."""
    s0, s1, s2 = _next_levels(grid_prev, s)
    x1 = ddim_step(f_prev(x, s0), x, s0, s1)
    x2 = ddim_step(f_prev(x1, s1), x1, s1, s2)
    return pd_target(x, x2, s0, s2)


class PDOracle:
    """The exact round-k optimum f*_k(x, sigma) (an x0 prediction), built by the recursion.

    Parameters
    ----------
    denoiser : callable ``D(x, sigma)`` accepting (B,) sigma (the ideal teacher, f*_0)
    sigmas : (N + 1,) descending teacher grid
    k : int, 0 <= k <= log2 N

    Calling ``f(x, sigma)`` with sigma a round-k grid value (not the last), float or (B,).
    """

    def __init__(self, denoiser, sigmas, k: int):
        if not callable(denoiser):
            raise TypeError(f"denoiser must be callable D(x, sigma), got {type(denoiser).__name__}")
        self.sigmas = _check_grid(sigmas)
        self.grid = round_grid(self.sigmas, k)
        self.k = int(k)
        self.denoiser = denoiser
        self.prev = None if k == 0 else PDOracle(denoiser, sigmas, k - 1)

    def __call__(self, x, sigma):
        x = _v.states(x, "x")
        s = _v.sigma_levels(sigma, x.shape[0], "sigma")
        return self._f(x, s)

    def _f(self, x, s):
        if self.k == 0:
            return _v.model_output(self.denoiser(x, s), x.shape, "the denoiser in PDOracle")
        return two_step_target(self.prev._f, x, s, self.prev.grid)


def pd_sample(f, x_T, sigmas) -> np.ndarray:
    """DDIM sampling with an x0 model ``f(x, sigma)`` on a **descending** grid; NFE = steps.

    Returns the state at ``sigmas[-1]`` (no final snap), (B, d).

    Raises
    ------
    TypeError
        If ``f`` is not callable or ``x_T`` / ``sigmas`` are not real arrays.
    ValueError
        On a bad grid or ``x_T``, or a model output of the wrong shape.
    FloatingPointError
        If ``f`` returns NaN or inf (the message names the sigma).
    """
    if not callable(f):
        raise TypeError(f"f must be callable f(x, sigma), got {type(f).__name__}")
    s = _check_grid(sigmas)
    x = _v.states(x_T, "x_T")
    for a, b in zip(s[:-1], s[1:]):
        x0 = _v.model_output(f(x, float(a)), x.shape, f"f in pd_sample at sigma = {a:g}")
        x = ddim_step(x0, x, float(a), float(b))
    return x


@dataclass
class PDResult:
    """Trained progressive-distillation students, one per round.

    Attributes
    ----------
    students : list of Model -- students[k - 1] is round k (x0 prediction, EDM preconditioning;
        the EMA weights when ``train.ema > 0``)
    grids : list of arrays -- grids[k - 1] the round-k sampler grid (descending)
    histories : list of (steps,) arrays
    teacher_evals : int -- single-point evaluations of the ideal teacher (round 1 only)
    student_evals : int -- evaluations of previous-round students used as teachers
    config : dict -- the network (hidden, depth) and the number of rounds
    """

    students: list
    grids: list
    histories: list
    teacher_evals: int
    student_evals: int
    config: dict = field(default_factory=dict)


def _weights(param, levels):
    c_out = param.coefficients(levels)[1]
    w = 1.0 / c_out ** 2
    return w / w.mean()


def train_progressive(denoiser, data, sigmas,
                      train: TrainConfig = TrainConfig(),  # noqa: B008 (frozen)
                      *, hidden: int | None = None, depth: int | None = None,
                      emb_dim: int | None = None, activation: str | None = None, net=None,
                      rounds: int | None = None) -> PDResult:
    """Train the rounds of progressive distillation, each on the previous *trained* student.

    Round k: draw x0 from ``data``, sigma uniform over the round-k levels (all but the last
    grid value), x = x0 + sigma eps, the target x~ from two DDIM steps of the round k-1 model
    (the ideal denoiser for k = 1); loss mean w(sigma) |f_k(x, sigma) - x~|^2 with
    w = 1 / c_out(sigma)^2 normalised to mean 1 over the levels (uniform on the network
    output); Adam with ``train`` (warm-up + cosine) per round; f_k starts from f_{k-1}'s
    weights. With ``train.ema > 0`` each round ends on the EMA of its weights (the round's
    student, and the start of the next round); the default (``ema = 0``) has no EMA.

    Parameters
    ----------
    denoiser : the ideal teacher D(x, sigma)
    data : DeltaMixture or GaussianMixture
    sigmas : (N + 1,) descending grid, N a power of 2
    train : TrainConfig -- per round (steps, batch, lr, ema, seed)
    hidden, depth, emb_dim, activation : the network (:func:`~ideal_diffusion.nn.make_net`;
        None: ``nn.NET_DEFAULTS``)
    net : MLP, optional -- an injected network (copied), instead of a fresh one
    rounds : int, optional -- number of rounds (default log2 N)

    Returns
    -------
    PDResult

    Raises
    ------
    TypeError
        If ``train`` is not a TrainConfig, ``data`` not a DeltaMixture or GaussianMixture,
        ``denoiser`` not callable, or ``hidden`` / ``depth`` / ``rounds`` not integers.
    ValueError
        On a bad grid or out-of-range sizes.
    """
    if not isinstance(train, TrainConfig):
        raise TypeError(f"train must be a TrainConfig, got {type(train).__name__}")
    if not (callable(getattr(data, "sample", None)) and isinstance(getattr(data, "d", None), int)):
        raise TypeError(f"data must be a DeltaMixture or GaussianMixture (with sample(n, rng) "
                        f"and d), got {type(data).__name__}")
    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable D(x, sigma), got {type(denoiser).__name__}")
    if rounds is not None:
        _v.integer(rounds, "rounds", 1)
    s = _check_grid(sigmas)
    n = s.size - 1
    K = int(np.log2(n))
    if 2 ** K != n:
        raise ValueError(f"the number of steps N = {n} must be a power of 2")
    rounds = K if rounds is None else rounds
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or not \
            1 <= rounds <= K:
        raise ValueError(f"rounds must be an integer in [1, {K}], got {rounds!r}")
    rng = np.random.default_rng(train.seed)
    net = make_net(data.d, rng, net=net, hidden=hidden, depth=depth, emb_dim=emb_dim,
                   activation=activation)
    model = Model(net, EDMPrecond(0.5))
    students, grids, hists = [], [], []
    teacher_evals = student_evals = 0
    prev = denoiser
    batch = train.batch
    for k in range(1, rounds + 1):
        g_prev, g = round_grid(s, k - 1), round_grid(s, k)
        levels = g[:-1]
        w_lev = _weights(model.param, levels)
        opt = Optimiser(net.theta, train)
        teacher = prev

        def step(i, teacher=teacher, g_prev=g_prev, levels=levels, w_lev=w_lev, opt=opt):
            li = rng.integers(0, levels.size, batch)
            sig = levels[li]
            x = data.sample(batch, rng) + sig[:, None] * rng.standard_normal((batch, data.d))
            target = two_step_target(teacher, x, sig, g_prev)
            pred = model.forward(x, sig)
            diff = pred - target
            w = w_lev[li][:, None]
            loss = float(np.einsum("bd,bd->", w * diff, diff)) / batch
            model.backward((2.0 / batch) * w * diff, need_input_grad=False)
            opt.step(i, net.grad)
            return loss

        hists.append(fit(step, train, desc=f"PD round {k}", params=net.theta))
        opt.finish()
        if k == 1:
            teacher_evals += 2 * train.steps * batch
        else:
            student_evals += 2 * train.steps * batch
        frozen = model.copy()
        students.append(frozen)
        grids.append(g)
        prev = frozen
    return PDResult(students, grids, hists, teacher_evals, student_evals,
                    dict(hidden=net.hidden, depth=net.depth, rounds=rounds))
