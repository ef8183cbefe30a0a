"""Benchmark of the ideal denoiser (a script, not a test): ``python benchmarks/bench_denoiser.py``.

For each case (N data points, B queries, dimension d) it prints

* calls/s of ``IdealDenoiser.__call__`` on realistic queries x = x0 + sigma * eps
  (x0 drawn from the data: unit-scale 2-D data, images in [-1, 1]) at sigma = 80 (the start
  of sampling: every row takes the dense GEMM path), sigma = 1 and sigma = 0.01 (where the
  GEMM bound is too loose and rows are refined: one GEMM plus a sparse average);
* the same for a naive broadcast implementation that builds the (B, N, d) difference tensor
  (skipped when that tensor alone would exceed 4 GiB);
* the fraction of the machine's float64 GEMM rate reached, counting 4*B*N*d flops per call
  (two matrix products: x @ y.T for the distances and pi @ y for the average), where the rate
  is measured in the same run by plain ``A @ B`` products of the same shapes;
* the peak extra memory of one call (tracemalloc), against the size of a (B, N) float64
  block and of the (B, N, d) tensor the naive version needs.

``--float32`` prints, per case of FLOAT32_CASES, float32 call time / float64 call time on
the same queries (measured interleaved in the same run; the float32 path computes in float64,
so the ratio should be about 1). ``--crossover`` prints GEMM-path time / direct-path time for
small (N, B, d), the measurement behind the direct path's thresholds in ``denoiser.py``
(> 1: the direct path is faster).

Timings are the best of several repeats (this 2-core VM is noisy); compare ratios of the
same run, not absolute numbers across runs. ``--quick`` runs fewer repeats.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc

if __name__ == "__main__" and "--threads" in sys.argv:  # must precede the BLAS import
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from ideal_diffusion.denoiser import IdealDenoiser  # noqa: E402
from ideal_diffusion.schedules import SIGMA_MAX  # noqa: E402

CASES = [  # (N, B, d, label)
    (8, 4096, 2, "2-D toy"),
    (1000, 1024, 2, "2-D, many points"),
    (2000, 256, 784, "28x28 images"),
    (10000, 128, 3072, "32x32x3 images"),
]
FLOAT32_CASES = [(2000, 256, 784), (10000, 128, 3072)]  # (N, B, d)
CROSSOVER_CASES = [(8, 64, 2), (8, 256, 2), (8, 1024, 2), (20, 256, 2), (20, 1024, 2),
                   (64, 64, 2), (64, 16, 64), (64, 64, 64), (200, 16, 64), (10, 16, 784),
                   (50, 256, 16), (10, 256, 784)]
SIGMAS = (SIGMA_MAX, 1.0, 0.01)  # start of sampling (dense path), realistic, near the data
NAIVE_LIMIT = 4 * 2**30  # bytes of the (B, N, d) float64 tensor above which naive is skipped


def naive_denoiser(points, logw, x, sigma):
    """D(x, sigma) by broadcasting: (B, N, d) differences, log-sum-exp softmax, weighted sum."""
    diff = x[:, None, :] - points[None, :, :]
    logits = logw[None, :] - (diff * diff).sum(axis=2) / (2 * sigma**2)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    return (p[:, :, None] * points[None, :, :]).sum(axis=1)


def best_times(fs, repeats, min_time=0.2):
    """Best wall time of one call of each f in ``fs``, interleaved round by round.

    Each round runs every f for >= min_time; interleaving makes the ratios between the
    functions robust against other load on the machine.
    """
    for f in fs:
        f()  # warm up (allocations, BLAS threads)
    best = [np.inf] * len(fs)
    for _ in range(repeats):
        for k, f in enumerate(fs):
            n, t0 = 0, time.perf_counter()
            while True:
                f()
                n += 1
                t = time.perf_counter() - t0
                if t >= min_time:
                    break
            best[k] = min(best[k], t / n)
    return best


def make_case(N, B, d, sigma, rng):
    if d > 2:  # images in [-1, 1]
        points = rng.uniform(-1.0, 1.0, size=(N, d))
    else:  # unit-scale 2-D data
        points = rng.standard_normal((N, d))
    x0 = points[rng.integers(0, N, size=B)]
    x = x0 + sigma * rng.standard_normal((B, d))
    return points, x


def peak_bytes(f):
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    f()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def float32_ratios(repeats, rng):
    """float32 call time / float64 call time of IdealDenoiser at FLOAT32_CASES, sigma = 1."""
    print(f"{'N':>6} {'B':>5} {'d':>5} | {'f64 s/call':>10} {'f32 s/call':>10} "
          f"{'f32/f64':>7} | {'max |D32 - D64|':>15}")
    for N, B, d in FLOAT32_CASES:
        points, x = make_case(N, B, d, 1.0, rng)
        den = IdealDenoiser(points)
        x32 = x.astype(np.float32)
        t64, t32 = best_times([lambda den=den, x=x: den(x, 1.0),
                               lambda den=den, x32=x32: den(x32, 1.0)], repeats)
        err = np.abs(den(x32, 1.0).astype(np.float64) - den(x32.astype(np.float64), 1.0)).max()
        print(f"{N:6d} {B:5d} {d:5d} | {t64:10.4f} {t32:10.4f} {t32 / t64:7.2f} | {err:15.2e}")


def crossover(repeats, rng):
    """GEMM path / direct path time on small problems (> 1: direct is faster)."""
    import ideal_diffusion.denoiser as dm

    print(f"{'N':>6} {'B':>5} {'d':>5} {'B*N':>6} {'B*N*d':>8} {'sigma':>6} | "
          f"{'GEMM ms':>8} {'direct ms':>9} {'GEMM/direct':>11} | path chosen")
    for N, B, d in CROSSOVER_CASES:
        for sigma in (1.0, 0.01):
            points, x = make_case(N, B, d, sigma, rng)
            den = IdealDenoiser(points)
            s = np.full(B, sigma)
            t_gemm, t_direct = best_times(
                [lambda den=den, x=x, s=s: den._gemm_D(x, s),
                 lambda den=den, x=x, s=s: den._direct(x, s)], repeats, 0.05)
            chosen = ("direct" if B * N <= dm._DIRECT_MAX_BN and B * N * d <= dm._DIRECT_MAX_BND
                      else "GEMM")
            print(f"{N:6d} {B:5d} {d:5d} {B * N:6d} {B * N * d:8d} {sigma:6g} | "
                  f"{t_gemm * 1e3:8.3f} {t_direct * 1e3:9.3f} {t_gemm / t_direct:11.2f} | "
                  f"{chosen}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--threads", type=int, default=None,
                    help="OpenBLAS threads (default: OpenBLAS's choice, all cores)")
    ap.add_argument("--only", type=int, nargs="*", default=None,
                    help="indices of the cases to run (0-3)")
    ap.add_argument("--float32", action="store_true",
                    help="only the float32 / float64 time ratios")
    ap.add_argument("--crossover", action="store_true",
                    help="only the GEMM-vs-direct crossover on small problems")
    args = ap.parse_args(argv)
    repeats = 2 if args.quick else 5
    rng = np.random.default_rng(0)
    if args.float32 or args.crossover:
        if args.float32:
            float32_ratios(repeats, rng)
        if args.crossover:
            crossover(repeats, rng)
        return

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"numpy {np.__version__}, {os.cpu_count()} CPUs, OpenBLAS threads: {threads}; "
          f"best of {repeats} interleaved repeats\n")
    head = (f"{'N':>6} {'B':>5} {'d':>5} {'sigma':>6} | {'calls/s':>9} {'GFLOP/s':>8} "
            f"{'GEMM GF/s':>9} {'of GEMM':>7} | {'naive c/s':>9} {'speed-up':>8} | "
            f"{'peak MB':>8} {'(B,N) MB':>8} {'(B,N,d) MB':>10}")
    print(head)
    print("-" * len(head))
    cases = CASES if args.only is None else [CASES[i] for i in args.only]
    for N, B, d, _label in cases:
        for sigma in SIGMAS:
            points, x = make_case(N, B, d, sigma, rng)
            den = IdealDenoiser(points)
            flops = 4.0 * B * N * d
            # the machine's GEMM rate on the same shapes: (B, d) @ (d, N) and (B, N) @ (N, d)
            A1, B1 = x, np.ascontiguousarray(points.T)
            P = np.ones((B, N)) / N
            out1, out2 = np.empty((B, N)), np.empty((B, d))
            t, t_gemm = best_times([
                lambda den=den, x=x, sigma=sigma: den(x, sigma),
                lambda A1=A1, B1=B1, P=P, points=points, o1=out1, o2=out2: (
                    np.matmul(A1, B1, out=o1), np.matmul(P, points, out=o2)),
            ], repeats)
            tensor = 8.0 * B * N * d
            if tensor <= NAIVE_LIMIT:
                logw = np.full(N, -np.log(N))
                ref = naive_denoiser(points, logw, x, sigma)
                got = den(x, sigma)
                err = np.abs(got - ref).max()
                assert err < 1e-9 * (1 + np.abs(points).max()), err
                t_naive, t_same = best_times([
                    lambda points=points, logw=logw, x=x, sigma=sigma:
                    naive_denoiser(points, logw, x, sigma),
                    lambda den=den, x=x, sigma=sigma: den(x, sigma),
                ], max(1, repeats // 2))
                naive = f"{1 / t_naive:9.1f} {t_naive / t_same:7.1f}x"
            else:
                naive = f"{'skipped':>9} {'':>8}"
            peak = peak_bytes(lambda den=den, x=x, sigma=sigma: den(x, sigma))
            print(f"{N:6d} {B:5d} {d:5d} {sigma:6g} | {1 / t:9.1f} {flops / t / 1e9:8.1f} "
                  f"{flops / t_gemm / 1e9:9.1f} {t_gemm / t:7.0%} | {naive} | "
                  f"{peak / 2**20:8.1f} {8 * B * N / 2**20:8.1f} {tensor / 2**20:10.0f}")
    print()
    float32_ratios(repeats, rng)
    print(f"\nnaive skipped where its (B, N, d) float64 tensor exceeds "
          f"{NAIVE_LIMIT / 2**30:.0f} GiB. 'of GEMM' = time of the two plain products of the"
          " same shapes / time of a call.")


if __name__ == "__main__":
    main()
