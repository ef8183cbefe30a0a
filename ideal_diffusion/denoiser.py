"""The ideal denoiser D(x, sigma) = E[x0 | x] in closed form.

For a delta mixture (the lecture's "our dataset") the optimum of the diffusion loss is a
softmax-weighted average of the data points (lecture, "Towards ideal approximation"):

    D(x, sigma) = sum_j pi_j(x, sigma) x0^j,
    pi_j = softmax_j( log w_j - |x - x0^j|^2 / (2 sigma^2) ).

Everything else follows from it (Karras et al. 2022, EDM, eq. 3 and Tweedie's formula):

    score     grad_x log p_sigma(x) = (D - x) / sigma^2
    velocity  dx/dsigma             = (x - D) / sigma        (the VE PF-ODE)
    jacobian  dD/dx                 = Cov_pi[x0] / sigma^2   (symmetric PSD)

Numerics. Squared distances come from the GEMM expansion |x|^2 - 2 x.y + |y|^2, so one
call is one BLAS matrix product and never builds a (B, N, d) temporary; rows are chunked
so memory stays O(chunk * N). The expansion cancels catastrophically when sigma is tiny
against the data scale (an absolute error of ~eps |x|^2 in a distance becomes a logit
error of eps |x|^2 / sigma^2). Where that bound is not negligible, the few pairs whose
weight can matter (those within ``40 sigma^2 + 2 err`` of the row's nearest distance) are
recomputed by direct differences; all other weights are below e^-40 relative. The data
and queries are recentred on the data mean first, which shrinks |x| and |y|.
"""
from __future__ import annotations

import numpy as np

from .data import DeltaMixture, GaussianMixture

__all__ = ["IdealDenoiser"]

_CHUNK_ELEMS = 1 << 22  # (rows x N) block of at most 4M entries: 32 MB in float64
_LOGIT_FLOOR = -700.0  # exp below ~-708 is denormal and 9x slower; those weights are 0 anyway
_WINDOW = 40.0  # keep pairs with logit within 40 of the max: dropped weights < e^-40 ~ 4e-18


