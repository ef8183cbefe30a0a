"""Frechet distance and the paired bootstrap behind every "beats" in the summary.

Facts: the Frechet distance equals the closed form |m_x - m_y|^2 + sum (sqrt(a_i) - sqrt(b_i))^2
for samples whose sample covariances are diagonal by construction (Hadamard columns), and the
1-D case (m_x - m_y)^2 + (s_x - s_y)^2; the paired bootstrap's interval covers a true zero
difference in about 95% of repeated experiments, and a shift by a constant is found exactly.
"""
from __future__ import annotations

import numpy as np
import pytest

from ideal_diffusion.metrics import frechet_distance, paired_bootstrap


def _hadamard(n):
    h = np.array([[1.0]])
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_matches_the_diagonal_closed_form(seed):
    rng = np.random.default_rng(seed)
    n, d = 16, 5
    cols = _hadamard(n)[:, 1:d + 1]  # orthogonal, zero-mean columns of +-1
    a, b = rng.uniform(0.2, 3.0, d), rng.uniform(0.2, 3.0, d)
    mx, my = rng.standard_normal(d), rng.standard_normal(d)
    x, y = mx + cols * a, my + cols * b
    var_x, var_y = a * a * n / (n - 1), b * b * n / (n - 1)  # ddof = 1
    want = np.sum((mx - my) ** 2) + np.sum((np.sqrt(var_x) - np.sqrt(var_y)) ** 2)
    assert frechet_distance(x, y) == pytest.approx(want, rel=1e-10, abs=1e-12)
    assert frechet_distance(y, x) == pytest.approx(want, rel=1e-10, abs=1e-12)


def test_frechet_in_one_dimension():
    rng = np.random.default_rng(5)
    x, y = rng.normal(1.0, 2.0, (300, 1)), rng.normal(-0.5, 0.5, (200, 1))
    want = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert frechet_distance(x, y) == pytest.approx(want, rel=1e-10)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)


def test_frechet_refuses_bad_input():
    with pytest.raises(ValueError, match="x and y"):
        frechet_distance(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        frechet_distance(np.full((3, 2), np.nan), np.zeros((3, 2)))


def test_bootstrap_finds_a_constant_shift_exactly():
    b = np.random.default_rng(1).exponential(1.0, 101)
    c = paired_bootstrap(b - 0.25, b, n_boot=500, rng=0)
    assert c.diff == pytest.approx(-0.25, abs=1e-12)
    assert c.lo == pytest.approx(-0.25, abs=1e-12) and c.hi == pytest.approx(-0.25, abs=1e-12)
    assert c.win_rate == 1.0 and c.verdict == "beats" and c.n == 101


def test_bootstrap_interval_covers_a_true_zero_about_95_percent():
    """Two exchangeable samplers (no true difference): over 300 experiments the 95% interval
    contains 0 in a fraction within 4 binomial standard errors of 0.95."""
    rng = np.random.default_rng(7)
    trials, hits = 300, 0
    for t in range(trials):
        base = rng.exponential(1.0, 200)
        a = base + rng.normal(0, 0.3, 200)
        b = base + rng.normal(0, 0.3, 200)
        c = paired_bootstrap(a, b, n_boot=400, rng=t)
        hits += c.lo <= 0.0 <= c.hi
    se = np.sqrt(0.95 * 0.05 / trials)
    assert abs(hits / trials - 0.95) < 4 * se + 0.02  # percentile intervals run a bit narrow


def test_bootstrap_refuses_bad_input():
    with pytest.raises(ValueError, match="err_a and err_b"):
        paired_bootstrap(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="n_boot"):
        paired_bootstrap(np.ones(3), np.ones(3), n_boot=10)
