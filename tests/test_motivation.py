"""The lecture's section 1 (experiments.motivation): facts the figures rest on.

Every sample is the state at sigma_min = 0.002 after n steps of the Karras grid from 80 (no
trailing 0); errors are against the exact ODE state at sigma_min.
"""
import dataclasses

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from ideal_diffusion.data import DeltaMixture, GaussianMixture, two_points  # noqa: E402
from ideal_diffusion.denoiser import IdealDenoiser  # noqa: E402
from ideal_diffusion.experiments import common  # noqa: E402
from ideal_diffusion.experiments import motivation as m  # noqa: E402
from ideal_diffusion.nn import TrainConfig  # noqa: E402
from ideal_diffusion.schedules import SIGMA_MAX, SIGMA_MIN, sampling_grid  # noqa: E402
from ideal_diffusion.solvers import nfe, sample, solve_ode  # noqa: E402

SMIN, SMAX = SIGMA_MIN, SIGMA_MAX


def test_one_euler_step_returns_the_denoised_mean():
    # x_1 = x_T + (s_min - 80)(x_T - D)/80 = D(x_T, 80) + (s_min/80)(x_T - D), and for two
    # points at +-1, D(x, 80) = tanh(x/80^2): the mean 0 up to |x_T|/80^2 = O(scale^2/80)
    res = m.run_few_step_two_deltas(m.FewStepTwoDeltasConfig(steps=(1, 2), n_noises=300))
    den = IdealDenoiser(two_points(d=1))
    x_T = res.x_T[:, None]
    D = den(x_T, SMAX)[:, 0]
    assert res.nfe.tolist() == [1, 2]
    np.testing.assert_allclose(res.samples[0], D + SMIN / SMAX * (res.x_T - D), atol=1e-12)
    np.testing.assert_allclose(D, np.tanh(res.x_T / SMAX ** 2), atol=1e-12)
    assert np.max(np.abs(D)) <= np.max(np.abs(res.x_T)) / SMAX ** 2
    assert np.max(np.abs(res.samples[0])) < 0.1  # between the points, far from both
    # the exact ODE state at sigma_min sits on a point (noise sigma_min left), same side
    assert res.frac_near[-1] == 1.0 and res.median_dist[-1] < 0.01
    assert np.all(np.sign(res.exact) == np.sign(res.x_T))


def test_two_delta_averaging_numbers():
    r = m.run_two_delta_averaging(m.TwoDeltaConfig(n_grid=11))
    assert r.d_mid == 0.0
    np.testing.assert_allclose(r.w_star, [0.3, 0.7], atol=1e-12)
    np.testing.assert_allclose(r.d_star, 0.3 * -1 + 0.7 * 1, atol=1e-12)
    np.testing.assert_allclose(r.x_star, np.log(7 / 3) / 2, atol=1e-12)  # sigma^2 ln(7/3)/2


@pytest.mark.parametrize("solver", ["euler", "heun", "dpmpp_2m"])
def test_single_point_every_solver_is_exact(solver):
    # straight path at constant speed: x(sigma) = x0 + (x_T - x0) sigma / sigma_T
    x0 = np.array([1.0, 0.0])
    den = IdealDenoiser(DeltaMixture(x0[None]))
    x_T = common.noise(2, 64, 3)
    exact = x0 + (x_T - x0) * SMIN / SMAX
    for n in (1, 2, 3, 5, 8, 64):
        err = np.abs(sample(den, x_T, sampling_grid(n), solver) - exact).max()
        # Euler and DPM-Solver++(2M): rounding; Heun's one-step corrector divides the
        # predictor's rounding by sigma_min (x 500) and still stays at 1e-9
        assert err < (1e-13 if solver != "heun" else 1e-8) * np.abs(x_T).max(), (n, err)


def test_single_gaussian_matches_its_closed_form():
    mu, s = np.array([0.3, -0.2]), 0.5
    den = IdealDenoiser(GaussianMixture(mu[None], s ** 2))
    x_T = common.noise(2, 16, 4)
    for sigma in (20.0, 1.0, 0.3, SMIN):
        x = solve_ode(den, x_T, SMAX, sigma, rtol=1e-11, atol=1e-11)
        np.testing.assert_allclose(x, m.gaussian_path(x_T, sigma, mu, s), rtol=0, atol=1e-7)
    # straight: every state is on the ray from mu through x_T
    x = m.gaussian_path(x_T, 1.0, mu, s)
    cross = (x - mu)[:, 0] * (x_T - mu)[:, 1] - (x - mu)[:, 1] * (x_T - mu)[:, 0]
    assert np.abs(cross).max() < 1e-9 * np.abs(x_T).max()


