"""The generalising digit teacher: a Gaussian mixture fitted to the digits, committed as data.

Facts checked: the committed parameters are what ``python -m ideal_diffusion.gmm_fit`` makes
(within 1e-5 in every mean and covariance entry and 1e-6 in every weight: EM is stopped at a
relative log-likelihood change of 1e-6, and BLAS summation order may differ between machines);
the mixture is a valid one (weights sum to 1, covariances symmetric positive definite with the
EM floor reg_covar on the diagonal); its exact denoiser agrees with a Gaussian-posterior formula
written out independently; and its exact samples are new images (farther from the nearest
training image than the training images are from one another).
"""
from __future__ import annotations

import numpy as np
import pytest

from ideal_diffusion import IdealDenoiser
from ideal_diffusion.data import digits, digits_gmm
from ideal_diffusion.gmm_fit import GMM_PATH, fit_digits_gmm, main, save_fit

sklearn = pytest.importorskip("sklearn")


def test_committed_parameters_are_what_the_refit_command_makes(tmp_path):
    out = tmp_path / "refit.npz"
    assert main(["--out", str(out)]) == 0
    with np.load(out) as new, np.load(GMM_PATH) as old:
        for key in ("means", "covs"):
            np.testing.assert_allclose(new[key], old[key], rtol=0, atol=1e-5)
        np.testing.assert_allclose(new["weights"], old["weights"], rtol=0, atol=1e-6)
        assert float(new["reg_covar"]) == float(old["reg_covar"]) == 1e-2


def test_a_changed_knob_gives_another_fit(tmp_path):
    fit = fit_digits_gmm(components=3, reg_covar=0.1)
    path = save_fit(fit, tmp_path / "k3.npz")
    with np.load(path) as f:
        assert f["means"].shape == (3, 64) and f["covs"].shape == (3, 64, 64)
    with pytest.raises(ValueError, match="components"):
        fit_digits_gmm(components=0)
    with pytest.raises(ValueError, match="reg_covar"):
        fit_digits_gmm(reg_covar=-1.0)


def test_the_mixture_is_valid():
    g = digits_gmm()
    assert g.means.shape == (10, 64) and g.d == 64
    assert abs(g.weights.sum() - 1.0) < 1e-12 and np.all(g.weights > 0)
    assert np.all(g.eigvals > 0)
    with np.load(GMM_PATH) as f:
        reg = float(f["reg_covar"])
    # EM adds reg_covar to every diagonal entry, so no eigenvalue can fall below it
    assert g.eigvals.min() >= reg * (1 - 1e-9)


def test_denoiser_matches_the_gaussian_posterior_written_out():
    """E[x0 | x] = sum_k r_k (mu_k + Sigma_k (Sigma_k + s^2 I)^-1 (x - mu_k)), with r_k the
    responsibilities of N(x | mu_k, Sigma_k + s^2 I): solved here with np.linalg.solve and
    log-determinants, independent of the eigendecomposition path of the package."""
    g = digits_gmm()
    den = IdealDenoiser(g)
    x = np.random.default_rng(3).standard_normal((5, 64)) * 1.5
    for s in (0.3, 2.0, 20.0):
        logr, means = [], []
        for k in range(g.K):
            C = g.covs[k] + s * s * np.eye(64)
            diff = x - g.means[k]
            sol = np.linalg.solve(C, diff.T).T
            _, logdet = np.linalg.slogdet(C)
            logr.append(np.log(g.weights[k]) - 0.5 * (np.sum(diff * sol, axis=1) + logdet))
            means.append(g.means[k] + sol @ g.covs[k].T)
        logr = np.array(logr)
        r = np.exp(logr - logr.max(axis=0))
        r /= r.sum(axis=0)
        want = np.einsum("kb,kbd->bd", r, np.array(means))
        np.testing.assert_allclose(den(x, s), want, rtol=0, atol=1e-9)


def test_exact_samples_are_new_images():
    """Mixture samples lie farther from their nearest training image than a training image
    lies from its nearest neighbour: the teacher generalises instead of copying."""
    from scipy.spatial import cKDTree

    x = digits().points
    tree = cKDTree(x)
    spacing = np.median(tree.query(x, k=2)[0][:, 1])
    samples = digits_gmm().sample(400, np.random.default_rng(0))
    novelty = np.median(tree.query(samples)[0])
    assert novelty > spacing
