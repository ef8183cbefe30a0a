"""The boundary-placement search of multi-boundary CD (issue 17, deliverable 5): against an
independent brute force, its validation, and (slow) the trained students at both placements."""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from ideal_diffusion.distill.mbcd import choose_boundaries
from ideal_diffusion.distill.optima import distill_grid
from ideal_diffusion.experiments import boundaries as B
from ideal_diffusion.experiments import common, mbcd
from ideal_diffusion.experiments.cd import student_vs_optimum as E


def _heun(den, x, s, t):
    d = (x - den(x, np.full(len(x), s))) / s
    xp = x + (t - s) * d
    dp = (xp - den(xp, np.full(len(x), t))) / t
    return x + (t - s) * (d + dp) / 2


def _euler(den, x, s, t):
    return x + (t - s) * (x - den(x, np.full(len(x), s))) / s


def test_search_agrees_with_a_brute_force_written_from_the_formulas():
    den = common.ideal_denoiser("clusters")
    g = distill_grid(7)
    x_T = common.noise(2, 60, 5)
    exact = x_T
    for i in range(g.size - 1, 0, -1):  # Heun chained down the whole grid: the optimum
        exact = _heun(den, exact, g[i], g[i - 1])
    brute = {}
    for b1, b2 in itertools.combinations(range(1, g.size - 1), 2):
        x = _euler(den, x_T, g[-1], g[b2])  # one straight jump per segment
        x = _euler(den, x, g[b2], g[b1])
        x = _euler(den, x, g[b1], g[0])
        brute[(0, b1, b2)] = np.median(np.linalg.norm(x - exact, axis=1))
    s = B.search(den, g, "heun", 3, x_T)
    assert len(s.positions) == len(brute) == 10  # C(5, 2) placements
    for p, v in zip(s.positions, s.score):
        assert np.isclose(v, brute[tuple(p)], rtol=1e-10, atol=1e-14), p
    assert tuple(s.positions[s.best]) == min(brute, key=brute.get)
    assert np.array_equal(g[s.positions[s.default]], choose_boundaries(g, 3))


def test_search_refuses_a_k_without_a_placement():
    den = common.ideal_denoiser("clusters")
    with pytest.raises(ValueError, match="K must be"):
        B.search(den, distill_grid(7), "heun", 1, common.noise(2, 4, 0))


def test_config_validation():
    with pytest.raises(ValueError, match="search_seed"):
        B.Config(search_seed=B.Config().mb.cd.test_seed)
    with pytest.raises(ValueError, match="Ks"):
        B.Config(mb=replace(mbcd.SUMMARY, Ks=(1, 2)))
    for bad in ((1, 5), (0, 5, 3), (0,), (0, 17)):  # not from 0, not ascending, wrong K, >N-2
        with pytest.raises(ValueError, match="boundary_positions"):
            E.Config(K=len(bad) if len(bad) > 1 else 2, boundary_positions=bad)


@pytest.mark.slow
def test_searched_students_keep_their_boundaries_and_the_search_carries_over():
    r = B.run(B.Config())
    grid = distill_grid(r.config.mb.cd.N)
    for s, b, (ref_default, ref_searched) in zip(r.searches, r.searched, r.score_ref):
        assert np.array_equal(b.boundaries, grid[s.positions[s.best]])
        # the boundary condition f(x, b_k; b_k) = x holds at every searched boundary, exactly
        x = common.noise(2, 16, 3) / 80
        for bk in b.boundaries:
            assert np.array_equal(b.student(x, np.full(16, bk), np.full(16, bk)), x)
        # found on other noises, the placement still straightens the jumps on the reference
        assert ref_searched < ref_default
    rows = B.summary_rows(r)
    assert [row.method for row in rows] == [f"MBCD (K={k}, searched boundaries)" for k in r.Ks]
    assert all(row.samples.shape == (r.config.mb.cd.n_test, 2) for row in rows)
