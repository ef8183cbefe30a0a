"""The one training loop, BLAS threads, and the samplers that use what a student stores."""
import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ideal_diffusion import IdealDenoiser, ring
from ideal_diffusion.distill.cd import train_cd
from ideal_diffusion.distill.mbcd import choose_boundaries, train_mbcd
from ideal_diffusion.distill.optima import ConsistencyOracle, distill_grid, lower_boundary
from ideal_diffusion.distill.sampling import kjump_sample, multistep_sample
from ideal_diffusion.nn import MLP, ConsistencyParam, Model, TrainConfig, blas_threads

DATA = ring(8)
D = IdealDenoiser(DATA)
GRID = distill_grid(18)
TINY = TrainConfig(steps=2, batch=8, warmup=1, progress=False)

_SCRIPT = textwrap.dedent("""
    import hashlib, json
    from ideal_diffusion import IdealDenoiser, ring
    from ideal_diffusion.distill.cd import train_cd
    from ideal_diffusion.distill.optima import distill_grid
    from ideal_diffusion.nn import TrainConfig
    from threadpoolctl import threadpool_info
    data = ring(8)
    res = train_cd(IdealDenoiser(data), data, distill_grid(18), "heun", None,
                   TrainConfig(steps=30, batch=256, ema=0.9, seed=3, progress=False),
                   hidden=128, depth=3)
    h = hashlib.sha256()
    for a in (res.model.net.theta, res.target_theta, res.history):
        h.update(a.tobytes())
    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    print(json.dumps({"hash": h.hexdigest(), "blas_threads": blas}))
""")


