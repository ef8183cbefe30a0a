"""One regression test per hardened defect of the core modules, and bad-input tests.

Each bad-input test asserts the error type and that the message names the argument.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest

import ideal_diffusion.distill.optima as optmod
import ideal_diffusion.solvers as solmod
from ideal_diffusion import (
    DeltaMixture,
    GaussianMixture,
    IdealDenoiser,
    clusters,
    digits,
    dpmpp_2m_step,
    euler_step,
    grid,
    heun_step,
    karras_sigmas,
    loguniform_sigmas,
    reference_denoiser,
    ring,
    sample,
    sample_steps,
    sampling_grid,
    solve_ode,
    two_points,
    uniform_sigmas,
)
from ideal_diffusion.distill.optima import (
    consistency_training_target,
    distill_grid,
    teacher_step,
)

# ----------------------------------------------------------------------------- data


def test_digits_are_sklearn_digits_scaled_to_unit_range():
    from sklearn.datasets import load_digits

    raw = load_digits().data
    data = digits()
    assert (data.N, data.d) == (1797, 64)
    np.testing.assert_array_equal(data.points, raw / 8.0 - 1.0)
    assert data.points.min() == -1.0 and data.points.max() == 1.0
    np.testing.assert_array_equal(data.weights, np.full(1797, 1 / 1797))
    np.testing.assert_array_equal(digits(10).points, data.points[:10])


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails
    with pytest.raises(ImportError, match="scikit-learn"):
        digits()


@pytest.mark.parametrize("n, err", [(0, ValueError), (1798, ValueError), (2.5, TypeError),
                                    ("10", TypeError), (True, TypeError)])
def test_digits_bad_n(n, err):
    with pytest.raises(err, match="n must be an integer in \\[1, 1797\\]"):
        digits(n)


def test_clusters_layout_weights_and_determinism():
    c = clusters()
    assert (c.N, c.d) == (20, 2)
    groups = [slice(0, 10), slice(10, 16), slice(16, 19), slice(19, 20)]
    totals = [0.6, 0.12, 0.24, 0.04]
    centres = [(-1.0, 0.6), (0.9, 0.5), (0.3, -1.1), (1.5, -0.8)]
    stds = [0.12, 0.35, 0.05, 0.0]
    for g, tot, ctr, sd in zip(groups, totals, centres, stds):
        w = c.weights[g]
        assert w.sum() == pytest.approx(tot, rel=1e-12)
        np.testing.assert_allclose(w, w[0], rtol=1e-12)  # equal within a cluster
        # every point within 5 std of its centre (a 2-D normal: P(|z| > 5) ~ 4e-6)
        assert np.all(np.linalg.norm(c.points[g] - ctr, axis=1) <= 5 * sd + 1e-15)
    np.testing.assert_array_equal(c.points[19], [1.5, -0.8])
    np.testing.assert_array_equal(clusters(0).points, c.points)
    assert not np.array_equal(clusters(1).points, c.points)
    # unequal weights between clusters: per point 0.06, 0.02, 0.08, 0.04 (up to 4x)
    np.testing.assert_allclose(np.unique(np.round(c.weights, 12)), [0.02, 0.04, 0.06, 0.08])


@pytest.mark.parametrize("seed, err", [(-1, ValueError), (1.5, TypeError), ("0", TypeError),
                                       (None, TypeError)])
def test_clusters_bad_seed(seed, err):
    with pytest.raises(err, match="seed"):
        clusters(seed)


def test_gaussian_mixture_square_covs_are_shared_even_when_K_equals_d():
    C = np.array([[1.0, 0.5], [0.5, 2.0]])
    g = GaussianMixture(np.zeros((2, 2)), C)  # K == d == 2: was read as two diagonals
    np.testing.assert_array_equal(g.covs, np.stack([C, C]))
    diag = GaussianMixture(np.zeros((3, 2)), [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(diag.covs[2], np.diag([5.0, 6.0]))


@pytest.mark.parametrize("covs", [np.ones(2), np.ones(3), np.ones((2, 2, 2, 2)), np.ones((3, 3))])
def test_gaussian_mixture_ambiguous_covs_refused(covs):
    with pytest.raises(ValueError, match="covs"):
        GaussianMixture(np.zeros((2, 2)), covs)


def test_gaussian_mixture_non_numeric():
    with pytest.raises(TypeError, match="covs"):
        GaussianMixture(np.zeros((1, 2)), "big")
    with pytest.raises(TypeError, match="means"):
        GaussianMixture(None, 1.0)


def test_huge_weights_are_normalised_not_zeroed():
    d = DeltaMixture([[0.0], [1.0], [2.0]], [1e308, 1e308, 5e307])
    np.testing.assert_allclose(d.weights, [0.4, 0.4, 0.2], rtol=1e-15)
    g = GaussianMixture(np.zeros((2, 1)), 1.0, [1e308, 1e308])
    np.testing.assert_array_equal(g.weights, [0.5, 0.5])
    tiny = DeltaMixture([[0.0], [1.0]], [5e-324, 5e-324])  # denormal weights: still equal
    np.testing.assert_array_equal(tiny.weights, [0.5, 0.5])


@pytest.mark.parametrize("f, word, err", [
    (lambda: ring(2.5), "n must be an integer >= 1", TypeError),
    (lambda: ring(0), "n must be an integer >= 1", ValueError),
    (lambda: ring(4, radius=-1.0), "radius", ValueError),
    (lambda: grid(2.5), "k must be an integer >= 1", TypeError),
    (lambda: grid(3, spacing=np.nan), "spacing", ValueError),
    (lambda: two_points(-1.0), "distance", ValueError),
    (lambda: two_points(1.0, d=1.5), "d must be an integer", TypeError),
])
def test_builders_refuse_bad_arguments(f, word, err):
    with pytest.raises(err, match=word):
        f()


def test_builders_non_numeric():
    with pytest.raises(TypeError, match="radius"):
        ring(4, radius="big")
    with pytest.raises(TypeError, match="points"):
        DeltaMixture([["a"], ["b"]])


def test_noisy_refuses_sigma_that_would_overflow():
    data = two_points()
    with pytest.raises(ValueError, match="sigma must be in \\[0, 1e\\+300\\]"):
        data.noisy(4, 1e305, 0)
    x, _ = data.noisy(4, 1e300, 0)  # the largest accepted level gives finite samples
    assert np.all(np.isfinite(x))
    with pytest.raises(ValueError, match="sigma"):
        big = np.finfo(np.float64).max
        DeltaMixture([[big], [-big]]).noisy(50, 1e300, 0)  # overflows through the data
    with pytest.raises(TypeError, match="sigma"):
        data.noisy(4, None, 0)


# ----------------------------------------------------------------------------- schedules


def test_sampling_grid_is_karras_without_zero_with_exact_ends():
    for steps in (1, 3, 18):
        s = sampling_grid(steps)
        assert s.shape == (steps + 1,)
        assert s[0] == 80.0 and s[-1] == 0.002
        assert np.all(np.diff(s) < 0) and np.all(s > 0)
        i = np.arange(steps + 1)
        eq5 = (80.0 ** (1 / 7) + i / steps * (0.002 ** (1 / 7) - 80.0 ** (1 / 7))) ** 7
        np.testing.assert_allclose(s, eq5, rtol=1e-14)
    # the ascending distillation grid is its reverse
    np.testing.assert_array_equal(sampling_grid(17)[::-1], distill_grid(18))


@pytest.mark.parametrize("args, exc, word", [
    ((0,), ValueError, "steps"),
    ((2.5,), TypeError, "steps"),
    ((3, 1.0, 1.0), ValueError, "sigma_min < sigma_max"),
    ((3, None), TypeError, "sigma_min"),
    ((3, 0.002, "80"), TypeError, "sigma_max"),
    ((3, 0.002, 80.0, -1.0), ValueError, "rho"),
])
def test_sampling_grid_bad_input(args, exc, word):
    with pytest.raises(exc, match=word):
        sampling_grid(*args)


@pytest.mark.parametrize("f", [karras_sigmas, loguniform_sigmas, uniform_sigmas])
def test_grids_refuse_duplicate_levels_and_bad_types(f):
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        f(4, 1.0, 1.0)  # four equal levels: not a grid
    assert f(1, 1.0, 1.0).tolist()[0] == 1.0  # one level may sit at sigma_min = sigma_max
    with pytest.raises(TypeError, match="sigma_min"):
        f(4, None)
    with pytest.raises(TypeError, match="sigma_max"):
        f(4, 0.002, "80")
    with pytest.raises(TypeError, match="n must be"):
        f(None)
    with pytest.raises(TypeError, match="append_zero"):
        f(4, append_zero="yes")


def test_karras_rho_non_numeric():
    with pytest.raises(TypeError, match="rho"):
        karras_sigmas(4, rho=None)


# ----------------------------------------------------------------------------- solvers


class _Const:
    """A 'denoiser' returning a fixed array (to test what sample does with bad outputs)."""

    def __init__(self, out):
        self.out = out

    def __call__(self, x, sigma):
        return self.out


def test_step_functions_match_their_closed_forms():
    # a single data point y: D = y, so Euler is exact: x' = y + (t/s)(x - y)
    y = np.array([0.3, -0.7])
    den = IdealDenoiser(y[None])
    x = np.array([[5.0, 1.0], [-2.0, 4.0]])
    for step in (euler_step, heun_step, dpmpp_2m_step):
        xn, D = step(den, x, 4.0, 1.0)
        np.testing.assert_allclose(D, np.broadcast_to(y, x.shape), atol=1e-15)
        np.testing.assert_allclose(xn, y + 0.25 * (x - y), rtol=1e-14, atol=1e-14)
    # per-row sigmas: each row is its own step
    xn, _ = euler_step(den, x, np.array([4.0, 2.0]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(xn, y + np.array([[0.25], [0.5]]) * (x - y), atol=1e-14)
    # a step to 0 lands on D
    for step in (euler_step, heun_step, dpmpp_2m_step):
        np.testing.assert_allclose(step(den, x, 4.0, 0.0)[0], np.broadcast_to(y, x.shape),
                                   atol=1e-14)


def test_sample_is_built_on_the_steps_and_teacher_step_too():
    den = IdealDenoiser(ring(5))
    x_T = 80.0 * np.random.default_rng(0).standard_normal((6, 2))
    s = sampling_grid(4)
    for solver, step in (("euler", euler_step), ("heun", heun_step)):
        x = x_T
        for i in range(4):
            x = step(den, x, s[i], s[i + 1])[0]
        np.testing.assert_array_equal(sample(den, x_T, s, solver), x)
        np.testing.assert_array_equal(teacher_step(den, x_T, s[0], s[1], solver),
                                      step(den, x_T, np.full(6, s[0]), np.full(6, s[1]))[0])
    x, D = x_T, None
    for i in range(4):
        kw = {} if D is None else dict(sigma_prev=s[i - 1], denoised_prev=D)
        x, D = dpmpp_2m_step(den, x, s[i], s[i + 1], **kw)
    np.testing.assert_allclose(sample(den, x_T, s, "dpmpp_2m"), x, rtol=1e-15, atol=1e-15)
    outs = list(sample_steps(den, x_T, s, "heun"))
    assert len(outs) == 4
    np.testing.assert_array_equal(outs[-1][0], sample(den, x_T, s, "heun"))


def test_dpmpp_2m_keeps_float32():
    den = IdealDenoiser(ring(6))
    x_T = (80.0 * np.random.default_rng(1).standard_normal((8, 2))).astype(np.float32)
    for solver in ("euler", "heun", "dpmpp_2m"):
        x, states, denoised = sample(den, x_T, karras_sigmas(6), solver, return_trajectory=True)
        assert x.dtype == states.dtype == denoised.dtype == np.float32, solver
        x64 = sample(den, x_T.astype(np.float64), karras_sigmas(6), solver)
        np.testing.assert_allclose(x, x64, atol=1e-3)


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(x_T=np.ones((2, 2)) * (1 + 1j)), TypeError, "x_T"),
    (dict(x_T=None), TypeError, "x_T"),
    (dict(sigmas="80 0"), TypeError, "sigmas"),
    (dict(sigmas=["80", "0"]), TypeError, "sigmas"),
    (dict(sigmas=None), TypeError, "sigmas"),
    (dict(solver=None), TypeError, "solver"),
    (dict(denoiser=_Const(np.zeros((1, 2)))), ValueError, "shape"),
    (dict(denoiser=_Const(np.zeros(2))), ValueError, "shape"),
    (dict(denoiser=_Const(np.full((2, 2), np.nan))), FloatingPointError, "step 0"),
    (dict(denoiser=_Const(np.full((2, 2), np.inf))), FloatingPointError, "sigma"),
])
def test_sample_refuses_bad_input_and_bad_denoiser_output(kwargs, exc, word):
    args = dict(denoiser=IdealDenoiser(ring(3)), x_T=np.ones((2, 2)), sigmas=[2.0, 1.0, 0.0],
                solver="euler")
    args.update(kwargs)
    with pytest.raises(exc, match=word):
        sample(**args)


@pytest.mark.parametrize("f", [euler_step, heun_step, dpmpp_2m_step])
def test_step_bad_input(f):
    den = IdealDenoiser(ring(3))
    x = np.ones((2, 2))
    for sigma, exc in [(None, TypeError), ("1", TypeError), (0.0, ValueError),
                       (np.ones(3), ValueError), (np.nan, ValueError)]:
        with pytest.raises(exc, match="sigma"):
            f(den, x, sigma, 0.5)
    with pytest.raises(ValueError, match="sigma_next"):
        f(den, x, 1.0, -0.5)
    with pytest.raises(ValueError, match="x"):
        f(den, np.ones(2), 1.0, 0.5)


def test_dpmpp_step_bad_history():
    den = IdealDenoiser(ring(3))
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match="sigma_prev"):
        dpmpp_2m_step(den, x, 1.0, 0.5, sigma_prev=2.0)
    with pytest.raises(ValueError, match="sigma_prev"):
        dpmpp_2m_step(den, x, 1.0, 0.5, sigma_prev=0.9, denoised_prev=x)
    with pytest.raises(ValueError, match="denoised_prev"):
        dpmpp_2m_step(den, x, 1.0, 0.5, sigma_prev=2.0, denoised_prev=np.ones((3, 2)))


def test_solve_ode_keeps_only_the_end_state(monkeypatch):
    seen = {}
    real = solmod.solve_ivp

    def spy(*a, **kw):
        sol = real(*a, **kw)
        seen["t_eval"], seen["n_out"] = kw.get("t_eval"), sol.y.shape[1]
        return sol

    monkeypatch.setattr(solmod, "solve_ivp", spy)
    solve_ode(IdealDenoiser(ring(4)), np.ones((3, 2)), 80.0, 0.01)
    assert seen["n_out"] == 1 and len(seen["t_eval"]) == 1


@pytest.mark.parametrize("kw, exc, word", [
    (dict(rtol=-1e-8), ValueError, "rtol"),
    (dict(rtol=0.0), ValueError, "rtol"),
    (dict(atol=-1.0), ValueError, "atol"),
    (dict(atol="tight"), TypeError, "atol"),
    (dict(sigma_from=None), TypeError, "sigma_from"),
    (dict(sigma_to="0"), TypeError, "sigma_to"),
    (dict(sigma_to=np.nan), ValueError, "sigma_to"),
    (dict(sigma_floor=None, sigma_to=0.0), TypeError, "sigma_floor"),
    (dict(x=np.ones((2, 2), dtype=complex)), TypeError, "x"),
    (dict(x=np.ones(2)), ValueError, "x"),
])
def test_solve_ode_bad_input(kw, exc, word):
    args = dict(denoiser=IdealDenoiser(ring(3)), x=np.ones((2, 2)), sigma_from=1.0,
                sigma_to=0.5)
    args.update(kw)
    with pytest.raises(exc, match=word):
        solve_ode(**args)


def test_nfe_bad_solver():
    with pytest.raises(TypeError, match="solver"):
        solmod.nfe(None, [1.0, 0.0])
    with pytest.raises(ValueError, match="solver"):
        solmod.nfe("rk4", [1.0, 0.0])


# ----------------------------------------------------------------------------- denoiser


def test_reference_denoiser_is_the_slide_formula_on_two_points():
    # two points at +-1 in 1-D: D = tanh(x / sigma^2) exactly (equal weights)
    x = np.array([[-0.3], [0.0], [0.7]])
    np.testing.assert_allclose(reference_denoiser([[-1.0], [1.0]], [0.5, 0.5], x, 0.8),
                               np.tanh(x / 0.64), rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("sigma", [1e-155, 1e-170, 1e-300])
def test_score_and_velocity_are_not_nan_where_sigma_squared_underflows(sigma):
    den = IdealDenoiser(two_points())
    on = np.array([[1.0, 0.0], [-1.0, 0.0]])  # on the data: D = x, score 0 exactly
    assert np.all(den.score(on, sigma) == 0) and np.all(den.velocity(on, sigma) == 0)
    assert np.all(den.jacobian(on, sigma) == 0)
    off = np.array([[0.9, 0.1]])  # |D - x| / sigma^2 is beyond float64: refused, not NaN
    with pytest.raises(ValueError, match="score overflows float64"):
        den.score(off, sigma)
    x32 = on.astype(np.float32)
    assert np.all(den.score(x32, 1e-50) == 0) and den.score(x32, 1e-50).dtype == np.float32
    with pytest.raises(ValueError, match="velocity overflows float32"):
        den.velocity(off.astype(np.float32), 1e-50)


@pytest.mark.parametrize("sigma", [1e-100, 1e-155, 1e-160, 1e-200, 1e-300])
def test_log_density_right_at_tiny_sigma(sigma):
    # data {0, 3} in 1-D, query 100 sigma from 0: log p = log(1/2) - log(sigma sqrt(2 pi))
    # - 100^2 / 2 (the point at 3 contributes e^(-4.5 / sigma^2) = 0)
    den = IdealDenoiser(np.array([[0.0], [3.0]]))
    got = den.log_density(np.array([[100 * sigma]]), sigma)[0]
    want = np.log(0.5) - np.log(sigma) - 0.5 * np.log(2 * np.pi) - 5000.0
    assert got == pytest.approx(want, rel=1e-13)


def test_float32_sigma_zero_near_a_midpoint_gets_the_nearest_point():
    # points 1000 and 1000.0001 (float64); float32 queries one ulp either side of the middle
    den = IdealDenoiser(np.array([[1000.0], [1000.0001]]))
    mid = np.float32(1000.00005)
    for q in (np.nextafter(mid, np.float32(0)), mid, np.nextafter(mid, np.float32(2000))):
        d = np.abs(np.float64(q) - den.data.points[:, 0])
        want = den.data.points[np.argmin(d), 0] if d[0] != d[1] else den.data.mean[0]
        got = den.nearest_point(np.array([[q]], dtype=np.float32))
        assert got.dtype == np.float32 and got[0, 0] == np.float32(want)


def test_nearest_point_is_the_argmin_and_D_at_zero():
    rng = np.random.default_rng(3)
    pts = rng.standard_normal((30, 5))
    den = IdealDenoiser(pts)
    x = rng.standard_normal((40, 5)) * 2
    j = np.argmin(((x[:, None] - pts[None]) ** 2).sum(2), axis=1)
    np.testing.assert_array_equal(den.nearest_point(x), pts[j])
    np.testing.assert_array_equal(den(x, 0.0), pts[j])


def test_float32_runs_in_float64_and_rounds_once():
    rng = np.random.default_rng(4)
    pts = rng.uniform(-1, 1, (300, 64))
    den = IdealDenoiser(pts)
    x32 = (pts[rng.integers(0, 300, 64)] + 0.3 * rng.standard_normal((64, 64))).astype(np.float32)
    for sigma in (0.0, 0.05, 0.3, 3.0):
        D32, D64 = den(x32, sigma), den(x32.astype(np.float64), sigma)
        assert D32.dtype == np.float32
        np.testing.assert_array_equal(D32, D64.astype(np.float32))  # one final rounding


@pytest.mark.parametrize("method", ["__call__", "posterior", "score", "velocity", "jacobian",
                                    "log_density", "nearest_point"])
def test_denoiser_bad_input_names_the_argument(method):
    den = IdealDenoiser(two_points())
    f = getattr(den, method)
    call = (lambda x: f(x)) if method == "nearest_point" else (lambda x: f(x, 1.0))
    for x, err in ((None, TypeError), (np.ones((2, 2), dtype=complex), TypeError),
                   (np.ones((2, 3)), ValueError), ([["a", "b"]], TypeError)):
        with pytest.raises(err, match="x"):
            call(x)
    if method != "nearest_point":
        for sigma, err in ((None, TypeError), ("1", TypeError), (-1.0, ValueError),
                           (np.ones(5), ValueError)):
            with pytest.raises(err, match="sigma"):
                f(np.ones((2, 2)), sigma)


# ----------------------------------------------------------------------------- optima


@pytest.mark.parametrize("kw, exc, word", [
    (dict(sigma_from=None), TypeError, "sigma_from"),
    (dict(sigma_from="1"), TypeError, "sigma_from"),
    (dict(sigma_to=0.0), ValueError, "sigma_to"),
    (dict(sigma_to=np.ones(5)), ValueError, "sigma_to"),
    (dict(sigma_from=np.ones((2, 1))), ValueError, "sigma_from"),
    (dict(x=None), TypeError, "x"),
    (dict(x=np.ones(2)), ValueError, "x"),
    (dict(solver="rk4"), ValueError, "solver"),
])
def test_teacher_step_bad_input(kw, exc, word):
    args = dict(denoiser=IdealDenoiser(ring(3)), x=np.ones((2, 2)), sigma_from=1.0,
                sigma_to=0.5, solver="heun")
    args.update(kw)
    with pytest.raises(exc, match=word):
        teacher_step(**args)


def test_ct_target_chunked_equals_its_formula(monkeypatch):
    # the CT target with the identity as next-level function is
    # sum_j pi_j (x0^j + r (x - x0^j)) = r x + (1 - r) D(x, s_n): one Euler step
    data = ring(6)
    den = IdealDenoiser(data)
    g = distill_grid(8)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((23, 2)) * 3
    s = g[rng.integers(1, 8, 23)]
    s_prev = g[np.searchsorted(g, s) - 1]

    def ident(x, sigma, boundary):
        return x

    want = (s_prev / s)[:, None] * x + (1 - s_prev / s)[:, None] * den(x, s)
    monkeypatch.setattr(optmod, "_CT_CHUNK_ELEMS", 6 * 2 * 5)  # 5 rows per chunk, ragged
    got = consistency_training_target(den, x, s, g, target=ident)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_ct_target_bad_input():
    den = IdealDenoiser(ring(4))
    g = distill_grid(5)
    with pytest.raises(ValueError, match="x"):
        consistency_training_target(den, np.ones((2, 3)), g[2], g)
    with pytest.raises(TypeError, match="sigma"):
        consistency_training_target(den, np.ones((2, 2)), None, g)