def test_few_step_digits_are_far_from_the_training_images():
    cfg = m.StepsComparisonConfig(steps=(3, 30), shown_steps=(3, 30), solvers=("euler",),
                                  image_solvers=("euler",), n_noises=8, n_shown=2)
    r = m.run_steps_comparison(cfg)
    d3, d30 = r.dist_median[0]
    assert r.nfe.tolist() == [[3, 30]]
    # 30 steps: a training image plus the noise left at sigma_min (sigma_min sqrt(64) = 0.016)
    assert d30 < 2 * r.noise_floor
    assert d3 > 10 * d30  # 3 steps: an average of several images (measured: ~40x)
    assert r.images.shape == (1, 2, 2, 64)


def test_posterior_entropy_falls_along_the_digit_trajectory():
    r = m.run_image_denoiser_track(m.ImageTrackConfig(steps=16))
    assert r.sigmas[0] == SMAX and r.sigmas[-1] == SMIN and r.nfe == 32
    assert r.entropy[0] > np.log(r.n_points) - 0.05  # sigma = 80: the average of all images
    assert r.entropy[-1] < 1e-3  # sigma_min: one image
    assert np.max(np.diff(r.entropy)) < 0.05  # falls (up to tiny wiggles)
    assert r.nearest_dist < 2 * SMIN * np.sqrt(64)  # the end state is a training image + noise


def _tiny_student():
    return m.DenoiserStudentConfig(train=TrainConfig(steps=150, batch=64, progress=False))


def test_few_step_heun_blows_up_with_the_exact_D_not_with_a_smooth_student():
    mix = common.ideal_denoiser("clusters")
    student = m.run_denoiser_student(_tiny_student()).student
    x_T = common.noise(2, 64, 5)
    grid = sampling_grid(1)
    assert nfe("heun", grid) == 2
    exact_D = np.median(np.linalg.norm(sample(mix, x_T, grid, "heun"), axis=1))
    smooth = np.median(np.linalg.norm(sample(student, x_T, grid, "heun"), axis=1))
    scale = np.median(np.linalg.norm(x_T, axis=1))
    assert np.isfinite(smooth) and smooth < scale  # poor (about |x_T|/2) but bounded
    assert exact_D > 50 * scale  # ~10^4: the corrector divides a distance by 0.002
    # the corrector slope at sigma_min: distance/0.002 with the exact D, O(1) with D_theta
    assert m._last_corrector_slope(mix, x_T, grid) > 100
    assert m._last_corrector_slope(student, x_T, grid) < 10


def test_configs_are_frozen_hashable_and_runs_cached():
    cfg = m.TwoDeltaConfig(n_grid=11)
    hash(cfg)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_grid = 12
    assert m.run_two_delta_averaging(cfg) is m.run_two_delta_averaging(m.TwoDeltaConfig(n_grid=11))
    hash(m.ErrorVsStepsConfig())  # nested configs (student, TrainConfig) are hashable too
    with pytest.raises(ValueError):
        m.StepsComparisonConfig(shown_steps=(4,), steps=(3, 30))


def test_plots_return_figures_and_draw_on_given_axes():
    import matplotlib.pyplot as plt

    r = m.run_two_delta_averaging(m.TwoDeltaConfig(n_grid=11))
    fig = m.plot_two_delta_averaging(r)
    assert isinstance(fig, matplotlib.figure.Figure)
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    assert m.plot_two_delta_averaging(r, ax=axes) is fig
    with pytest.raises(ValueError):
        m.plot_two_delta_averaging(r, ax=axes[0])
    plt.close(fig)


@pytest.mark.slow
def test_error_vs_steps_default_run():
    r = m.run_error_vs_steps()
    e = r.config.solvers.index("euler")
    assert r.point_err_max[e].max() < 1e-12  # single point: Euler exact to rounding
    assert r.gauss_order[e] == pytest.approx(1.0, abs=0.15)  # straight, varying speed
    h = r.config.solvers.index("heun")
    assert r.nfe[h].tolist() == [2 * n for n in r.config.steps]
    assert r.heun_exact_err[0] > 100 * r.heun_student_err[0]
    assert np.all(np.isfinite(r.heun_student_err)) and r.heun_student_err.max() < 100
    assert r.mix_order[h] > 1.7  # Heun about 2 on the mixture once n >= 16
