"""Multi-boundary consistency distillation (lecture row 21): boundaries, K-jump sampling."""
import numpy as np
import pytest

from ideal_diffusion import IdealDenoiser, ring
from ideal_diffusion.distill.cd import train_cd
from ideal_diffusion.distill.mbcd import choose_boundaries, kjump_sample
from ideal_diffusion.distill.optima import distill_grid
from ideal_diffusion.nn import TrainConfig

DATA = ring(8)
D = IdealDenoiser(DATA)
GRID = distill_grid(18)  # ascending s_1 = 0.002 < ... < s_18 = 80


def test_choose_boundaries():
    b = choose_boundaries(GRID, 4)
    np.testing.assert_array_equal(b, GRID[[0, 4, 8, 13]])
    assert choose_boundaries(GRID, 1).tolist() == [GRID[0]]
    with pytest.raises(ValueError, match="K"):
        choose_boundaries(GRID, 18)


@pytest.mark.parametrize("K", [1, 2, 4])
def test_kjump_through_a_student_jumps_top_to_boundary(K):
    # A (barely trained) K-boundary student inside a recorder: K evaluations, from s_N down,
    # each from the top of a segment to its lower boundary, with per-sample (B,) arrays.
    res = train_cd(D, DATA, GRID, boundaries=choose_boundaries(GRID, K),
                   train=TrainConfig(steps=2, batch=8, warmup=1, progress=False),
                   hidden=8, depth=1)
    calls = []

    def f(x, s, b):
        calls.append((x.shape, float(s[0]), float(b[0]), s.shape, b.shape))
        return res(x, s, b)

    x_T = 80 * np.random.default_rng(0).standard_normal((5, 2))
    x = kjump_sample(f, x_T, GRID, res.boundaries)
    b = res.boundaries
    tops = np.append(b[1:], GRID[-1])
    assert x.shape == (5, 2) and np.all(np.isfinite(x))
    assert [(c[1], c[2]) for c in calls] == [(tops[k], b[k]) for k in range(K - 1, -1, -1)]
    assert all(c[0] == (5, 2) and c[3] == (5,) and c[4] == (5,) for c in calls)


def test_jump_edm_boundary_condition_and_form():
    # f(x, b) == x exactly for any weights and any per-sample boundary (b / b == 1, 0 * F == 0);
    # above b it is the DDIM jump (b/s) x + (1 - b/s) D with D in EDM form: checked against the
    # formula with the network output F read off at the same input (rounding ~1e-15).
    from ideal_diffusion.distill.cd import make_student

    m = make_student(2, "jump_edm", hidden=16, depth=2, rng=1)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 2)) * 3
    b = GRID[[0, 4, 8, 8, 13, 13]]
    assert np.array_equal(m(x, b, b), x)
    s = GRID[[3, 7, 12, 9, 17, 15]]
    sd = 0.5
    F = m.net(x / np.sqrt(s ** 2 + sd ** 2)[:, None], s)
    r = np.sqrt(s ** 2 + sd ** 2)
    D = (sd ** 2 / r ** 2)[:, None] * x + (s * sd / r)[:, None] * F
    want = (b / s)[:, None] * x + (1 - b / s)[:, None] * D
    np.testing.assert_allclose(m(x, s, b), want, rtol=1e-12, atol=1e-12)
