"""The ideal denoiser D(x, sigma) = E[x0 | x] in closed form.

For a delta mixture (the lecture's "our dataset") the optimum of the diffusion loss is a
softmax-weighted average of the data points (lecture, "Towards ideal approximation"):

    D(x, sigma) = sum_j pi_j(x, sigma) x0^j,
    pi_j = softmax_j( log w_j - |x - x0^j|^2 / (2 sigma^2) ).

Everything else follows from it (Karras et al. 2022, EDM, eq. 3 and Tweedie's formula):

    score     grad_x log p_sigma(x) = (D - x) / sigma^2
    velocity  dx/dsigma             = (x - D) / sigma        (the VE PF-ODE)
    jacobian  dD/dx                 = Cov_pi[x0] / sigma^2   (symmetric PSD)

Numerics. The softmax does not change when a row constant is added to the logits, so the
|x|^2 of the expansion |x - y|^2 = |x|^2 - 2 x.y + |y|^2 can be dropped: with data and
queries recentred on the data mean (y, x below),

    z_ij = (x_i . y_j - |y_j|^2 / 2) / sigma_i^2 + log w_j

is the whole logit up to a row constant, and it is *one* BLAS product of the augmented
rows [x_i / sigma_i^2, -1 / sigma_i^2, 1] and [y_j, |y_j|^2 / 2, log w_j]. A call is then
that product, four passes over the (rows, N) block (row max, shift, clip at -700 so that
``exp`` never meets denormals, ``exp``) and a second product of the weights with
[x0^j, 1], whose last column is the softmax normaliser. Rows are chunked so memory stays
O(chunk * N); no (B, N, d) temporary is ever built.

The product's rounding error is at most about (d + 2) eps (|x| |y| + |y|^2 / 2) / sigma^2
in a logit, which is catastrophic when sigma is tiny against the data scale. In a row where
that bound exceeds 1e-12 (or 64 ulp in float32), the pairs whose weight can matter (logit
within 50 + 2 * bound of the row maximum) are recomputed from direct differences
x - x0^j in float64 and every other weight in the row is set to 0 (each is below
e^-50 ~ 2e-22 of the largest). Such rows are then sparse: their average is a sparse
product, with no ``exp`` over the full row. At realistic noise levels this touches one or a
few pairs per row; sigma = 0 (and a sigma so small that the logits would overflow) takes
the same path and gives the exact limit: the nearest data point(s), ties split by weight.
One exception keeps the cost bounded: a row with more than max(64, N / 16) candidates
whose bound is at most 1e-8 (a posterior spread over many points at a moderate sigma,
typical of images at sigma of a few pixel ranges) keeps its GEMM logits, good to 1e-8.

Small problems (B * N <= 4096 and B * N * d <= 2^18, e.g. the lecture's 8-20 points in 2-D
with a few hundred queries) skip all this: the per-call overhead of the GEMM path dominates
there, and a direct (B, N, d) broadcast of the differences x - x0^j is faster (see
``benchmarks/bench_denoiser.py --crossover``) and exact at every sigma > 0.

float32. A float32 ``x`` is computed in float64 and the result rounded to float32: the
logit GEMM in float32 could never meet the error bound above, so nearly every row was
refined and float32 ran many times slower than float64. In float64 it is as fast as float64
(the ratio is in the benchmark) and exact to float32 rounding; the sigma = 0 comparison (the
nearest point) is made in float64 too, so a query off a midpoint by less than a float32 ulp
still gets the nearest point.

Tiny sigma. ``score``, ``velocity`` and ``jacobian`` divide by sigma twice instead of by
sigma^2 (which underflows below ~1e-154) and raise ValueError where the result overflows
the output dtype; ``log_density`` uses the exact logit log w_j - (|x - x0^j| / sigma)^2 / 2
whatever sigma > 0, and is -inf only where log p is below the float64 range.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy import sparse

from . import _validate as _v
from ._threads import small_blas
from .data import DeltaMixture, GaussianMixture

__all__ = ["IdealDenoiser", "reference_denoiser"]

_CHUNK_ELEMS = 1 << 22  # (rows x N) block of at most 4M entries: 32 MB in float64
_LOGIT_FLOOR = -700.0  # exp below ~-708 is denormal and 9x slower; those weights are 0 anyway
_WINDOW = 50.0  # refined rows keep pairs with logit within 50 of the max: dropped < e^-50 each
_LOGIT_TOL = 1e-12  # largest logit rounding error accepted from the GEMM (float64)
_DENSE_ERR = 1e-8  # ... except in rows with many candidates, where up to this is accepted
_DIRECT_MAX_BN = 4096  # direct broadcast path when B * N <= this ...
_DIRECT_MAX_BND = 1 << 18  # ... and B * N * d <= this (crossover: benchmarks/bench_denoiser.py)


def reference_denoiser(points, weights, x, sigma) -> np.ndarray:
    """The slide's formula, written plainly: the reference the fast path is tested against.

    D(x, sigma) = sum_j softmax_j(log w_j - |x - x0^j|^2 / (2 sigma^2)) x0^j, by log-sum-exp
    in float64 over a (B, N, d) broadcast (so only for small B * N * d).

    Parameters
    ----------
    points : (N, d) array, the data points x0^j
    weights : (N,) array, > 0 (normalised by the softmax)
    x : (B, d) array
    sigma : float or (B,) array, > 0

    Returns
    -------
    D : (B, d) float64 array
    """
    y, x = np.asarray(points, dtype=np.float64), np.asarray(x, dtype=np.float64)
    s = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (x.shape[0],))[:, None]
    dist2 = (((x[:, None, :] - y[None, :, :]) / s[:, :, None]) ** 2).sum(axis=2)  # (B, N)
    logits = np.log(np.asarray(weights, dtype=np.float64))[None, :] - dist2 / 2
    logits -= logits.max(axis=1, keepdims=True)  # log-sum-exp: the largest weight is e^0
    p = np.exp(logits)
    return (p / p.sum(axis=1, keepdims=True)) @ y


def _as_queries(x, d: int) -> np.ndarray:
    """Finite real (B, d) queries; float32 kept, every other real dtype as float64."""
    return _v.states(x, "x", d, dtype=None)


def _as_sigma(sigma, B: int, allow_zero: bool) -> np.ndarray:
    """sigma as a (B,) float64 array: finite, >= 0 (allow_zero) or > 0."""
    return _v.sigma_levels(sigma, B, "sigma", allow_zero)


def _finite(v, dtype, name: str, s) -> np.ndarray:
    """``v`` cast to ``dtype``, refusing values that overflow it (a sigma too small)."""
    out = v.astype(dtype, copy=False)
    if not np.all(np.isfinite(out)):
        raise ValueError(
            f"{name} overflows {np.dtype(dtype).name} at sigma = {float(np.min(s)):g}: it "
            f"scales like 1/sigma^2 (1/sigma for velocity), so sigma must be larger there")
    return out


def _row_max(z):
    """z.max(axis=1); numpy's reduction over a short inner axis is slow, so loop over it."""
    if z.shape[1] > 16 or z.shape[0] == 0:
        return z.max(axis=1)
    m = z[:, 0].copy()
    for j in range(1, z.shape[1]):
        np.maximum(m, z[:, j], out=m)
    return m


