"""Hand-written gradients against central finite differences; boundary exactness; float32."""
import numpy as np
import pytest

from ideal_diffusion.nn import (
    MLP,
    ConsistencyParam,
    EDMPrecond,
    JumpEDMParam,
    JumpParam,
    Model,
    PlainParam,
    gradcheck,
)

PARAMS = [EDMPrecond(), ConsistencyParam(boundary=0.002), ConsistencyParam(boundary=0.3),
          JumpParam(boundary=0.002), JumpParam(boundary=0.3), JumpEDMParam(boundary=0.3),
          PlainParam()]


def _inputs(B=6, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, 2)), np.exp(rng.uniform(np.log(0.31), np.log(20), B))


@pytest.mark.parametrize("activation", ["silu", "relu"])
def test_mlp_gradcheck(activation):
    net = MLP(2, hidden=12, depth=3, emb_dim=6, activation=activation, rng=3)
    x, sigma = _inputs()
    errs = gradcheck(net, x, sigma)
    assert set(errs) == {name for name, _, _ in net.layout} | {"x"}
    assert max(errs.values()) < 1e-6, errs


@pytest.mark.parametrize("param", PARAMS, ids=lambda p: repr(p))
def test_model_gradcheck_every_parameterisation(param):
    model = Model(MLP(2, hidden=10, depth=2, emb_dim=4, rng=4), param)
    x, sigma = _inputs()
    errs = gradcheck(model, x, sigma)
    assert max(errs.values()) < 1e-6, errs
    errs = gradcheck(model, x, 1.7)  # scalar sigma path
    assert max(errs.values()) < 1e-6, errs


def test_gradcheck_per_sample_boundary():
    model = Model(MLP(2, hidden=10, depth=2, emb_dim=4, rng=5), ConsistencyParam(boundary=0.002))
    x, _ = _inputs(4)
    boundary = np.array([0.002, 0.1, 0.5, 2.0])
    errs = gradcheck(model, x, boundary * 1.5 + 0.01, boundary=boundary)
    assert max(errs.values()) < 1e-6, errs


@pytest.mark.parametrize("cls", [ConsistencyParam, JumpParam, JumpEDMParam])
@pytest.mark.parametrize("b", [0.002, 0.37])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_boundary_exact(cls, b, dtype):
    """f(x, b) == x bit for bit, for random weights (large, so F is far from 0)."""
    net = MLP(2, hidden=32, depth=2, rng=7, dtype=dtype)
    net.theta *= 5.0
    model = Model(net, cls(boundary=b))
    x = np.random.default_rng(0).standard_normal((64, 2)) * 3
    assert np.array_equal(model(x, b), x)
    assert np.array_equal(model.forward(x, b), x)
    assert np.max(np.abs(model(x, b * 1.5 + 0.1) - x)) > 1e-3  # away from b it is not the identity


def test_boundary_exact_per_sample_and_mixed():
    """Multi-boundary CD: each sample at its own segment boundary; others free."""
    model = Model(MLP(2, hidden=16, depth=2, rng=8), ConsistencyParam(boundary=0.002))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 2))
    b = np.array([0.002, 0.05, 0.5, 2.0, 0.002, 0.5])
    sigma = b.copy()
    sigma[4:] *= 3.0
    f = model(x, sigma, boundary=b)
    assert np.array_equal(f[:4], x[:4])
    assert not np.allclose(f[4:], x[4:])
    # a scalar sigma with a per-sample boundary
    x3 = x[:1].repeat(3, 0)
    assert np.array_equal(model(x3, 0.5, boundary=np.full(3, 0.5)), x3)


def test_bad_inputs_raise():
    model = Model(MLP(2, hidden=8, depth=1, rng=0), ConsistencyParam(boundary=0.1))
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="sigma must be >= boundary"):
        model(x, 0.05)
    with pytest.raises(ValueError, match="sigma"):
        model(x, -1.0)
    with pytest.raises(ValueError, match="sigma"):
        model(x, np.ones(4))
    with pytest.raises(ValueError, match="boundary"):
        model(x, 1.0, boundary=-0.1)
    with pytest.raises(ValueError, match="boundary"):
        Model(MLP(2, 8, 1), EDMPrecond())(x, 1.0, boundary=0.1)
    with pytest.raises(ValueError, match="x"):
        model(np.zeros((3, 3)), 1.0)
    with pytest.raises(ValueError, match="activation"):
        MLP(2, activation="tanh")
    with pytest.raises(ValueError, match="depth"):
        MLP(2, depth=0)


def test_coefficients_match_formulas():
    s, sd, b = np.array([0.002, 0.3, 4.0]), 0.5, 0.002
    c_skip, c_out, c_in = ConsistencyParam(b, sd).coefficients(s)
    np.testing.assert_allclose(c_skip, sd**2 / ((s - b) ** 2 + sd**2), rtol=1e-15)
    np.testing.assert_allclose(c_out, (s - b) * sd / np.sqrt(s**2 + sd**2), rtol=1e-15)
    np.testing.assert_allclose(c_in, 1 / np.sqrt(s**2 + sd**2), rtol=1e-15)
    c_skip, c_out, _ = EDMPrecond(sd).coefficients(s)
    np.testing.assert_allclose(c_skip, sd**2 / (s**2 + sd**2), rtol=1e-15)
    np.testing.assert_allclose(c_out, s * sd / np.sqrt(s**2 + sd**2), rtol=1e-15)


def test_inference_matches_forward_and_theta_override():
    model = Model(MLP(2, hidden=16, depth=2, rng=9), ConsistencyParam(boundary=0.002))
    x, sigma = _inputs(8)
    np.testing.assert_allclose(model(x, sigma), model.forward(x, sigma), rtol=1e-13, atol=1e-14)
    other = model.copy()
    other.net.theta += 0.1
    before = model.net.theta.copy()
    np.testing.assert_array_equal(model(x, sigma, theta=other.net.theta), other(x, sigma))
    np.testing.assert_array_equal(model.net.theta, before)  # the override does not touch theta


def test_float32_end_to_end_matches_float64():
    net64 = MLP(2, hidden=32, depth=3, rng=11)
    net32 = net64.astype(np.float32)
    assert net32.theta.dtype == np.float32 and net32.grad.dtype == np.float32
    m64, m32 = Model(net64, EDMPrecond()), Model(net32, EDMPrecond())
    x, sigma = _inputs(16)
    x32 = x.astype(np.float32)
    f64, f32 = m64.forward(x, sigma), m32.forward(x32, sigma)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, f64, rtol=1e-4, atol=1e-5)
    g = np.random.default_rng(0).standard_normal(f64.shape)
    gx64, gx32 = m64.backward(g), m32.backward(g.astype(np.float32))
    np.testing.assert_allclose(gx32, gx64, rtol=1e-3, atol=1e-5)
    scale = np.max(np.abs(net64.grad))
    assert np.max(np.abs(net32.grad - net64.grad)) < 1e-4 * scale
