"""Five maths slips that once passed the whole quick suite (issue 15, mutation testing).

Each test compares an exact quantity with a value written out here independently of the code
under test: the per-row Heun step, the Karras grid for rho != 7, the CD loss weights, the CD
target network (EMA, not the online parameters) and the multi-boundary CD target (the
segment's lower boundary, not s_1).
"""
import numpy as np
import pytest

from ideal_diffusion import IdealDenoiser, clusters, heun_step, karras_sigmas, ring
from ideal_diffusion.distill.cd import cd_batch, cd_step_grad, cd_weights, make_student, train_cd
from ideal_diffusion.distill.optima import distill_grid
from ideal_diffusion.nn import TrainConfig

DATA = ring(8)
D = IdealDenoiser(DATA)


# ----------------------------------------------------------------------------- Heun, mixed rows


def _heun_by_hand(x, s, t):
    """EDM Algorithm 1 for one row, written out: Euler predictor, trapezoid unless t = 0."""
    d = (x - D(x[None], s)[0]) / s
    x_e = x + (t - s) * d
    if t == 0:
        return x_e
    d_e = (x_e - D(x_e[None], t)[0]) / t
    return x + (t - s) * 0.5 * (d + d_e)


def test_heun_step_with_mixed_rows_is_the_scalar_step_row_by_row():
    # a batch mixing sigma_next = 0 (Euler rows) and sigma_next > 0 (corrected rows)
    rng = np.random.default_rng(0)
    s = np.array([80.0, 3.0, 0.5, 80.0, 1.2, 0.05, 7.0])
    t = np.array([0.0, 1.0, 0.0, 20.0, 0.3, 0.0, 2.5])
    x = DATA.sample(s.size, rng) + s[:, None] * rng.standard_normal((s.size, 2))
    got = heun_step(D, x, s, t)[0]
    for i in range(s.size):
        scalar = heun_step(D, x[i:i + 1], float(s[i]), float(t[i]))[0][0]
        np.testing.assert_allclose(got[i], scalar, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[i], _heun_by_hand(x[i], s[i], t[i]),
                                   rtol=1e-12, atol=1e-12)
    # the corrected rows alone (no row with sigma_next = 0) give the same rows
    c = t > 0
    np.testing.assert_allclose(heun_step(D, x[c], s[c], t[c])[0], got[c], rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- Karras grid


def test_karras_rho_1_is_the_uniform_grid():
    for n, lo, hi in [(5, 0.002, 80.0), (9, 0.5, 10.0)]:
        want = hi + np.arange(n) / (n - 1) * (lo - hi)  # equal steps in sigma
        np.testing.assert_allclose(karras_sigmas(n, lo, hi, rho=1.0, append_zero=False), want,
                                   rtol=1e-12, atol=0)


def test_karras_rho_3_is_edm_eq5_written_out():
    n, lo, hi = 6, 0.002, 80.0
    # EDM eq. 5: sigma_i = (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho
    a, b = hi ** (1 / 3), lo ** (1 / 3)
    want = [(a + i / 5 * (b - a)) ** 3 for i in range(n)] + [0.0]
    np.testing.assert_allclose(karras_sigmas(n, lo, hi, rho=3.0), want, rtol=1e-12, atol=0)


# ----------------------------------------------------------------------------- CD weights


def test_cd_weights_are_one_over_c_out_squared():
    grid = distill_grid(8)
    sd = 0.5
    # plain CD, consistency form: c_out(s) = (s - s_1) sd / sqrt(s^2 + sd^2)
    model = make_student(2, "consistency", grid[0], hidden=8, depth=1, sigma_data=sd)
    s = grid[1:]
    raw = (s * s + sd * sd) / ((s - grid[0]) * sd) ** 2
    w = cd_weights(model, grid)
    assert w[0] == 0.0
    np.testing.assert_allclose(w[1:], raw / raw.mean(), rtol=1e-12)
    # two boundaries {s_1, s_4}, jump form: c_out(s) = 1 - b / s with b the segment's bottom
    b = np.where(s > grid[3], grid[3], grid[0])
    model = make_student(2, "jump", grid[0], hidden=8, depth=1, sigma_data=sd)
    raw = 1.0 / (1.0 - b / s) ** 2
    w = cd_weights(model, grid, grid[[0, 3]])
    np.testing.assert_allclose(w[1:], raw / raw.mean(), rtol=1e-12)


# ----------------------------------------------------------------------------- CD target network


def test_cd_online_update_uses_the_ema_target():
    # The step's target is f_{phi^-} with phi^- = EMA_mu(phi). At step 0 phi^- = phi for every
    # mu (same first loss); from step 1 on the target, hence the online update, depends on mu.
    # mu = 1 freezes phi^- at the initial weights, bit for bit.
    data = clusters()
    den = IdealDenoiser(data)
    grid = distill_grid(10)
    t = TrainConfig(steps=4, batch=32, warmup=1, progress=False)
    runs = {mu: train_cd(den, data, grid, train=t.replace(ema=mu), hidden=16, depth=2)
            for mu in (0.0, 0.5, 1.0)}
    first = {mu: r.history[0] for mu, r in runs.items()}
    assert first[0.0] == first[0.5] == first[1.0]
    init = make_student(data.d, "consistency", grid[0], hidden=16, depth=2,
                        rng=np.random.default_rng(t.seed)).net.theta
    assert np.array_equal(runs[1.0].target_theta, init)
    thetas = [r.model.net.theta for r in runs.values()]
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.max(np.abs(thetas[i] - thetas[j])) > 1e-6
    # mu = 0: the target is the online network of the step (phi^- = phi after each update)
    assert np.array_equal(runs[0.0].target_theta, runs[0.0].model.net.theta)


# ----------------------------------------------------------------------------- K = 2 target


@pytest.mark.parametrize("param", ["consistency", "jump_edm"])
def test_k2_cd_loss_targets_the_segments_lower_boundary(param):
    grid = distill_grid(7)  # s_1 < ... < s_7
    bounds = grid[[0, 3]]  # b_0 = s_1, b_1 = s_4: segments (s_1, s_4] and (s_4, s_7]
    model = make_student(2, param, grid[0], hidden=16, depth=2, rng=5)
    target_theta = model.net.theta + 0.05 * np.random.default_rng(6).standard_normal(
        model.net.theta.size)  # a target network different from the online one
    x_n, s_n, x_hat, s_prev, b = cd_batch(D, DATA, grid, 200, np.random.default_rng(7), "heun",
                                          bounds)
    # the boundaries by hand: s_n in (s_4, s_7] -> s_4, s_n in (s_1, s_4] -> s_1
    b_hand = np.where(s_n > grid[3], grid[3], grid[0])
    assert np.array_equal(b, b_hand)
    at_b = s_prev == b_hand
    assert at_b.any() and (~at_b & (b_hand == grid[3])).any()  # both kinds of rows in segment 2
    # the target by hand: x_hat where s_{n-1} is the boundary, else f_{phi^-}(x_hat, s_{n-1})
    # relative to the segment's lower boundary
    target = np.where(at_b[:, None], x_hat,
                      model(x_hat, s_prev, b_hand, theta=target_theta))
    w = np.random.default_rng(8).uniform(0.5, 2.0, s_n.size)
    diff = model(x_n, s_n, b_hand) - target
    want = np.mean(w * np.sum(diff * diff, axis=1))
    loss, _ = cd_step_grad(model, target_theta, x_n, s_n, x_hat, s_prev, b, True, w)
    np.testing.assert_allclose(loss, want, rtol=1e-12)
