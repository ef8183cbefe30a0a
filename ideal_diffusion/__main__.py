"""Command line.

* ``python -m ideal_diffusion figures [--out DIR] [--only NAME ...] [--list]`` -- every slide
  figure (and, without ``--only``, the summary table and the gallery ``README.md``);
* ``python -m ideal_diffusion report [--out DIR]`` -- the summary table alone;
* ``python -m ideal_diffusion retrain [--only NAME ...]`` -- remake the committed student
  checkpoints, deterministically from their seeds.

A usage error exits with status 2 and one line; a runtime error with status 1 and one line (no
traceback). Every argument (``--jobs``, ``--only`` names, ``--out`` writability) is checked
before anything is created, written or computed.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _check_writable(out: Path) -> str | None:
    """None if ``out`` can be created and written, else the reason; creates nothing.

    An existing ``out`` must be a directory we can write into; a missing one needs its
    nearest existing ancestor to be a writable directory (it is created only later, after
    every argument was checked).
    """
    out = Path(out)
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.exists():
        return f"--out {out}: no existing parent directory"
    if not probe.is_dir():
        return f"--out {out}: {probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"--out {out} is not writable ({probe}: permission denied)"
    if probe == out:  # exists: the real test is writing a file (read-only mounts, ACLs)
        try:
            with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
                pass
        except OSError as err:
            return f"--out {out} is not writable ({err.strerror or err})"
    return None


def _retrain_rest(jobs: int, before: set) -> list:
    """Retrain every other student of the store (the 2-D students of the figures and the
    table): make every figure and the table with saving on, into a scratch directory."""
    import matplotlib

    matplotlib.use("Agg")
    from ideal_diffusion.experiments.store import SAVE_ENV, STORE_DIR
    from ideal_diffusion.figures import make_figures

    os.environ[SAVE_ENV] = "1"  # inherited by the worker processes
    try:
        with tempfile.TemporaryDirectory() as scratch:
            make_figures(scratch, jobs=jobs, report=True, echo=lambda *_: None)
    finally:
        del os.environ[SAVE_ENV]
    paths = sorted(set(STORE_DIR.glob("*.npz")) - before)
    print(f"{len(paths)} more student(s) saved in {STORE_DIR}")
    return paths


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m ideal_diffusion",
        description=(
            "ideal-diffusion: regenerate the slide figures of the lecture "
            "'ODE-Based Diffusion Distillation' from exact (delta-mixture) computations."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    fig = sub.add_parser(
        "figures",
        help="make every registered slide figure (150 dpi PNG, the GIF), the summary table "
             "and the gallery",
        description="Make the registered slide figures and, unless --only is given, the "
                    "summary table (summary.md/.csv, as 'report' does) and the gallery "
                    "README.md (every figure with its slide). Deterministic: same command, "
                    "same bytes.",
    )
    fig.add_argument("--out", type=Path, default=Path("figures"),
                     help="output directory (default: ./figures)")
    fig.add_argument("--only", nargs="+", metavar="NAME",
                     help="make only these figures (file stems); see --list")
    fig.add_argument("--list", action="store_true", help="list figure names and exit")
    fig.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                     help="worker processes (default: 2, or 1 on a 1-core machine)")
    rep = sub.add_parser(
        "report",
        help="print the summary table and save figures/summary.{md,csv}",
        description="At NFE 1, 2 and 4: the plain teacher, each distilled student and its "
                    "method's exact optimum (method error and training error).",
    )
    rep.add_argument("--out", type=Path, default=Path("figures"),
                     help="output directory (default: ./figures)")
    ret = sub.add_parser(
        "retrain",
        help="remake the committed student checkpoints (deterministic, a few minutes)",
        description="Retrain committed students from their seeds into the store "
                    "ideal_diffusion/checkpoints/: with --only, the named digit students; "
                    "without, the whole store is cleared and remade (the digit students, "
                    "then the 2-D students of the figures and the table).",
    )
    ret.add_argument("--only", nargs="+", metavar="NAME", help="retrain only these students")
    ret.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                     help="students trained at once, one per process (default: 2)")
    return parser


def _run(args, parser) -> int:
    # every argument is checked before anything is created or written
    if getattr(args, "jobs", 1) < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")

    if args.command == "retrain":
        from ideal_diffusion.experiments.students import CHECKPOINTED, clear_store, retrain_all

        names = list(CHECKPOINTED)
        if args.only and set(args.only) - set(names):
            parser.error(f"unknown student(s) {sorted(set(args.only) - set(names))}; "
                         f"known: {names}")
        t0 = time.perf_counter()
        if not args.only:  # the whole store is remade: nothing stale is left behind
            print(f"cleared {clear_store()} stored student(s)")
        paths = retrain_all(args.only, jobs=args.jobs)
        if not args.only:  # and every 2-D student the figures and the table train
            paths += _retrain_rest(args.jobs, set(paths))
        print(f"{len(paths)} checkpoint(s) in {time.perf_counter() - t0:.1f} s")
        return 0

    if args.command == "report":
        reason = _check_writable(args.out)
        if reason:
            parser.error(reason)
        from ideal_diffusion.report import write_report

        t0 = time.perf_counter()
        md, csv_path = write_report(args.out)
        print(f"wrote {md} and {csv_path} in {time.perf_counter() - t0:.1f} s")
        return 0

    import matplotlib

    matplotlib.use("Agg")  # files only; a notebook importing the registry keeps its backend
    from ideal_diffusion.figures import load_all, make_figures

    registry = load_all()
    if args.list:
        for spec in registry.values():
            print(f"{spec.name:32s} {spec.slide}")
        return 0
    unknown = [n for n in (args.only or []) if n not in registry]
    if unknown:
        parser.error(f"unknown figure name(s) {unknown}; see --list")
    reason = _check_writable(args.out)
    if reason:
        parser.error(reason)
    t0 = time.perf_counter()
    # the one command makes every figure *and* the table and the gallery
    paths = make_figures(args.out, args.only, jobs=args.jobs, report=not args.only,
                         gallery=not args.only)
    print(f"{len(paths)} file(s) in {time.perf_counter() - t0:.1f} s")
    return 0


def main(argv=None) -> int:
    """Run the command line; return the exit status (0 ok, 1 runtime error, 2 usage error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _run(args, parser)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one line, no traceback; IDEAL_DIFFUSION_DEBUG=1 shows it
        if os.environ.get("IDEAL_DIFFUSION_DEBUG") == "1":
            raise
        print(f"{parser.prog}: error: {type(err).__name__}: {err}".splitlines()[0],
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