def _as_queries(x, d: int) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise ValueError(f"x must be a real array, got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[1] != d:
        raise ValueError(f"x must have shape (B, {d}), got {a.shape}")
    if a.dtype != np.float32:
        a = a.astype(np.float64, copy=False)
    if not np.all(np.isfinite(a)):
        raise ValueError("x must be finite (found NaN or inf)")
    return a


def _as_sigma(sigma, B: int, allow_zero: bool) -> np.ndarray:
    s = np.asarray(sigma, dtype=np.float64)
    if s.ndim == 0:
        s = np.full(B, float(s))
    elif s.shape != (B,):
        raise ValueError(f"sigma must be a scalar or have shape ({B},), got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("sigma must be finite")
    if allow_zero:
        if np.any(s < 0):
            raise ValueError(f"sigma must be >= 0, got min {s.min()!r}")
    elif np.any(s <= 0):
        raise ValueError(f"sigma must be > 0 here, got min {s.min()!r}")
    return s


class IdealDenoiser:
    """E[x0 | x] for a delta mixture or a Gaussian mixture, with its score and Jacobian.

    Parameters
    ----------
    data : DeltaMixture, GaussianMixture, or (N, d) array_like
        The data distribution; a raw array is a uniform delta mixture.

    Notes
    -----
    Every method takes ``x : (B, d)`` and ``sigma`` (a scalar or a ``(B,)`` array). A
    float32 ``x`` is computed and returned in float32; anything else in float64.
    ``sigma = 0`` is allowed in ``__call__`` and ``posterior``: it is the exact limit
    (the nearest data point, ties split by weight).
    """

    def __init__(self, data):
        if isinstance(data, (DeltaMixture, GaussianMixture)):
            self.data = data
        else:
            self.data = DeltaMixture(data)
        self.d = self.data.d
        self.is_delta = isinstance(self.data, DeltaMixture)
        if self.is_delta:
            keep = self.data.weights > 0  # zero-weight points never receive posterior mass
            self._support = np.flatnonzero(keep)
            self._center = self.data.mean
            self._y = {np.float64: self.data.points[keep] - self._center}
            self._y2 = {np.float64: np.einsum("nd,nd->n", self._y[np.float64], self._y[np.float64])}
            self._logw = np.log(self.data.weights[keep])

    # ------------------------------------------------------------------ public API

    def __call__(self, x, sigma) -> np.ndarray:
        """D(x, sigma) = E[x0 | x].

        Parameters
        ----------
        x : (B, d) array
        sigma : float or (B,) array, >= 0 (0 is the exact sigma -> 0 limit)

        Returns
        -------
        D : (B, d) array, same dtype as ``x`` (float32 or float64)

        Raises
        ------
        ValueError
            On a wrong shape, non-finite x, or negative / non-finite sigma.
        """
        x = _as_queries(x, self.d)
        s = _as_sigma(sigma, x.shape[0], allow_zero=True)
        if not self.is_delta:
            return self._gmm(x, s)[0].astype(x.dtype, copy=False)
        out = np.empty_like(x)
        for lo, hi, p in self._posterior_chunks(x, s):
            np.matmul(p, self._y[p.dtype.type], out=out[lo:hi])
        out += self._center.astype(x.dtype)
        return out

    def posterior(self, x, sigma) -> np.ndarray:
        """The posterior weights pi_j(x, sigma) over the data points; rows sum to 1.

        Parameters
        ----------
        x : (B, d) array
        sigma : float or (B,) array, >= 0

        Returns
        -------
        pi : (B, N) array (N = number of points, or of components for a Gaussian mixture)
        """
        x = _as_queries(x, self.d)
        s = _as_sigma(sigma, x.shape[0], allow_zero=True)
        if not self.is_delta:
            return self._gmm(x, s)[1]
        out = np.zeros((x.shape[0], self.data.N), dtype=x.dtype)
        for lo, hi, p in self._posterior_chunks(x, s):
            out[lo:hi, self._support] = p
        return out

    def score(self, x, sigma) -> np.ndarray:
        """grad_x log p_sigma(x) = (D(x, sigma) - x) / sigma^2, shape (B, d); sigma > 0."""
        x = _as_queries(x, self.d)
        s = _as_sigma(sigma, x.shape[0], allow_zero=False).astype(x.dtype)
        return (self(x, s) - x) / (s * s)[:, None]

    def velocity(self, x, sigma) -> np.ndarray:
        """The VE PF-ODE field dx/dsigma = (x - D(x, sigma)) / sigma, shape (B, d); sigma > 0."""
        x = _as_queries(x, self.d)
        s = _as_sigma(sigma, x.shape[0], allow_zero=False).astype(x.dtype)
        return (x - self(x, s)) / s[:, None]

    def jacobian(self, x, sigma) -> np.ndarray:
        """dD/dx = Cov[x0 | x] / sigma^2 (Tweedie), shape (B, d, d), symmetric PSD; sigma > 0.

        Computed from centred differences (x0^j - D) so a concentrated posterior does not
        cancel; memory O(chunk * N * d), meant for small d.
        """
        x = _as_queries(x, self.d)
        s = _as_sigma(sigma, x.shape[0], allow_zero=False)
        if not self.is_delta:
            return self._gmm(x, s, want_cov=True)[2] / (s * s)[:, None, None]
        D = self(x, s)
        p = self.posterior(x, s)
        y = self.data.points.astype(x.dtype)
        B, N = p.shape
        out = np.empty((B, self.d, self.d), dtype=x.dtype)
        step = max(1, _CHUNK_ELEMS // max(1, N * self.d))
        for lo in range(0, B, step):
            diff = y[None, :, :] - D[lo:lo + step, None, :]  # (b, N, d)
            out[lo:lo + step] = np.einsum("bn,bni,bnj->bij", p[lo:lo + step], diff, diff)
        return out / (s * s).astype(x.dtype)[:, None, None]

    def log_density(self, x, sigma) -> np.ndarray:
        """log p_sigma(x): the data density convolved with N(0, sigma^2 I), (B,); sigma > 0."""
        x = _as_queries(x, self.d).astype(np.float64)
        s = _as_sigma(sigma, x.shape[0], allow_zero=False)
        if not self.is_delta:
            return self._gmm(x, s)[3]
        out = np.empty(x.shape[0])
        for lo, hi, z, m in self._logit_chunks(x, s):
            out[lo:hi] = m + np.log(np.exp(z).sum(axis=1))
        return out - 0.5 * self.d * np.log(2 * np.pi * s * s)

    # ------------------------------------------------------------------ delta mixture

    def _data(self, dtype):
        t = np.dtype(dtype).type
        if t not in self._y:
            self._y[t] = self._y[np.float64].astype(t)
            self._y2[t] = self._y2[np.float64].astype(t)
        return self._y[t], self._y2[t]

    def _logit_chunks(self, x, s):
        """Yield (lo, hi, z, m): logits of rows lo:hi shifted so the row max is 0, and the shift.

        z[i, j] = log w_j - |x_i - y_j|^2 / (2 s_i^2) - m_i, clipped at -700; rows with
        s_i = 0 get z = 0 on their nearest points (ties split by weight) and -700 elsewhere.
        """
        y, y2 = self._data(x.dtype)
        N = y.shape[0]
        eps = np.finfo(x.dtype).eps
        xc = x - self._center.astype(x.dtype)
        x2 = np.einsum("bd,bd->b", xc, xc)
        step = max(1, _CHUNK_ELEMS // N)
        logw = self._logw.astype(x.dtype)
        for lo in range(0, x.shape[0], step):
            hi = min(lo + step, x.shape[0])
            xb, sb = xc[lo:hi], s[lo:hi]
            dist = xb @ y.T  # the one GEMM: (b, N)
            dist *= -2
            dist += x2[lo:hi, None]
            dist += y2[None, :]
            np.maximum(dist, 0, out=dist)
            dmin = dist.min(axis=1)
            # A bound on the expansion's absolute rounding error in each row. Refine the rows
            # where it moves a logit (err / 2 s^2) by more than ~1000 ulp of a weight.
            err = 4 * eps * (x2[lo:hi] + y2.max())
            s2 = (sb * sb).astype(x.dtype)
            risky = err > 2000 * eps * s2
            if np.any(risky):
                self._refine(dist, xb, y, dmin, err, s2, risky)
                dmin = dist.min(axis=1)
            # z = log w - (dist - dmin) / (2 s^2): the difference first, so a tiny sigma gives
            # 0 or -inf, never inf - inf
            dist -= dmin[:, None]
            zero = sb == 0
            if np.any(zero):
                tie = dist[zero] == 0  # sigma = 0: the nearest point(s), exactly
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                dist /= -2 * s2[:, None]
            if np.any(zero):
                dist[zero] = np.where(tie, 0.0, -np.inf)
            dist += logw[None, :]
            m = dist.max(axis=1)
            dist -= m[:, None]
            np.maximum(dist, _LOGIT_FLOOR, out=dist)
            with np.errstate(divide="ignore"):
                shift = m - dmin / (2 * s2)  # so that logits = z + shift (for log_density)
            yield lo, hi, dist, shift

    def _refine(self, dist, xb, y, dmin, err, s2, risky):
        """Recompute by direct differences the distances whose rounding could move a weight."""
        slack = 2 * err + 2 * _WINDOW * s2
        rows = np.flatnonzero(risky)
        mask = dist[rows] <= (dmin[rows] + slack[rows])[:, None]
        ii, jj = np.nonzero(mask)
        ii = rows[ii]
        step = max(1, _CHUNK_ELEMS // self.d)
        for a in range(0, ii.size, step):
            i, j = ii[a:a + step], jj[a:a + step]
            diff = xb[i] - y[j]
            dist[i, j] = np.einsum("kd,kd->k", diff, diff)

    def _posterior_chunks(self, x, s):
        for lo, hi, z, _ in self._logit_chunks(x, s):
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            yield lo, hi, z

    # ------------------------------------------------------------------ Gaussian mixture

    def _gmm(self, x, s, want_cov=False):
        """Gaussian-mixture D, responsibilities, (optionally) Cov[x0|x], log density.

        Component k: D_k = mu_k + Sigma_k (Sigma_k + s^2 I)^-1 (x - mu_k), which in the
        eigenbasis Sigma_k = U diag(lam) U^T is mu_k + U diag(lam / (lam + s^2)) U^T (x - mu_k);
        its responsibility is w_k N(x | mu_k, Sigma_k + s^2 I), normalised in log space.
        """
        g = self.data
        xd = x.astype(np.float64)
        s2 = (s * s)[:, None]  # (B, 1)
        if np.any(s == 0) and np.any(g.eigvals == 0):
            raise ValueError("sigma must be > 0 for a Gaussian mixture with a singular covariance")
        B, K = xd.shape[0], g.K
        logr = np.empty((B, K))
        Dk = np.empty((K, B, self.d))
        Ck = [] if want_cov else None
        for k in range(K):
            lam, U = g.eigvals[k], g.eigvecs[k]
            z = (xd - g.means[k]) @ U  # coordinates in the eigenbasis, (B, d)
            var = lam[None, :] + s2  # eigenvalues of Sigma_k + s^2 I
            logr[:, k] = (np.log(g.weights[k]) - 0.5 * np.log(var).sum(axis=1)
                          - 0.5 * (z * z / var).sum(axis=1))
            Dk[k] = g.means[k] + (lam / var * z) @ U.T
            if want_cov:
                # posterior covariance of the component: U diag(lam s^2 / (lam + s^2)) U^T
                Ck.append(np.einsum("ij,bj,kj->bik", U, lam * s2 / var, U))
        m = logr.max(axis=1, keepdims=True)
        r = np.exp(logr - m)
        tot = r.sum(axis=1, keepdims=True)
        r /= tot
        logp = (m + np.log(tot))[:, 0] - 0.5 * self.d * np.log(2 * np.pi)
        D = np.einsum("bk,kbd->bd", r, Dk)
        cov = None
        if want_cov:
            diff = Dk - D[None]  # (K, B, d)
            cov = sum(r[:, k, None, None] * (Ck[k] + diff[k][:, :, None] * diff[k][:, None, :])
                      for k in range(K))
        return D, r, cov, logp
