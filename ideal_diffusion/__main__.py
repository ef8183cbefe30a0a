"""Command line: ``python -m ideal_diffusion figures [--out DIR] [--only NAME ...]`` and
``python -m ideal_diffusion report [--out DIR]`` (the distillation summary table)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ideal_diffusion",
        description=(
            "ideal-diffusion: regenerate the slide figures of the lecture "
            "'ODE-Based Diffusion Distillation' from exact (delta-mixture) computations."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fig = sub.add_parser(
        "figures",
        help="make every registered slide figure (150 dpi PNG) and the summary table",
        description="Make the registered slide figures and, unless --only is given, the "
                    "distillation summary table (summary.md/.csv, as 'report' does). "
                    "Deterministic: same command, same bytes.",
    )
    fig.add_argument("--out", type=Path, default=Path("figures"),
                     help="output directory (default: ./figures)")
    fig.add_argument("--only", nargs="+", metavar="NAME",
                     help="make only these figures (file stems); see --list")
    fig.add_argument("--list", action="store_true", help="list figure names and exit")
    rep = sub.add_parser(
        "report",
        help="print the distillation summary table and save figures/summary.{md,csv}",
        description="Teacher evaluations, sampling steps and error against the exact ODE for "
                    "the plain teacher, KD, CD and MBCD (lecture row 22).",
    )
    rep.add_argument("--out", type=Path, default=Path("figures"),
                     help="output directory (default: ./figures)")
    args = parser.parse_args(argv)

    if args.command == "report":
        from ideal_diffusion.report import write_report

        t0 = time.perf_counter()
        md, csv_path = write_report(args.out)
        print(f"wrote {md} and {csv_path} in {time.perf_counter() - t0:.1f} s")
        return 0

    if args.command == "figures":
        import matplotlib

        matplotlib.use("Agg")  # files only; a notebook importing the registry keeps its backend
        from ideal_diffusion.figures import load_all, make_figures

        if args.list:
            for spec in load_all().values():
                print(f"{spec.name:32s} {spec.slide}")
            return 0
        t0 = time.perf_counter()
        try:
            paths = make_figures(args.out, args.only)
        except ValueError as err:
            parser.error(str(err))
        if not args.only:  # the one command makes every figure *and* the table
            from ideal_diffusion.report import write_report

            paths += write_report(args.out)
            print(f"wrote {paths[-2]} and {paths[-1]}")
        print(f"{len(paths)} file(s) in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
