"""The memorising and the generalising digit teachers, through the same noises.

Facts: at sigma = 80 the posterior spread sqrt(tr Cov[x0 | x]) is close to the data's own
spread sqrt(tr Cov[x0]) (the posterior is nearly the prior), computed independently for the
delta digits (sample covariance of the points) and for the mixture (law of total covariance);
the delta teacher's posterior ends on one training image, the mixture's on one component; the
exact mixture samples are new images (farther from the training set than its own spacing).
"""
import numpy as np
import pytest

from ideal_diffusion.data import digits, digits_gmm
from ideal_diffusion.experiments import teachers

SMALL = teachers.Config(n=48, n_track=12, n_sigma=6, steps=(4,), show=4)


@pytest.fixture(scope="module")
def res():
    return teachers.run(SMALL)


def test_posterior_spread_at_sigma_max_is_the_data_spread(res):
    pts = digits().points
    delta_spread = np.sqrt(np.trace(np.cov(pts, rowvar=False, ddof=0)))
    g = digits_gmm()
    mean = g.weights @ g.means
    second = np.einsum("k,kij->ij", g.weights, g.covs + np.einsum("ki,kj->kij", g.means, g.means))
    gmm_spread = np.sqrt(np.trace(second - np.outer(mean, mean)))
    assert res.runs["digits"].spread[0] == pytest.approx(delta_spread, rel=0.02)
    assert res.runs["digits_gmm"].spread[0] == pytest.approx(gmm_spread, rel=0.02)


def test_posteriors_collapse_to_one_component(res):
    mem, gen = res.runs["digits"], res.runs["digits_gmm"]
    assert mem.eff_components[0] > 1000 and mem.eff_components[-1] < 1.01
    assert gen.eff_components[0] <= digits_gmm().K and gen.eff_components[-1] < 1.01
    # after the collapse the memoriser's D is one image; the mixture's still averages
    assert mem.spread[-1] < 1e-6 < gen.spread[-1]


def test_memoriser_copies_and_generaliser_makes_new_images(res):
    mem, gen = res.runs["digits"], res.runs["digits_gmm"]
    assert mem.exact.dist_to_data_median < 0.05  # a training image plus sigma_min noise
    assert gen.exact.dist_to_data_median > res.data_spacing
    text = res.explain()
    assert f"{gen.exact.dist_to_data_median:.2g}" in text and "Memorising" in text


def test_config_is_validated():
    with pytest.raises(ValueError, match="n_sigma"):
        teachers.Config(n_sigma=1)
    with pytest.raises((TypeError, ValueError), match="steps"):
        teachers.Config(steps=(0,))


def test_out_of_range_counts_only_beyond_the_tolerance():
    from ideal_diffusion.experiments.common import PIXEL_TOL, out_of_range

    x = np.array([[1.0 + 0.5 * PIXEL_TOL, -1.0 - 2 * PIXEL_TOL, 0.0, 1.0]])
    assert out_of_range(x) == 0.25  # one pixel of four lies beyond 1 + PIXEL_TOL
    with pytest.raises(ValueError, match="finite"):
        out_of_range(np.array([np.nan]))
