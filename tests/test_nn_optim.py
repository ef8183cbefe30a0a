"""Adam, the learning-rate schedule, EMA, fit() and an end-to-end overfit of the MLP."""
import math

import numpy as np
import pytest

from ideal_diffusion.nn import EMA, MLP, Adam, fit, lr_schedule


def test_adam_matches_hand_computed_steps():
    theta = np.array([1.0, -2.0, 0.5])
    g1, g2 = np.array([0.1, -0.2, 3.0]), np.array([-0.3, 0.0, 1.0])
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = Adam(theta, lr=lr, betas=(b1, b2), eps=eps)
    expected = theta.copy()
    m = v = np.zeros(3)
    for t, g in enumerate((g1, g2), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        expected = expected - lr * m_hat / (np.sqrt(v_hat) + eps)
        opt.step(theta, g)
        np.testing.assert_allclose(theta, expected, rtol=1e-14, atol=1e-16)
    # first step moves every coordinate by ~lr * sign(g) (the Adam signature)
    t2 = np.zeros(3)
    Adam(3, lr=lr).step(t2, np.array([1e-3, -5.0, 2.0]))
    np.testing.assert_allclose(t2, [-lr, lr, -lr], rtol=1e-4)


def test_adam_weight_decay_and_clipping():
    theta = np.array([2.0, -1.0])
    g = np.array([3.0, 4.0])  # norm 5
    opt = Adam(theta, lr=0.1, weight_decay=0.5, clip_norm=1.0)
    opt.step(theta, g)
    gc = g / 5.0
    m, v = 0.1 * gc, 0.001 * gc * gc
    step = 0.1 * (m / 0.1) / (np.sqrt(v / 0.001) + 1e-8)
    np.testing.assert_allclose(theta, np.array([2.0, -1.0]) * (1 - 0.05) - step, rtol=1e-13)
    np.testing.assert_array_equal(g, [3.0, 4.0])  # caller's gradient untouched
    assert opt.last_grad_norm == pytest.approx(5.0)
    with pytest.raises(ValueError, match="betas"):
        Adam(3, betas=(1.0, 0.9))


def test_lr_schedule():
    assert lr_schedule(0, 1.0, 10, 100) == pytest.approx(0.1)
    assert lr_schedule(9, 1.0, 10, 100) == pytest.approx(1.0)
    assert lr_schedule(10, 1.0, 10, 100) == pytest.approx(1.0)
    assert lr_schedule(55, 1.0, 10, 100) == pytest.approx(0.5)
    assert lr_schedule(100, 1.0, 10, 100) == pytest.approx(0.0, abs=1e-15)
    assert lr_schedule(77, 2.0, 10, 100, kind="constant") == 2.0
    with pytest.raises(ValueError, match="kind"):
        lr_schedule(0, 1.0, 0, 10, kind="linear")


def test_ema_formula_and_stop_gradient():
    rng = np.random.default_rng(0)
    t0, t1, t2 = (rng.standard_normal(5) for _ in range(3))
    ema = EMA(t0, mu=0.9)
    ema.update(t1)
    np.testing.assert_allclose(ema.theta, 0.9 * t0 + 0.1 * t1, rtol=1e-14, atol=1e-15)
    ema.update(t2)
    np.testing.assert_allclose(ema.theta, 0.9 * (0.9 * t0 + 0.1 * t1) + 0.1 * t2,
                               rtol=1e-14, atol=1e-15)
    sg = EMA(t0, mu=0.0)
    sg.update(t1)
    np.testing.assert_array_equal(sg.theta, t1)  # mu = 0: the target *is* the online network
    t1[:] = 0  # ...but a copy, not an alias
    assert not np.array_equal(sg.theta, t1)
    with pytest.raises(ValueError, match="mu"):
        EMA(t0, 1.5)


def test_fit_history_and_nan_abort():
    hist = fit(lambda i: 1.0 / (i + 1), 5, progress=False)
    np.testing.assert_array_equal(hist, [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    losses = [3.0, 2.0, 1.5, math.nan, 1.0]
    with pytest.raises(FloatingPointError, match=r"at step 3 .*last finite loss 1\.5 at step 2"):
        fit(lambda i: losses[i], 5, progress=False)
    with pytest.raises(FloatingPointError, match="at step 0"):
        fit(lambda i: math.inf, 3, progress=False)
    hist = fit(lambda i: 0.5, 3, progress=True, desc="bar")  # the tqdm path runs too
    assert hist.shape == (3,)


def _overfit(seed, steps=600):
    """Regress 32 fixed random targets from 32 fixed inputs (MSE), Adam, full batch."""
    rng = np.random.default_rng(100)
    x = rng.standard_normal((32, 3))
    sigma = np.exp(rng.uniform(-2, 2, 32))
    y = rng.standard_normal((32, 3))
    net = MLP(3, hidden=64, depth=2, rng=seed)
    opt = Adam(net.theta, lr=3e-3)

    def step(i):
        r = net.forward(x, sigma) - y
        net.backward(2 * r / r.size, need_input_grad=False)
        opt.step(net.theta, net.grad, lr=lr_schedule(i, 3e-3, 20, steps))
        return float(np.mean(r * r))

    return net, fit(step, steps, progress=False)


def test_mlp_overfits_small_regression_set():
    net, hist = _overfit(0)
    assert hist[0] > 0.5  # targets have unit variance
    assert hist[-1] < 1e-4, hist[-1]  # near-zero: backward + Adam work together


def test_same_seed_bit_identical():
    a, ha = _overfit(5, steps=50)
    b, hb = _overfit(5, steps=50)
    c, _ = _overfit(6, steps=50)
    assert np.array_equal(a.theta, b.theta) and np.array_equal(ha, hb)
    assert not np.array_equal(a.theta, c.theta)


def test_adam_and_ema_refuse_bad_input():
    theta = np.zeros(4)
    for kw, name in ((dict(lr=0), "lr"), (dict(lr=-1e-3), "lr"), (dict(lr=math.nan), "lr"),
                     (dict(betas=(1.0, 0.9)), r"betas\[0\]"), (dict(betas=(0.9,)), "betas"),
                     (dict(eps=0), "eps"), (dict(weight_decay=-1), "weight_decay"),
                     (dict(clip_norm=0), "clip_norm")):
        with pytest.raises(ValueError, match=name):
            Adam(theta, **kw)
    opt = Adam(theta, lr=1e-2)
    for bad in (np.nan, np.inf):
        g = np.ones(4)
        g[2] = bad
        with pytest.raises(FloatingPointError, match="gradient is not finite"):
            opt.step(theta, g)
        assert np.array_equal(theta, np.zeros(4))  # left unchanged
    ema = EMA(theta, 0.9)
    with pytest.raises(FloatingPointError, match="not finite"):
        ema.update(np.array([0.0, np.nan, 0.0, 0.0]))
    assert np.array_equal(ema.theta, np.zeros(4))
    with pytest.raises(ValueError, match="theta must be finite"):
        EMA(np.array([np.inf, 0.0]), 0.5)
