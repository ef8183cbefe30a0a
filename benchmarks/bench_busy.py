"""Small-matrix work on a busy machine (a script, not a test): ``python benchmarks/bench_busy.py``.

In one run, with two busy-loop processes started beside it, it times

* one call of the exact denoiser of a 64-d, 10-component Gaussian mixture on a batch of 200;
* ``solve_ode`` of 200 noises from sigma_max = 80 down to sigma_min = 0.002 (DOP853),

three ways, interleaved so that drifts in the load hit all three alike (the solve at the
default tolerances, rtol = atol = 1e-10):

* ``default``  -- the library as shipped, in the default environment (no thread variables);
* ``unpinned`` -- the library with its small-matrix pinning switched off
  (``_threads.SMALL_MAX = 0``): what every call did before, BLAS at its default thread count;
* ``pinned``   -- the whole measurement inside ``threadpool_limits(1)``: the one-thread time.

It prints the median (and best) time of each and the ratios default / pinned (the target:
<= 1.3; also the median of the per-round ratios, the measure least moved by drifts in the
load) and unpinned / pinned. The order of the modes rotates from round to round; the unpinned
solve, minutes long under load, runs once. Before the busy loops start it also times the
image-size denoiser call (2,000 points of 784 pixels, 256 queries, above ``SMALL_MAX``:
threads kept) as default / unpinned on the quiet machine (the target: <= 1, up to noise).

The mixture is a seeded random SPD construction (no scikit-learn): means N(0, I), covariances
A A^T / 64 + 0.05 I with A standard normal (64 x 64), equal weights.

Timings on a shared VM are noisy: compare the ratios of one run, not absolute numbers across
runs. ``--quick`` takes fewer repeats.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import sys
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from ideal_diffusion import _threads  # noqa: E402
from ideal_diffusion.data import DeltaMixture, GaussianMixture  # noqa: E402
from ideal_diffusion.denoiser import IdealDenoiser  # noqa: E402
from ideal_diffusion.solvers import solve_ode  # noqa: E402

SOLVE = "solve_ode, 200 noises, 80 -> 0.002"


def _busy(parent: int):  # pragma: no cover - runs in a child process until terminated
    """Spin; stop on its own should the parent die without terminating it."""
    x = 0
    while True:
        x += 1
        if x % 5_000_000 == 0 and os.getppid() != parent:
            return


def gmm(d: int = 64, K: int = 10, seed: int = 0) -> GaussianMixture:
    """A seeded random Gaussian mixture: means N(0, I), covariances A A^T / d + 0.05 I."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((K, d))
    A = rng.standard_normal((K, d, d))
    covs = A @ A.transpose(0, 2, 1) / d + 0.05 * np.eye(d)
    return GaussianMixture(means, covs)


def _modes():
    """name -> context factory for the three ways of running."""
    class _Unpinned:
        def __enter__(self):
            self.saved = _threads.SMALL_MAX
            _threads.SMALL_MAX = 0

        def __exit__(self, *exc):
            _threads.SMALL_MAX = self.saved

    class _Nothing:
        def __enter__(self):
            return None

        def __exit__(self, *exc):
            return False

    return {"default": _Nothing, "unpinned": _Unpinned,
            "pinned": lambda: threadpool_limits(1, user_api="blas")}


def _time(fn, ctx, reps: int) -> float:
    with ctx():
        if reps > 1:
            fn()  # warm-up (allocations, the threadpool controller)
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - t0) / reps


def _measure(cases, modes, names, once=()):
    """Times per call of each (case, mode): rounds with the order of the modes rotated each
    round (so no mode always follows the slow one); (case, mode) pairs in ``once`` run in
    round 0 only."""
    out = {(c, m): [] for c in cases for m in names}
    for c, (fn, reps, rounds) in cases.items():
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for m in order:
                if r == 0 or (c, m) not in once:
                    out[c, m].append(_time(fn, modes[m], reps))
    return out


def _stats(times) -> tuple:
    return float(np.median(times)), float(np.min(times))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    args = ap.parse_args(argv)
    rounds, ode_rounds = (3, 3) if args.quick else (9, 9)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the busy loops are stopped
    blas = [(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info()
            if i.get("user_api") == "blas"]
    print(f"cores: {os.cpu_count()}, BLAS (library, default threads): {blas}, "
          f"thread variables: { {k: v for k, v in os.environ.items() if 'THREADS' in k} }")
    print(f"pinning window: {_threads.SMALL_MIN} <= multiply-adds per call < "
          f"{_threads.SMALL_MAX}")
    modes = _modes()

    # ---- quiet: the image-size denoiser keeps its threads (default vs the unpinned library)
    rng = np.random.default_rng(1)
    img = IdealDenoiser(DeltaMixture(rng.uniform(-1, 1, (2000, 784))))
    xq = img.data.points[rng.integers(0, 2000, 256)] + 80.0 * rng.standard_normal((256, 784))
    print(f"image-size call: {img.blas_work(256):.3g} multiply-adds")
    quiet = _measure({"image denoiser": (lambda: img(xq, 80.0), 3, rounds)}, modes,
                     ["default", "unpinned"])
    (qd, qd_min), (qu, qu_min) = (_stats(quiet["image denoiser", m])
                                  for m in ("default", "unpinned"))
    print(f"quiet  image denoiser (N=2000, d=784, B=256), median (best) of {rounds}: default "
          f"{qd * 1e3:.1f} ({qd_min * 1e3:.1f}) ms, unpinned as before {qu * 1e3:.1f} "
          f"({qu_min * 1e3:.1f}) ms | default/before {qd / qu:.2f} ({qd_min / qu_min:.2f})")

    # ---- busy: two busy loops beside us
    den = IdealDenoiser(gmm())
    print(f"64-d 10-component GMM call, B=200: {den.blas_work(200):.3g} multiply-adds")
    x = 80.0 * np.random.default_rng(2).standard_normal((200, 64))
    x_mid = den.data.sample(200, 3) + 1.0 * np.random.default_rng(4).standard_normal((200, 64))
    cases = {
        "GMM denoiser call (B=200, d=64, K=10)": (lambda: den(x_mid, 1.0), 10, rounds),
        SOLVE: (lambda: solve_ode(den, x, 80.0, 0.002), 1, ode_rounds),
    }
    procs = [mp.Process(target=_busy, args=(os.getpid(),), daemon=True) for _ in range(2)]
    for p in procs:
        p.start()
    try:
        # the unpinned solve (the "before" reference, minutes under load) runs once
        busy = _measure(cases, modes, ["default", "pinned", "unpinned"],
                        once={(SOLVE, "unpinned")})
    finally:
        for p in procs:
            p.terminate()
            p.join()
    print("under load (two busy-loop processes), median (best) over the rounds; unpinned "
          "solve_ode once:")
    for c, (_, _, n) in cases.items():
        (d, d_min), (p, p_min), (u, u_min) = (_stats(busy[c, m])
                                              for m in ("default", "pinned", "unpinned"))
        paired = float(np.median(np.array(busy[c, "default"]) / np.array(busy[c, "pinned"])))
        print(f"  {c}, {n} rounds: default {d * 1e3:.1f} ({d_min * 1e3:.1f}) ms, pinned "
              f"{p * 1e3:.1f} ({p_min * 1e3:.1f}) ms, unpinned {u * 1e3:.1f} ({u_min * 1e3:.1f}) ms"
              f" | default/pinned {d / p:.2f} ({d_min / p_min:.2f}; median of the per-round "
              f"ratios {paired:.2f}) (target <= 1.3), unpinned/pinned {u / p:.2f} "
              f"({u_min / p_min:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
