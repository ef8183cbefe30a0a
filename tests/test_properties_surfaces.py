"""Hypothesis property suites of the newer surfaces: the flow-matching velocity, the exact
2-rectified velocity, the progressive-distillation target, and the command line.

Every property is an exact fact checked against an independent formula (the slide's plain
softmax in :func:`~ideal_diffusion.denoiser.reference_denoiser`, a closed form, or algebra),
or a refusal that names the argument.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ideal_diffusion import DeltaMixture, IdealDenoiser, reference_denoiser, two_points
from ideal_diffusion.__main__ import main as cli
from ideal_diffusion.distill.flow import fm_velocity
from ideal_diffusion.distill.progressive import PDOracle, ddim_step, pd_target
from ideal_diffusion.distill.reflow import BasinOracle, rectified_velocity
from ideal_diffusion.schedules import karras_sigmas

FAST = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

coord = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
t_open = st.floats(1e-3, 1.0 - 1e-3)


@st.composite
def mixture_and_queries(draw):
    d = draw(st.integers(1, 3))
    N = draw(st.integers(1, 5))
    pts = np.array(draw(st.lists(st.lists(coord, min_size=d, max_size=d), min_size=N,
                                 max_size=N)))
    w = np.array(draw(st.lists(st.floats(0.1, 1.0), min_size=N, max_size=N)))
    B = draw(st.integers(1, 4))
    x = np.array(draw(st.lists(st.lists(coord, min_size=d, max_size=d), min_size=B,
                               max_size=B)))
    return DeltaMixture(pts, w), x


# ---------------------------------------------------------------- flow-matching velocity

@FAST
@given(mq=mixture_and_queries(), t=t_open)
def test_fm_velocity_is_the_softmax_formula(mq, t):
    # u(x, t) = (x - E[x0 | x_t = x]) / t with the posterior of the slide's softmax at
    # y = x / (1 - t), sigma = t / (1 - t) (reference implementation, written plainly)
    data, x = mq
    u = fm_velocity(IdealDenoiser(data), x, t)
    D = reference_denoiser(data.points, data.weights, x / (1 - t), t / (1 - t))
    scale = 1.0 + np.abs(x).max() + np.abs(data.points).max()
    np.testing.assert_allclose(u, (x - D) / t, rtol=1e-9, atol=1e-9 * scale / t)


@FAST
@given(x0=st.lists(coord, min_size=2, max_size=2), x=st.lists(coord, min_size=2, max_size=2),
       t=st.floats(1e-6, 1.0 - 1e-6))
def test_fm_velocity_of_one_point_is_the_straight_line(x0, x, t):
    # one data point: D = x0 at every sigma, so u = (x - x0) / t (a straight path)
    den = IdealDenoiser(DeltaMixture([x0]))
    x = np.array([x]) + 0.0
    np.testing.assert_allclose(fm_velocity(den, x, t), (x - np.array([x0])) / t, rtol=1e-12,
                               atol=1e-12 / t)


@FAST
@given(t=st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(np.nan)))
def test_fm_velocity_refuses_t_outside_the_open_interval(t):
    with pytest.raises(ValueError, match="t must be in"):
        fm_velocity(IdealDenoiser(two_points()), np.zeros((2, 2)), t)


# ---------------------------------------------------------------- 2-rectified velocity

_TWO = {a: BasinOracle(IdealDenoiser(two_points(2 * a))) for a in (0.5, 1.0, 2.0)}


@settings(max_examples=40, deadline=None)
@given(a=st.sampled_from(sorted(_TWO)), t=st.floats(0.05, 0.95),
       x=st.lists(st.tuples(coord, coord), min_size=1, max_size=4))
def test_rectified_velocity_of_two_points_is_the_straight_bundle(a, t, x):
    # points (+-a, 0): the basins are the half-planes eps_1 > 0 / < 0 (symmetry), so the
    # line of +a passes through x iff x_1 > (1 - t) a, and then v2 = (x - (a, 0)) / t
    x = np.array(x)
    margin = 1e-3 + 1e-6 * np.abs(x).max()
    assume(np.all(np.abs(np.abs(x[:, 0]) - (1 - t) * a) > margin))
    v, sup, w = rectified_velocity(_TWO[a], x, t, return_support=True, return_weights=True)
    assert np.all(np.isfinite(v)) and np.allclose(w.sum(axis=1), 1.0) and np.all(w >= 0)
    outside = np.abs(x[:, 0]) < (1 - t) * a  # the gap between the two bundles: p_t = 0
    np.testing.assert_array_equal(sup, ~outside)
    near = np.where(x[:, :1] > 0, [[a, 0.0]], [[-a, 0.0]])
    np.testing.assert_allclose(v[~outside], ((x - near) / t)[~outside], rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(x0=st.lists(coord, min_size=2, max_size=2), t=st.floats(0.01, 0.99),
       x=st.lists(st.tuples(coord, coord), min_size=1, max_size=3))
def test_rectified_velocity_of_one_point_is_the_flow_velocity(x0, t, x):
    # one data point: every noise ends there, so v2 = u = (x - x0) / t
    orc = BasinOracle(IdealDenoiser(DeltaMixture([x0])))
    x = np.array(x)
    np.testing.assert_allclose(rectified_velocity(orc, x, t), (x - np.array([x0])) / t,
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- progressive target

@FAST
@given(x=st.lists(coord, min_size=3, max_size=3), x0=st.lists(coord, min_size=3, max_size=3),
       s=st.floats(0.01, 80.0), frac=st.floats(0.01, 0.99))
def test_pd_target_inverts_the_ddim_step(x, x0, s, frac):
    # x~ is the x0 whose DDIM step s -> s2 lands on x2: pd_target(x, ddim(x0, x, s, s2)) = x0
    x, x0 = np.array([x]), np.array([x0])
    s2 = s * frac
    x2 = ddim_step(x0, x, s, s2)
    err = 8 * np.finfo(float).eps * (np.abs(x).max() + np.abs(x0).max() + 1) / (1 - frac)
    np.testing.assert_allclose(pd_target(x, x2, s, s2), x0, rtol=0, atol=err)


@settings(max_examples=60, deadline=None)
@given(x0=st.lists(coord, min_size=2, max_size=2), k=st.integers(0, 3),
       level=st.integers(0, 7), x=st.lists(st.tuples(coord, coord), min_size=1, max_size=3))
def test_pd_oracle_of_one_point_is_the_point(x0, k, level, x):
    # one data point: D = x0, every DDIM step lands on the exact path, and every round's
    # optimum predicts x0 at every level of its grid
    grid = karras_sigmas(9, append_zero=False)  # 8 steps
    orc = PDOracle(IdealDenoiser(DeltaMixture([x0])), grid, k)
    levels = orc.grid[:-1]
    s = levels[level % levels.size]
    x = np.array(x) * s
    np.testing.assert_allclose(orc(x, s), np.broadcast_to(x0, x.shape), rtol=1e-9,
                               atol=1e-9 * (1 + np.abs(x).max()))


# ---------------------------------------------------------------- command-line arguments

_BAD = st.one_of(
    st.tuples(st.just("--jobs"), st.integers(-5, 0).map(str)),
    st.tuples(st.just("--only"), st.text("abcdefgxyz_", min_size=1, max_size=8)
              .map(lambda s: "zz_" + s)),
    st.tuples(st.just("--jobs"), st.sampled_from(["two", "1.5", "", "-"])),
    st.tuples(st.sampled_from(["--bogus", "-q", "--outt"]), st.just("x")),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["figures", "report", "retrain"]), bad=_BAD,
       first=st.booleans())
def test_cli_usage_error_exits_2_and_creates_nothing(tmp_path_factory, command, bad, first):
    root = tmp_path_factory.mktemp("cli")
    out = root / "new" / "dir"
    opts = list(bad)
    if command == "report" and opts[0] in ("--jobs", "--only"):
        opts[0] = "--bogus"  # report takes neither: still a usage error
    if command == "retrain" and opts[0] == "--only":
        opts[1] = "zz_not_a_student"
    argv = [command] + (opts if first else [])
    if command != "retrain":
        argv += ["--out", str(out)]
    argv += [] if first else opts
    with pytest.raises(SystemExit) as e:
        cli(argv)
    assert e.value.code == 2
    assert list(root.iterdir()) == []
