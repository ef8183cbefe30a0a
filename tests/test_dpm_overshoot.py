"""DPM-Solver++(2M)'s last-step switch, the zero-end warning, and the dpm_overshoot experiment."""
import warnings

import numpy as np
import pytest

from ideal_diffusion import IdealDenoiser, karras_sigmas, ring, sample
from ideal_diffusion.experiments import dpm_overshoot as E
from ideal_diffusion.schedules import sampling_grid
from ideal_diffusion.solvers import ZeroEndWarning, dpmpp_2m_step, sample_steps

DEN = IdealDenoiser(ring(6))
X_T = 80.0 * np.random.default_rng(5).standard_normal((9, 2))


@pytest.mark.parametrize("steps", [2, 3, 5])
def test_last_first_order_is_plain_2m_then_one_ddim_step(steps):
    # independent reference: k-diffusion's 2M written out for n - 1 steps, then the
    # first-order step x' = (t/s) x + (1 - t/s) D(x, s)
    s = sampling_grid(steps)
    x, D_prev = X_T.copy(), None
    for i in range(steps - 1):
        D = DEN(x, s[i])
        h = np.log(s[i] / s[i + 1])
        Dh = D if D_prev is None else D + h / (2 * np.log(s[i - 1] / s[i])) * (D - D_prev)
        x, D_prev = s[i + 1] / s[i] * x + (1 - s[i + 1] / s[i]) * Dh, D
    ref = s[-1] / s[-2] * x + (1 - s[-1] / s[-2]) * DEN(x, s[-2])
    out = sample(DEN, X_T, s, "dpmpp_2m", last_first_order=True)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    last = list(sample_steps(DEN, X_T, s, "dpmpp_2m", last_first_order=True))[-1][0]
    np.testing.assert_array_equal(last, out)


def test_switch_moves_the_sample_by_c_times_the_late_jump():
    # plain 2M minus the switch = (1 - sigma_n/sigma_{n-1}) c (D_{n-1} - D_{n-2})
    n = 4
    s = sampling_grid(n)
    x2, _, Ds = sample(DEN, X_T, s, "dpmpp_2m", return_trajectory=True)
    x1 = sample(DEN, X_T, s, "dpmpp_2m", last_first_order=True)
    c = np.log(s[-2] / s[-1]) / (2 * np.log(s[-3] / s[-2]))
    assert E.last_coefficient(n) == pytest.approx(c, rel=1e-14)
    np.testing.assert_allclose(x2 - x1, (1 - s[-1] / s[-2]) * c * (Ds[-1] - Ds[-2]),
                               atol=1e-12)


def test_last_first_order_bad_input():
    with pytest.raises(ValueError, match="dpmpp_2m"):
        sample(DEN, X_T, sampling_grid(3), "euler", last_first_order=True)
    with pytest.raises(TypeError, match="last_first_order"):
        sample(DEN, X_T, sampling_grid(3), "dpmpp_2m", last_first_order="yes")
    with pytest.raises(ValueError, match="steps"):
        E.last_coefficient(1)


def test_grid_ending_at_zero_warns_and_sampling_grid_does_not():
    with pytest.warns(ZeroEndWarning, match="ends at 0"):
        snapped = sample(DEN, X_T, karras_sigmas(3), "euler")
    # the trap the warning names: every sample is (nearly) a data point
    assert np.median(np.linalg.norm(snapped - DEN.nearest_point(snapped), axis=1)) < 1e-6
    with pytest.warns(ZeroEndWarning):
        sample_steps(DEN, X_T, karras_sigmas(3), "euler")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sample(DEN, X_T, sampling_grid(3), "euler")
        sample(DEN, X_T, karras_sigmas(3, append_zero=False), "euler")


def test_dpmpp_2m_step_without_prev_is_first_order():
    x, D = dpmpp_2m_step(DEN, X_T, 2.0, 0.5)
    np.testing.assert_allclose(x, 0.25 * X_T + 0.75 * DEN(X_T, 2.0), atol=1e-12)


@pytest.mark.parametrize("bad", [dict(data=("digits_gmm",)), dict(data=()), dict(steps=(1,)),
                                 dict(n=1), dict(n_boot=10), dict(seed=-1)])
def test_config_validation(bad):
    field = next(iter(bad))
    with pytest.raises(ValueError, match=f"Config.{field}"):
        E.Config(**bad)


def test_a_wrong_type_is_a_type_error_naming_the_field():
    with pytest.raises(TypeError, match=r"Config\.steps must be a tuple"):
        E.Config(steps=[2])
    with pytest.raises(TypeError, match=r"Config\.n must be an integer"):
        E.Config(n=None)


def test_run_small():
    cfg = E.Config(data=("ring",), steps=(3, 4), n=40, n_boot=200)
    r = E.run(cfg)
    run = r.runs["ring"]
    assert r.config is cfg and run.err_2m.shape == (2,)
    np.testing.assert_allclose(run.coef, [E.last_coefficient(3), E.last_coefficient(4)])
    np.testing.assert_allclose(run.overshoot, run.coef * run.jump, rtol=1e-12)
    for c in run.switch:
        assert c.lo <= c.diff <= c.hi and c.n == 40
    text = r.explain("ring")
    assert "ring" in text and any(v in text for v in ("beats", "ties with", "loses to"))
    with pytest.raises(ValueError, match="steps"):
        r.explain("ring", steps=7)