def _run(threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    env.pop("PYTEST_CURRENT_TEST", None)
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                         text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_train_cd_bit_identical_under_thread_variables():
    # The same seed gives the same bits whether the environment asks BLAS for 1 or 2 threads:
    # fit() and every network call hold BLAS to one thread themselves.
    one, two = _run(1), _run(2)
    assert max(two["blas_threads"]) == 2  # the variable did reach the library (outside fit)
    assert one["hash"] == two["hash"]


def test_inference_is_the_training_forward_and_runs_on_one_thread():
    from threadpoolctl import threadpool_info

    net = MLP(3, hidden=32, depth=2, rng=1)
    model = Model(net, ConsistencyParam(boundary=0.002))
    x = np.random.default_rng(0).standard_normal((50, 3))
    s = np.exp(np.random.default_rng(1).uniform(-3, 3, 50))
    # one forward pass: the cached (training) and uncached (inference) paths give equal bits
    assert np.array_equal(net(x, s), net.forward(x, s))
    assert np.array_equal(model(x, s), model.forward(x, s))
    theta2 = net.theta * 1.5
    y2 = net(x, s, theta=theta2)
    keep = net.theta.copy()
    net.theta[...] = theta2
    assert np.array_equal(y2, net.forward(x, s))
    net.theta[...] = keep
    seen = []
    orig = net.linears[0].forward

    def spy(*a, **k):
        seen.append([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"])
        return orig(*a, **k)

    net.linears[0].forward = spy
    model(x, s)
    assert seen and max(seen[0]) == 1


def test_blas_threads_is_reentrant_and_checks_its_argument():
    from threadpoolctl import threadpool_info

    def n():
        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    before = n()
    with blas_threads(1):
        with blas_threads(2):  # inside a limit of 1, asking for 2 changes nothing
            assert n() == 1
        assert n() == 1
    assert n() == before
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n must be None or an integer >= 1"):
            with blas_threads(bad):
                pass


# ----------------------------------------------------------------------------- samplers


@pytest.fixture(scope="module")
def two_boundary():
    return train_mbcd(D, DATA, GRID, 2, TINY, hidden=8, depth=1)


def test_kjump_defaults_to_the_students_boundaries(two_boundary):
    res = two_boundary
    x_T = 80 * np.random.default_rng(0).standard_normal((6, 2))
    both = kjump_sample(res, x_T, GRID, res.boundaries)
    assert np.array_equal(kjump_sample(res, x_T), both)
    assert np.array_equal(kjump_sample(res, x_T, GRID), both)  # boundaries=None: the stored ones
    # the stored boundaries are the two jumps: b_1 first, then s_1
    b = res.boundaries
    mid = res(x_T, np.full(6, GRID[-1]), np.full(6, b[1]))
    assert np.array_equal(both, res(mid, np.full(6, b[1]), np.full(6, b[0])))
    with pytest.raises(ValueError, match="disagree with those f was trained on"):
        kjump_sample(res, x_T, GRID, GRID[:1])
    with pytest.raises(ValueError, match="grid disagrees"):
        kjump_sample(res, x_T, distill_grid(10))
    with pytest.raises(ValueError, match="grid is required"):
        kjump_sample(lambda x, s, b: x, x_T)
    # a student refuses a boundary that is not its segment's
    with pytest.raises(ValueError, match="lower boundary of sigma's segment"):
        res(x_T, np.full(6, GRID[-1]), np.full(6, GRID[0]))


def test_multistep_taus_and_boundaries(two_boundary):
    one = train_cd(D, DATA, GRID, train=TINY, hidden=8, depth=1)
    x_T = 80 * np.random.default_rng(2).standard_normal((5, 2))
    # arbitrary taus (not grid values) in (s_1, s_N] for a one-boundary student
    taus = [17.3, 0.77, 0.0123]
    assert not np.isin(taus, GRID).any()
    x = multistep_sample(one, x_T, taus=taus, rng=4)
    # the same thing by hand: one jump, then re-noise to each tau and jump to s_1
    rng = np.random.default_rng(4)
    y = one(x_T, GRID[-1])
    for t in taus:
        y = one(y + np.sqrt(t * t - GRID[0] ** 2) * rng.standard_normal(y.shape), t)
    assert np.array_equal(x, y)
    assert np.array_equal(multistep_sample(one, x_T, GRID, taus, rng=4), x)
    with pytest.raises(ValueError, match=r"strictly descending and lie in \(s_1, s_N\]"):
        multistep_sample(one, x_T, taus=[0.5, 2.0])
    with pytest.raises(ValueError, match=r"\(s_1, s_N\]"):
        multistep_sample(one, x_T, taus=[81.0])
    with pytest.raises(ValueError, match="len\\(taus\\) \\+ 1"):
        multistep_sample(one, x_T, taus=[2.0], steps=3)
    with pytest.raises(ValueError, match="kjump_sample"):
        multistep_sample(two_boundary, x_T)
    # the oracle stores its grid too
    orc = ConsistencyOracle(D, GRID)
    assert np.array_equal(multistep_sample(orc, x_T, steps=1), orc(x_T, GRID[-1]))


def test_student_refuses_sigma_outside_its_grid():
    one = train_cd(D, DATA, GRID, train=TINY, hidden=8, depth=1)
    x = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"sigma must lie in \[s_1, s_N\]"):
        one(x, 100.0)
    with pytest.raises(ValueError, match=r"sigma must lie in \[s_1, s_N\]"):
        one(x, 0.001)
    assert np.array_equal(one(x + 1, GRID[0]), x + 1)  # f(x, s_1) = x, bit for bit


def test_lower_boundary_between_grid_values():
    """Any sigma in [s_1, s_N], not only grid values: (b_k, b_{k+1}] -> b_k, s_1 -> s_1."""
    b = GRID[[0, 6, 12]]
    s = np.array([GRID[0], GRID[3], GRID[6], GRID[7], 3.3, GRID[-1]])
    want = np.array([GRID[0], GRID[0], GRID[0], GRID[6], b[np.searchsorted(b, 3.3) - 1], GRID[12]])
    assert np.array_equal(lower_boundary(GRID, b, s), want)
    # a value within 1e-9 of a grid value is that grid value (b_1 itself, not just above it)
    assert lower_boundary(GRID, b, GRID[6] * (1 + 1e-12)) == GRID[0]
    with pytest.raises(ValueError, match=r"sigma must lie in \[s_1, s_N\]"):
        lower_boundary(GRID, b, 100.0)


def test_train_mbcd_refuses_boundaries():
    with pytest.raises(ValueError, match="K chooses them"):
        train_mbcd(D, DATA, GRID, 2, TINY, boundaries=choose_boundaries(GRID, 2))


def test_results_keep_history_and_config():
    res = train_mbcd(D, DATA, GRID, 2, TINY.replace(ema=0.5), hidden=8, depth=1)
    assert res.history.shape == (2,) and res.train.ema == 0.5 and res.param == "jump_edm"
    assert res.config["mu"] == 0.5 and res.config["steps"] == 2  # legacy view
    h = hashlib.sha256(res.model.net.theta.tobytes()).hexdigest()
    again = train_mbcd(D, DATA, GRID, 2, TINY.replace(ema=0.5), hidden=8, depth=1)
    assert hashlib.sha256(again.model.net.theta.tobytes()).hexdigest() == h


# ----------------------------------------------------------------------------- one training setup


def _trainers():
    """Each trainer as ``fit(train, **net_kwargs) -> (trained weights, its EMA or target)``."""
    from ideal_diffusion.distill import (
        train_denoiser_student,
        train_kd,
        train_progressive,
        train_reflow,
    )
    from ideal_diffusion.distill.kd import noisy_pairs, regression_pairs
    from ideal_diffusion.distill.reflow import BasinOracle
    from ideal_diffusion.schedules import sampling_grid

    x_T, x0 = noisy_pairs(DATA, 64, rng=1)
    pairs = regression_pairs(x_T, x0)
    oracle = BasinOracle(D, rtol=1e-5, atol=1e-5)
    return {
        "kd": lambda t, **kw: train_kd(pairs, t, **kw).model.net.theta,
        "denoiser": lambda t, **kw: train_denoiser_student(DATA, t, **kw).model.net.theta,
        "progressive": lambda t, **kw: train_progressive(
            D, DATA, sampling_grid(4), t, rounds=1, **kw).students[-1].net.theta,
        "reflow": lambda t, **kw: train_reflow(oracle, 50, t, **kw).student.net.theta,
        "cd (target)": lambda t, **kw: train_cd(D, DATA, GRID, train=t, **kw).target_theta,
        "mbcd (target)": lambda t, **kw: train_mbcd(D, DATA, GRID, 2, t, **kw).target_theta,
    }


@pytest.mark.parametrize("name", list(_trainers()))
def test_every_trainer_honours_ema_and_an_injected_net(name):
    # ema = 1 freezes the average at the starting weights: a regression student ends on them
    # and a CD target network stays there, bit for bit. The injected net is copied, not trained.
    fit_ = _trainers()[name]
    net = MLP(2, hidden=8, depth=2, emb_dim=4, activation="relu", rng=11)
    start = net.theta.copy()
    t = TrainConfig(steps=3, batch=8, warmup=1, ema=1.0, progress=False)
    assert np.array_equal(fit_(t, net=net, hidden=8), start)
    assert np.array_equal(net.theta, start)
    if not name.startswith(("cd", "mbcd")):  # without ema the weights move
        assert not np.array_equal(fit_(t.replace(ema=0.0), net=net), start)


def test_trainers_share_one_signature():
    import inspect

    from ideal_diffusion.distill import (
        train_denoiser_student,
        train_kd,
        train_progressive,
        train_reflow,
    )

    for f in (train_kd, train_cd, train_progressive, train_reflow, train_denoiser_student):
        p = inspect.signature(f).parameters
        assert "train" in p and "cfg" not in p, f.__name__
        for name in ("hidden", "depth", "emb_dim", "activation", "net"):
            assert p[name].kind is inspect.Parameter.KEYWORD_ONLY, (f.__name__, name)


def test_make_net_refuses_a_disagreeing_architecture():
    from ideal_diffusion.nn import NET_DEFAULTS, make_net

    fresh = make_net(3, rng=0)
    assert (fresh.hidden, fresh.depth, fresh.emb_dim, fresh.activation) == tuple(
        NET_DEFAULTS[k] for k in ("hidden", "depth", "emb_dim", "activation"))
    net = MLP(2, hidden=8, depth=1, rng=0)
    assert make_net(2, net=net, hidden=8, depth=1).hidden == 8
    with pytest.raises(ValueError, match="hidden=16 disagrees"):
        make_net(2, net=net, hidden=16)
    with pytest.raises(ValueError, match="net must map 3 features"):
        make_net(3, net=net)
    with pytest.raises(TypeError, match="net must be"):
        make_net(2, net="mlp")
    with pytest.raises(TypeError, match="train must be a TrainConfig"):
        train_cd(D, DATA, GRID, train=dict(steps=1))
