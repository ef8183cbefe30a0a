"""Training steps per second of the hand-written NumPy MLP (and PyTorch's, if importable).

Usage::

    python benchmarks/bench_mlp.py [--threads 1] [--seconds 2] [--batches 256 4096]
        [--activation silu] [--no-torch]

For width 128, depth 3 (the default student), 2-D data, per-sample sigma, MSE loss, Adam:
reports steps/s and the per-step split forward / backward / Adam for float64 and float32.
When ``torch`` is importable, the same network (same embedding, layers, loss and Adam) is
timed with autograd in the same run, with ``torch.optim.Adam`` in its default (foreach) and
``fused=True`` variants, and the ratio numpy/torch is printed (> 1: numpy is faster). Torch is
never a dependency of the package. ``--threads`` sets the BLAS/torch thread count (set before
numpy is imported); on a 2-core VM small workloads swing by up to 40 % with 2 threads, so
compare ratios from the same run.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def parse():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads (default 1)")
    p.add_argument("--seconds", type=float, default=2.0, help="timing budget per configuration")
    p.add_argument("--batches", type=int, nargs="+", default=[256, 4096])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--activation", default="silu", choices=["silu", "relu"])
    p.add_argument("--no-torch", action="store_true", help="skip the torch comparison")
    return p.parse_args()


ARGS = parse()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

from ideal_diffusion.nn import MLP, Adam  # noqa: E402

D = 2


def batch(B, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, D)).astype(dtype)
    sigma = np.exp(rng.normal(-1.2, 1.2, B))
    y = rng.standard_normal((B, D)).astype(dtype)
    return x, sigma, y


def bench_numpy(B, dtype, seconds):
    """Return (steps/s, fwd s, bwd s, adam s) per step, best of 3 rounds."""
    net = MLP(D, ARGS.hidden, ARGS.depth, activation=ARGS.activation, rng=0, dtype=dtype)
    opt = Adam(net.theta, lr=1e-4)
    x, sigma, y = batch(B, dtype)
    scale = dtype(2.0 / y.size)
    g = np.empty_like(y)

    def timed_step():
        t0 = time.perf_counter()
        out = net.forward(x, sigma)
        t1 = time.perf_counter()
        np.subtract(out, y, out=g)
        np.multiply(g, scale, out=g)  # d mean((out - y)^2) / d out
        net.backward(g, need_input_grad=False)
        t2 = time.perf_counter()
        opt.step(net.theta, net.grad)
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    for _ in range(10):
        timed_step()
    best = None
    for _ in range(3):
        n, tot, acc = 0, 0.0, np.zeros(3)
        while tot < seconds / 3 or n < 5:
            parts = timed_step()
            acc += parts
            tot += sum(parts)
            n += 1
        cand = (n / tot, *(acc / n))
        best = cand if best is None or cand[0] > best[0] else best
    return best


def bench_torch(B, dtype, seconds, fused):
    import torch

    torch.set_num_threads(ARGS.threads)
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(0)
    emb_dim, hidden = 16, ARGS.hidden
    freqs = torch.tensor(2 * np.pi * np.geomspace(0.125, 4.0, emb_dim // 2), dtype=tdt)
    act = torch.nn.SiLU() if ARGS.activation == "silu" else torch.nn.ReLU()
    layers, n_in = [], D + emb_dim
    for _ in range(ARGS.depth):
        layers += [torch.nn.Linear(n_in, hidden), act]
        n_in = hidden
    layers.append(torch.nn.Linear(n_in, D))
    net = torch.nn.Sequential(*layers).to(tdt)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, fused=fused or None)
    xn, sn, yn = batch(B, dtype)
    x, sigma, y = (torch.from_numpy(np.asarray(a, dtype)) for a in (xn, sn, yn))

    def step():
        phase = (torch.log(sigma) / 4)[:, None] * freqs[None, :]
        h = torch.cat([x, torch.cos(phase), torch.sin(phase)], dim=1)
        loss = torch.mean((net(h) - y) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(10):
        step()
    best = 0.0
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 3 or n < 5:
            step()
            n += 1
        best = max(best, n / (time.perf_counter() - t0))
    return best


def main():
    try:
        if ARGS.no_torch:
            raise ImportError
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
    print(f"MLP width {ARGS.hidden}, depth {ARGS.depth}, {ARGS.activation}, data dim {D}, "
          f"threads {ARGS.threads}, numpy {np.__version__}"
          + (f", torch {sys.modules['torch'].__version__}" if have_torch
             else ", torch: not importable (skipped)"))
    header = (f"{'dtype':8s} {'batch':>6s} {'numpy st/s':>11s} {'fwd us':>8s} {'bwd us':>8s} "
              f"{'adam us':>8s} {'bwd/fwd':>8s}")
    if have_torch:
        header += f" {'torch st/s':>11s} {'fused st/s':>11s} {'np/torch':>9s} {'np/fused':>9s}"
    print(header)
    for dtype in (np.float64, np.float32):
        for B in ARGS.batches:
            rate, tf, tb, ta = bench_numpy(B, dtype, ARGS.seconds)
            line = (f"{np.dtype(dtype).name:8s} {B:6d} {rate:11.0f} {tf * 1e6:8.0f} "
                    f"{tb * 1e6:8.0f} {ta * 1e6:8.0f} {tb / tf:8.2f}")
            if have_torch:
                t_foreach = bench_torch(B, dtype, ARGS.seconds, fused=False)
                t_fused = bench_torch(B, dtype, ARGS.seconds, fused=True)
                line += (f" {t_foreach:11.0f} {t_fused:11.0f} {rate / t_foreach:9.2f}"
                         f" {rate / t_fused:9.2f}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