def _pinned(method):
    """Run a public method under one BLAS thread when its matrices are small (``small_blas``)."""
    @functools.wraps(method)
    def wrapper(self, x, *args, **kwargs):
        try:
            B = len(x)
        except TypeError:  # not a batch: the method's own check refuses it
            B = 0
        with small_blas(self.blas_work(B)):
            return method(self, x, *args, **kwargs)
    return wrapper


class _Chunk:
    """Logits of rows lo:hi of a batch (see ``IdealDenoiser._logit_chunks``)."""

    def __init__(self, lo, dense, z, shift):
        self.lo = lo
        self.dense = dense  # local indices (or a slice) of the rows in z
        self.at = slice(lo, lo + z.shape[0]) if isinstance(dense, slice) else lo + dense
        self.z = z  # (len(dense), N) logit - row max, clipped at -700
        self.shift = shift  # (hi - lo,) row max logits
        self.rows = None  # local indices of the refined rows
        self.sparse = None  # CSR (len(rows), N): exact logit - row max on the candidates

    def sparse_exp(self):
        """The refined rows' unnormalised weights (CSR; absent entries are 0)."""
        e = self.sparse.copy()
        np.exp(e.data, out=e.data)
        return e


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
            # [x0^j, 1]: the second GEMM's operand, whose last column sums the weights; the
            # points themselves are a view of it (one copy of the data, not two)
            self._paug = np.column_stack([self.data.points[keep], np.ones(keep.sum())])
            self._points = self._paug[:, :-1]
            self._logw = np.log(self.data.weights[keep])
            self._center = self.data.mean
            self._tables = {}  # dtype -> (GEMM operands, bounds), built on first use

    # ------------------------------------------------------------------ public API

    def blas_work(self, B: int) -> int:
        """Multiply-adds of the matrix products of one call on ``B`` queries.

        B N (d + 2) for a delta mixture (the logit GEMM), 2 K B d^2 for a Gaussian mixture;
        calls below :data:`~ideal_diffusion._threads.SMALL_MAX` run on one BLAS thread.
        """
        if self.is_delta:
            return int(B) * self._points.shape[0] * (self.d + 2)
        return 2 * self.data.K * int(B) * self.d * self.d

    @_pinned
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
        TypeError
            If ``x`` or ``sigma`` is not real (None, strings, complex).
        ValueError
            On a wrong shape, non-finite x, or negative / non-finite sigma.
        """
        x_in = _as_queries(x, self.d)
        s = _as_sigma(sigma, x_in.shape[0], allow_zero=True)
        return self._D(x_in.astype(np.float64, copy=False), s).astype(x_in.dtype, copy=False)

    def nearest_point(self, x) -> np.ndarray:
        """D(x, sigma -> 0): the nearest data point of each query (the sigma = 0 limit).

        Equal to ``self(x, 0.0)``. Distances are compared in float64 (also for a float32
        ``x``); a query equidistant from several points gets their weighted average
        (ties split by weight, as the limit of the softmax). For a Gaussian mixture with
        non-singular covariances it is D(x, 0) = x.

        Parameters
        ----------
        x : (B, d) array

        Returns
        -------
        x0 : (B, d) array, same dtype as ``x``
        """
        return self(x, 0.0)

    def _D(self, x, s):
        """D on validated float64 queries ``x`` (B, d) and levels ``s`` (B,)."""
        if not self.is_delta:
            return self._gmm(x, s)[0]
        B, N = x.shape[0], self._points.shape[0]
        if B * N <= _DIRECT_MAX_BN and B * N * self.d <= _DIRECT_MAX_BND:
            out, bad = self._direct(x, s)
            if bad.size:
                out[bad] = self._gemm_D(x[bad], s[bad])
            return out
        return self._gemm_D(x, s)

    def _direct(self, x, s):
        """Small problems: D from direct differences, (B, N, d) in one block.

        Returns (D, rows it cannot do): sigma = 0, or sigma^2 so small that the logits
        overflow; those go to the GEMM path's exact limit.
        """
        diff = x[:, None, :] - self._points[None]
        z = np.einsum("bnd,bnd->bn", diff, diff)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            z *= (-0.5 / (s * s))[:, None]
            z += self._logw
            m = _row_max(z)
            bad = np.flatnonzero(~np.isfinite(m) | (s == 0))
            z -= m[:, None]
        np.maximum(z, _LOGIT_FLOOR, out=z)  # also turns the NaN of bad rows into numbers
        np.exp(z, out=z)
        num = z @ self._paug
        return num[:, :-1] / num[:, -1:], bad

    def _gemm_D(self, x, s):
        paug = self._table(np.float64)[1]
        out = np.empty_like(x)
        num = np.empty((min(x.shape[0], self._step()), self.d + 1), dtype=x.dtype)
        for c in self._logit_chunks(x, s):
            if c.z.shape[0]:
                np.exp(c.z, out=c.z)
                nb = num[: c.z.shape[0]]
                np.matmul(c.z, paug, out=nb)  # [sum_j e_ij x0^j, sum_j e_ij]
                if isinstance(c.at, slice):  # all rows dense: write in place
                    np.divide(nb[:, :-1], nb[:, -1:], out=out[c.at])
                else:
                    out[c.at] = nb[:, :-1] / nb[:, -1:]
            if c.sparse is not None:
                e = c.sparse_exp()
                nb = np.asarray(e @ paug)  # sparse (rows, N) @ (N, d + 1)
                out[c.lo + c.rows] = nb[:, :-1] / nb[:, -1:]
        return out

    @_pinned
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
        x_in = _as_queries(x, self.d)
        x = x_in.astype(np.float64, copy=False)
        s = _as_sigma(sigma, x.shape[0], allow_zero=True)
        if not self.is_delta:
            return self._gmm(x, s)[1].astype(x_in.dtype, copy=False)
        out = np.zeros((x.shape[0], self.data.N))
        sup = self._support
        for c in self._logit_chunks(x, s):
            if c.z.shape[0]:
                np.exp(c.z, out=c.z)
                c.z /= c.z.sum(axis=1, keepdims=True)
                if sup.size == out.shape[1]:
                    out[c.at] = c.z
                else:
                    out[np.arange(len(out))[c.at, None], sup] = c.z
            if c.sparse is not None:
                e = c.sparse_exp()
                tot = np.asarray(e.sum(axis=1))[:, 0]
                ii = np.repeat(c.lo + c.rows, np.diff(e.indptr))
                out[ii, sup[e.indices]] = e.data / np.repeat(tot, np.diff(e.indptr))
        return out.astype(x_in.dtype, copy=False)

    @_pinned
    def score(self, x, sigma) -> np.ndarray:
        """grad_x log p_sigma(x) = (D(x, sigma) - x) / sigma^2, shape (B, d); sigma > 0.

        Computed in float64 as ((D - x) / sigma) / sigma, so sigma^2 never underflows;
        ValueError where the score itself overflows x's dtype (|D - x| / sigma^2 above
        ~1.8e308 in float64 or ~3.4e38 in float32: sigma too small for that query).
        """
        x_in = _as_queries(x, self.d)
        x = x_in.astype(np.float64, copy=False)
        s = _as_sigma(sigma, x.shape[0], allow_zero=False)[:, None]
        with np.errstate(over="ignore"):
            return _finite((self._D(x, s[:, 0]) - x) / s / s, x_in.dtype, "score", s)

    @_pinned
    def velocity(self, x, sigma) -> np.ndarray:
        """The VE PF-ODE field dx/dsigma = (x - D(x, sigma)) / sigma, shape (B, d); sigma > 0.

        Computed in float64; ValueError where it overflows x's dtype (sigma too small).
        """
        x_in = _as_queries(x, self.d)
        x = x_in.astype(np.float64, copy=False)
        s = _as_sigma(sigma, x.shape[0], allow_zero=False)[:, None]
        with np.errstate(over="ignore"):
            return _finite((x - self._D(x, s[:, 0])) / s, x_in.dtype, "velocity", s)

    @_pinned
    def jacobian(self, x, sigma) -> np.ndarray:
        """dD/dx = Cov[x0 | x] / sigma^2 (Tweedie), shape (B, d, d), symmetric PSD; sigma > 0.

        Computed from centred differences (x0^j - D) so a concentrated posterior does not
        cancel; memory O(chunk * N * d), meant for small d.
        """
        x_in = _as_queries(x, self.d)
        x = x_in.astype(np.float64, copy=False)
        s = _as_sigma(sigma, x.shape[0], allow_zero=False)
        s3 = s[:, None, None]
        if not self.is_delta:
            return _finite(self._gmm(x, s, want_jac=True)[2], x_in.dtype, "jacobian", s)
        D = self._D(x, s)
        p = self.posterior(x, s)
        y = self.data.points
        B, N = p.shape
        out = np.empty((B, self.d, self.d))
        step = max(1, _CHUNK_ELEMS // max(1, N * self.d))
        for lo in range(0, B, step):
            diff = y[None, :, :] - D[lo:lo + step, None, :]  # (b, N, d)
            out[lo:lo + step] = np.einsum("bn,bni,bnj->bij", p[lo:lo + step], diff, diff)
        with np.errstate(over="ignore"):
            return _finite(out / s3 / s3, x_in.dtype, "jacobian", s)

    @_pinned
    def log_density(self, x, sigma) -> np.ndarray:
        """log p_sigma(x): the data density convolved with N(0, sigma^2 I), (B,); sigma > 0.

        Right at every sigma > 0, however small (the logits are exact there, see the
        module notes); -inf only where log p_sigma(x) is below the float64 range.
        """
        x_in = _as_queries(x, self.d)
        x = x_in.astype(np.float64)
        s = _as_sigma(sigma, x.shape[0], allow_zero=False)
        if not self.is_delta:
            return self._gmm(x, s)[3].astype(x_in.dtype, copy=False)
        out = np.empty(x.shape[0])
        for c in self._logit_chunks(x, s, exact=True):
            if c.z.shape[0]:
                out[c.at] = c.shift[c.dense] + np.log(np.exp(c.z).sum(axis=1))
            if c.sparse is not None:
                tot = np.asarray(c.sparse_exp().sum(axis=1))[:, 0]
                with np.errstate(divide="ignore"):  # log 0: log p below the float range
                    out[c.lo + c.rows] = c.shift[c.rows] + np.log(tot)
        # log(2 pi sigma^2) as 2 log sigma + log 2 pi: sigma^2 may underflow, log sigma not
        out -= self.d * (np.log(s) + 0.5 * np.log(2 * np.pi))
        return out.astype(x_in.dtype, copy=False)

    # ------------------------------------------------------------------ delta mixture

    def _step(self) -> int:
        """Rows per chunk: the (rows, N) logit block holds at most _CHUNK_ELEMS entries."""
        return max(1, _CHUNK_ELEMS // self._points.shape[0])

    def _table(self, dtype):
        """GEMM operands in ``dtype`` and float64 bounds for the rounding analysis.

        yaug = [y_j, |y_j|^2 / 2, log w_j] (y = x0 - mean), paug = [x0^j, 1], and
        (max |y_j|, max |y_j|^2 / 2, max |log w_j|).
        """
        key = np.dtype(dtype)
        if key not in self._tables:
            y = self._points - self._center
            y2h = 0.5 * np.einsum("nd,nd->n", y, y)
            yaug = np.column_stack([y, y2h, self._logw]).astype(dtype)
            paug = self._paug.astype(dtype, copy=False)
            bounds = (np.sqrt(2 * y2h.max()), y2h.max(), np.abs(self._logw).max())
            self._tables[key] = (yaug, paug, bounds)
        return self._tables[key]

    def _logit_chunks(self, x, s, exact=False):
        """Yield a :class:`_Chunk` of logits per block of rows (see the module notes).

        Rows whose GEMM logits are accurate ("dense") come as a block ``z`` of
        logit - row max, clipped at -700, in a buffer the next chunk reuses; refined rows
        come as a sparse matrix of their candidates' exact logit - row max (all other
        weights are 0). ``shift`` is every row's max logit (for log_density). With
        ``exact`` the rows whose logits would overflow keep their true logits
        log w_j - |x - x0^j|^2 / (2 sigma^2) instead of the sigma -> 0 limit (log_density).
        """
        dt = x.dtype
        fin = np.finfo(dt)
        yaug, _, (ymax, y2hmax, lwmax) = self._table(dt)
        B, d, N = x.shape[0], self.d, yaug.shape[0]
        xc = x - self._center.astype(dt)
        x2 = np.einsum("bd,bd->b", xc, xc, dtype=np.float64)
        mag = np.sqrt(x2) * ymax + y2hmax  # bounds |x.y - |y|^2/2| over the row
        s2 = s * s
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # 0 * inf: one point
            inv = 1.0 / s2
            # sigma = 0, or so small that the logits would overflow: the exact limit
            zero = ~(inv * mag < 1e-3 * fin.max)
        scale = np.where(zero, 1.0, inv)
        # rounding of a length-(d + 2) dot product: at most (d + 2) eps times the sum of the
        # absolute products (Higham, Accuracy and Stability, eq. 3.5)
        err = (d + 2) * fin.eps * (mag * scale + np.where(zero, 0.0, lwmax))
        risky = zero | (err > max(_LOGIT_TOL, 64 * fin.eps))
        window = np.where(zero, 0.0, _WINDOW) + 2 * err
        xaug = np.empty((B, d + 2), dtype=dt)
        np.multiply(xc, scale[:, None], out=xaug[:, :d])
        xaug[:, d] = -scale
        xaug[:, d + 1] = ~zero  # sigma = 0 rows: the nearest point, weights enter after
        half_x2 = 0.5 * x2 * scale
        step = self._step()
        buf = np.empty((min(step, B), N), dtype=dt)
        for lo in range(0, B, step):
            hi = min(lo + step, B)
            z = buf[: hi - lo]
            np.matmul(xaug[lo:hi], yaug.T, out=z)  # the one GEMM
            m = _row_max(z)
            shift = m - half_x2[lo:hi]
            rows = np.flatnonzero(risky[lo:hi])
            if rows.size:
                zr = z if rows.size == z.shape[0] else z[rows]
                mask = zr >= (m[rows] - window[lo + rows])[:, None]
                # a posterior spread over many points at a moderate sigma: refining would
                # cost as much as the naive method, and the GEMM logits are good to _DENSE_ERR
                many = np.count_nonzero(mask, axis=1) > max(64, N // 16)
                many &= err[lo + rows] <= _DENSE_ERR
                if np.any(many):
                    rows, mask = rows[~many], mask[~many]
            if rows.size == 0:
                c = _Chunk(lo, slice(None), z, shift)
            else:
                ii, jj = np.nonzero(mask)
                refined = np.zeros(hi - lo, dtype=bool)
                refined[rows] = True
                dense = np.flatnonzero(~refined)
                c = _Chunk(lo, dense, z[dense], shift)
                c.rows = rows
                c.sparse, shift[rows] = self._refine(x[lo:hi], s[lo:hi], zero[lo:hi],
                                                     rows, ii, jj, dt, exact)
            if c.z.shape[0]:
                c.z -= m[c.dense, None]
                np.maximum(c.z, _LOGIT_FLOOR, out=c.z)
            yield c

    def _refine(self, x, s, zero, rows, ii, jj, dtype, exact=False):
        """Exact logits of the candidate pairs (rows[ii], jj), as a CSR matrix over ``rows``.

        Distances come from direct differences in float64 (x - x0^j is exact when the two
        are close). Returns (logit - row max as a (rows, N) CSR matrix, row max logits).
        """
        r = rows[ii]
        dist = np.empty(ii.size)
        step = max(1, _CHUNK_ELEMS // self.d)
        # exact: |x - x0^j|^2 / sigma^2 from the scaled differences, so neither the squared
        # distance nor sigma^2 underflows (sigma = 0 rows keep plain distances)
        scale = np.where(s > 0, s, 1.0) if exact else None
        for a in range(0, ii.size, step):
            diff = x[r[a:a + step]].astype(np.float64) - self._points[jj[a:a + step]]
            if exact:
                with np.errstate(over="ignore"):
                    diff /= scale[r[a:a + step], None]
            dist[a:a + step] = np.einsum("kd,kd->k", diff, diff)
        # ii is sorted (row-major nonzero) and every risky row has >= 1 candidate (its max)
        counts = np.bincount(ii, minlength=rows.size)
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        logw = self._logw[jj]
        sr = np.repeat(s[rows], counts)
        zc = np.repeat(zero[rows], counts)
        if exact:  # the true logit for every sigma > 0, in an order that cannot underflow
            zc &= sr == 0
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            if exact:
                logit = np.where(zc, 0.0, logw - 0.5 * dist)
            else:
                logit = np.where(zc, 0.0, logw - dist / (2 * sr * sr))
        if np.any(zc):  # sigma -> 0: the nearest point(s), exactly, weighted by w
            dmin = np.repeat(np.minimum.reduceat(dist, starts), counts)
            logit = np.where(zc, np.where(dist == dmin, logw, -np.inf), logit)
        lmax = np.maximum.reduceat(logit, starts)
        with np.errstate(invalid="ignore"):
            logit -= np.repeat(lmax, counts)  # -inf - -inf: a row below the float range
        logit[np.isnan(logit)] = -np.inf
        indptr = np.r_[0, np.cumsum(counts)]
        z = sparse.csr_matrix((logit.astype(dtype), jj, indptr),
                              shape=(rows.size, self._points.shape[0]))
        return z, lmax

    # ------------------------------------------------------------------ Gaussian mixture

    def _gmm(self, x, s, want_jac=False):
        """Gaussian-mixture D, responsibilities, (optionally) dD/dx, log density.

        Component k: D_k = mu_k + Sigma_k (Sigma_k + s^2 I)^-1 (x - mu_k), which in the
        eigenbasis Sigma_k = U diag(lam) U^T is mu_k + U diag(lam / (lam + s^2)) U^T (x - mu_k);
        its responsibility is w_k N(x | mu_k, Sigma_k + s^2 I), normalised in log space.

        sigma^2 is never formed where an eigenvalue is 0 (it underflows below ~1e-154): there
        log(lam + s^2) = 2 log s and z^2 / (lam + s^2) = (z / s)^2. Where those quadratic terms
        overflow in every component of a row, the responsibilities are their s -> 0 limit: the
        components nearest along their zero-variance directions, ties split by the remaining
        factors (the delta-mixture limit when every covariance is 0).
        dD/dx = sum_k r_k U diag(lam / (lam + s^2)) U^T + sum_k r_k (D_k - D)(D_k - D)^T / s^2.
        """
        g = self.data
        xd = x.astype(np.float64)
        if np.any(s == 0) and np.any(g.eigvals == 0):
            raise ValueError("sigma must be > 0 for a Gaussian mixture with a singular covariance")
        sc = s[:, None]  # (B, 1)
        s2 = sc * sc  # may underflow to 0; used only where lam > 0
        B, K = xd.shape[0], g.K
        # log w_k - log det(Sigma_k + s^2 I) / 2 - the quadratic form on lam > 0, each up to
        # the row constant -d log s (added back in logp): no 1e3-sized term to cancel
        rest = np.empty((B, K))
        quad0 = np.empty((B, K))  # the quadratic form on lam = 0, (z / s)^2 (may be inf)
        near0 = np.empty((B, K))  # sum of z^2 on lam = 0 (the s -> 0 distance)
        Dk = np.empty((K, B, self.d))
        Jk = [] if want_jac else None
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            # the row shift log s is needed only where an eigenvalue is 0 (s > 0 there); without
            # one it is left out, so a nonsingular mixture keeps its former bits
            logs = (np.where(sc > 0, np.log(sc), 0.0) if np.any(g.eigvals == 0)
                    else np.zeros_like(sc))
            for k in range(K):
                lam, U = g.eigvals[k], g.eigvecs[k]
                pos = lam > 0
                z = (xd - g.means[k]) @ U  # coordinates in the eigenbasis, (B, d)
                var = lam[pos][None, :] + s2  # eigenvalues of Sigma_k + s^2 I where lam > 0
                zp, z0 = z[:, pos], z[:, ~pos]
                rest[:, k] = (np.log(g.weights[k]) - 0.5 * (np.log(var) - 2 * logs).sum(axis=1)
                              - 0.5 * (zp * zp / var).sum(axis=1))
                q = z0 / sc
                quad0[:, k] = 0.5 * (q * q).sum(axis=1)
                near0[:, k] = (z0 * z0).sum(axis=1)
                shrink = np.zeros((B, self.d))
                shrink[:, pos] = lam[pos] / var  # lam / (lam + s^2), 0 where lam = 0
                Dk[k] = g.means[k] + (shrink * z) @ U.T
                if want_jac:
                    Jk.append(np.einsum("ij,bj,kj->bik", U, shrink, U))
            logr = rest - quad0
            m = logr.max(axis=1, keepdims=True)
            lim = ~np.isfinite(m[:, 0])
            if np.any(lim):  # every component's (z / s)^2 overflowed: the s -> 0 limit
                nr = near0[lim]
                tied = nr == nr.min(axis=1, keepdims=True)
                logr[lim] = np.where(tied, rest[lim], -np.inf)
                m[lim] = logr[lim].max(axis=1, keepdims=True)
            r = np.exp(logr - m)
            tot = r.sum(axis=1, keepdims=True)
            r /= tot
            logp = ((m + np.log(tot))[:, 0] - self.d * logs[:, 0]
                    - 0.5 * self.d * np.log(2 * np.pi))
            logp[lim] = -np.inf  # log p_sigma(x) is below the float64 range there
        D = np.einsum("bk,kbd->bd", r, Dk)
        jac = None
        if want_jac:
            with np.errstate(over="ignore", invalid="ignore"):
                diff = (Dk - D[None]) / sc[None]  # (K, B, d), (D_k - D) / s
                jac = sum(r[:, k, None, None] * (Jk[k] + diff[k][:, :, None] * diff[k][:, None, :])
                          for k in range(K))
        return D, r, jac, logp
