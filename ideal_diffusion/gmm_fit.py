"""Refit the committed Gaussian-mixture teacher of the digits (``data.digits_gmm``).

The parameters live in ``ideal_diffusion/assets/digits_gmm.npz`` so that every run is
deterministic and needs no scikit-learn. This module remakes that file with scikit-learn's
``GaussianMixture`` (the dev extra)::

    python -m ideal_diffusion.gmm_fit            # rewrite the committed file
    python -m ideal_diffusion.gmm_fit --out F.npz --components 20 --reg-covar 0.05

Choice of the committed fit (``K = 10`` full covariances, ``reg_covar = 1e-2``, EM from a
k-means start with ``random_state = 0``): ten components, one per digit class on average, give
samples that read as digits, and the covariance floor of 1e-2 (pixel variance; the pixels lie in
[-1, 1]) keeps every component non-degenerate, so the mixture *generalises*: its samples are
new images, not copies of training images (``experiments.teachers`` prints how far they are).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data as _data

__all__ = ["GMM_PATH", "GMMFit", "fit_digits_gmm", "main", "save_fit"]

GMM_PATH = Path(__file__).resolve().parent / "assets" / "digits_gmm.npz"


@dataclass(frozen=True, eq=False)
class GMMFit:
    """A fitted mixture's parameters and the knobs that made them.

    Attributes
    ----------
    means : (K, 64) array
    covs : (K, 64, 64) array -- full covariances, ``reg_covar`` already added to the diagonal
    weights : (K,) array -- sums to 1
    reg_covar : float -- the diagonal floor added by EM
    seed : int -- scikit-learn's ``random_state``
    """

    means: np.ndarray
    covs: np.ndarray
    weights: np.ndarray
    reg_covar: float
    seed: int


def fit_digits_gmm(components: int = 10, reg_covar: float = 1e-2, seed: int = 0,
                   max_iter: int = 500, tol: float = 1e-6) -> GMMFit:
    """Fit ``components`` full-covariance Gaussians to :func:`~ideal_diffusion.data.digits` by EM.

    Components are returned in a canonical order (by descending weight, then by mean), so two
    fits that agree up to relabelling give the same arrays.

    Raises
    ------
    ImportError
        Without scikit-learn (``pip install -e '.[dev]'``).
    ValueError
        If ``components`` is not an integer in [1, 1797] or ``reg_covar`` is not > 0.
    """
    if isinstance(components, bool) or not isinstance(components, (int, np.integer)) \
            or not 1 <= components <= 1797:
        raise ValueError(f"components must be an integer in [1, 1797], got {components!r}")
    if isinstance(reg_covar, bool) or not isinstance(reg_covar, (int, float)) \
            or not np.isfinite(reg_covar) or reg_covar <= 0:
        raise ValueError(f"reg_covar must be a finite number > 0, got {reg_covar!r}")
    try:
        from sklearn.mixture import GaussianMixture as _SKGMM
    except ImportError:
        raise ImportError("refitting needs scikit-learn: pip install -e '.[dev]'") from None
    from threadpoolctl import threadpool_limits

    x = _data.digits().points
    with threadpool_limits(1):  # one thread: the same bits on any machine load or core count
        gm = _SKGMM(int(components), covariance_type="full", reg_covar=float(reg_covar),
                    random_state=int(seed), max_iter=max_iter, tol=tol).fit(x)
    order = np.lexsort(gm.means_[:, ::-1].T.tolist() + [-gm.weights_])
    covs = gm.covariances_[order]
    covs = 0.5 * (covs + np.swapaxes(covs, 1, 2))  # exactly symmetric
    return GMMFit(gm.means_[order].copy(), covs, gm.weights_[order] / gm.weights_.sum(),
                  float(reg_covar), int(seed))


def save_fit(fit: GMMFit, path=GMM_PATH) -> Path:
    """Write ``fit`` as an ``.npz`` (no pickles) that :func:`data.digits_gmm` reads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, means=fit.means, covs=fit.covs, weights=fit.weights,
                            reg_covar=np.float64(fit.reg_covar), seed=np.int64(fit.seed))
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ideal_diffusion.gmm_fit",
                                description="Refit the digits' Gaussian-mixture teacher.")
    p.add_argument("--out", default=str(GMM_PATH), help="output .npz (default: the committed)")
    p.add_argument("--components", type=int, default=10)
    p.add_argument("--reg-covar", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    fit = fit_digits_gmm(a.components, a.reg_covar, a.seed)
    path = save_fit(fit, a.out)
    print(f"wrote {path}: K = {len(fit.weights)}, reg_covar = {fit.reg_covar:g}, "
          f"seed = {fit.seed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
