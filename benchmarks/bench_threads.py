"""train_cd with the environment's BLAS threads against BLAS pinned to one thread.

The library holds BLAS to one thread inside training loops by itself (threadpoolctl), so the
ratio should be near 1 whatever ``OPENBLAS_NUM_THREADS`` says (before: 12x on a 2-core VM). Both
runs are subprocesses of this script, alternated, and the median of each is reported.

    python benchmarks/bench_threads.py [--steps 300] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

CODE = """
import time
from ideal_diffusion import IdealDenoiser, clusters
from ideal_diffusion.distill import distill_grid, train_cd
from ideal_diffusion.nn import TrainConfig
data = clusters(); D = IdealDenoiser(data)
t = time.perf_counter()
train_cd(D, data, distill_grid(18), "heun", train=TrainConfig(steps={steps}, batch=256,
         progress=False))
print(time.perf_counter() - t)
"""


def _time(steps: int, env: dict) -> float:
    out = subprocess.run([sys.executable, "-c", CODE.format(steps=steps)], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    default = {k: v for k, v in os.environ.items()
               if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    pinned = dict(default, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    t_default, t_pinned = [], []
    for _ in range(args.repeats):
        t_default.append(_time(args.steps, default))
        t_pinned.append(_time(args.steps, pinned))
    a, b = statistics.median(t_default), statistics.median(t_pinned)
    print(f"train_cd, {args.steps} steps: default env {a:.2f} s, BLAS pinned to 1 thread "
          f"{b:.2f} s, ratio {a / b:.2f} (medians of {args.repeats})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
