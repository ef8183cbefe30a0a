"""The slide-figure registry: every figure the lecture needs, made by one command.

Each figure is a no-argument function ``make()`` registered with :func:`register`; it calls an
experiment's ``plot(run(Config()))`` with the slide's fixed Config (notebooks call the same
plot functions on what their own cells computed). ``python -m ideal_diffusion figures``
imports the figure modules (:func:`load_all`; importing fills the registry) and saves each
figure as ``<name>.png`` at 150 dpi, with PNG metadata stripped so that the same command gives
the same bytes; a ``make()`` returning a matplotlib animation is saved as ``<name>.gif``
(Pillow, 80 dpi, 4 frames per second; also deterministic).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

DPI = 150
NOTEBOOK_DPI = 80  # inline notebook images: keeps an executed notebook under 1 MiB


@dataclass(frozen=True)
class FigureSpec:
    name: str
    slide: str
    make: Callable[[], matplotlib.figure.Figure]
    animated: bool = False

    @property
    def filename(self) -> str:
        """``<name>.png``, or ``<name>.gif`` for an animation."""
        return f"{self.name}.{'gif' if self.animated else 'png'}"


REGISTRY: dict[str, FigureSpec] = {}


def register(name: str, slide: str, animated: bool = False):
    """Decorator: add ``make()`` to the registry under ``name`` (the file stem).

    Parameters
    ----------
    name : str
        File stem of the figure (``<name>.png``); unique across the registry.
    slide : str
        The lecture slide / claim the figure reproduces (shown in the gallery).
    animated : bool
        ``make()`` returns a matplotlib animation, saved as ``<name>.gif``.
    """

    def wrap(make):
        if name in REGISTRY:
            raise ValueError(f"figure name {name!r} is registered twice")
        REGISTRY[name] = FigureSpec(name, slide, make, animated)
        return make

    return wrap


def load_all() -> dict[str, FigureSpec]:
    """Import every figure module and return the filled registry, in gallery order (module
    order below, then registration order within a module)."""
    from . import cd, core, dpm, film, flow, images, kd, kd_data, students

    gallery = (core, dpm, students, kd, kd_data, cd, images, flow, film)
    rank = {m.__name__: i for i, m in enumerate(gallery)}
    specs = sorted(REGISTRY.values(), key=lambda s: rank.get(s.make.__module__, len(rank)))
    REGISTRY.clear()
    REGISTRY.update((s.name, s) for s in specs)
    return REGISTRY


def style():
    """Slide style: large fonts, no top/right spines; same for every figure."""
    plt.rcParams.update(
        {
            "font.size": 11,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "legend.fontsize": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "svg.hashsalt": "ideal-diffusion",
        }
    )


def notebook_style(dpi: int = NOTEBOOK_DPI):
    """The slide style of ``figures/`` for inline notebook images at ``dpi``."""
    style()
    plt.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi, "figure.facecolor": "white"})


def show(name: str, skip: bool | None = None):
    """Show the registered figure ``name`` inline: the same picture as ``figures/<name>.png``.

    Parameters
    ----------
    name : str
        A registered figure name (see ``python -m ideal_diffusion figures --list``).
    skip : bool, optional
        Print a note instead of making the figure. Default: skip when the environment sets
        ``IDEAL_DIFFUSION_FAST=1`` (the notebooks' CI mode; ``figures/`` is tested elsewhere).

    Raises
    ------
    ValueError
        If ``name`` is not registered.
    """
    registry = load_all()
    if name not in registry:
        raise ValueError(f"unknown figure name {name!r}; known: {sorted(registry)}")
    if skip is None:
        skip = os.environ.get("IDEAL_DIFFUSION_FAST") == "1"
    if skip:
        print(f"(FAST: figure {name!r} skipped; it is figures/{name}.png)")
        return
    fig = registry[name].make()
    if hasattr(fig, "to_jshtml"):  # an animation
        from IPython.display import HTML, display

        display(HTML(fig.to_jshtml()))
        plt.close(fig._fig)
        return
    fig.set_dpi(plt.rcParams["figure.dpi"])
    plt.show()


GIF_DPI = 80
GIF_FPS = 4


def save(fig, path: Path) -> Path:
    """Save ``fig`` as a deterministic 150 dpi PNG (no software/date metadata), or an animation
    as a deterministic GIF (``path`` with suffix .gif); return the path written."""
    from matplotlib.animation import Animation, PillowWriter

    if isinstance(fig, Animation):
        path = Path(path).with_suffix(".gif")
        fig.save(path, writer=PillowWriter(fps=GIF_FPS), dpi=GIF_DPI)
        plt.close(fig._fig)
        return path
    fig.savefig(path, dpi=DPI, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return path


def _make_group(out: str, names: list, report: bool) -> list:
    """Make ``names`` (and the summary table when ``report``) in this process; return
    ``[(path, seconds), ...]``. Figures of one module share a process, so their cached runs
    are computed once."""
    import matplotlib

    matplotlib.use("Agg")
    registry = load_all()
    done = []
    for name in names:
        style()
        t0 = time.perf_counter()
        path = save(registry[name].make(), Path(out) / registry[name].filename)
        done.append((path, time.perf_counter() - t0))
    if report:
        from ..report import write_report

        t0 = time.perf_counter()
        md, csv_path = write_report(out, echo=lambda *_: None)
        dt = time.perf_counter() - t0
        done += [(md, dt), (csv_path, 0.0)]
    return done


def make_figures(out: Path, only: list[str] | None = None, echo=print, jobs: int = 1,
                 report: bool = False) -> list[Path]:
    """Make the registered figures (and, with ``report``, the summary table) into ``out``.

    Parameters
    ----------
    out : directory (created if needed)
    only : figure names, optional (default: every registered figure)
    echo : callable for one progress line per file
    jobs : int >= 1 -- worker processes; figures are grouped by module (one group per
        process at a time, so a module's cached runs are shared), and the summary table is
        made with the summary figure. Every file is deterministic, whatever ``jobs`` is.
    report : bool -- also write ``summary.md`` and ``summary.csv``

    Returns
    -------
    paths : list of Path, in registry order (the table last)

    Raises
    ------
    ValueError
        If a name in ``only`` is not registered (the message lists the known names), or
        ``jobs`` is not an integer >= 1.
    """
    registry = load_all()
    names = list(registry) if not only else list(only)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(f"unknown figure name(s) {unknown}; known: {sorted(registry)}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    groups: dict = {}
    for name in names:
        groups.setdefault(registry[name].make.__module__, []).append(name)
    tasks = [[g, False] for g in groups.values()]
    if report:
        home = next((t for t in tasks if "summary_error_vs_nfe" in t[0]), None)
        if home is None:
            tasks.append([[], True])
        else:
            home[1] = True
    tasks.sort(key=lambda t: not t[1])  # the longest (the table) first
    results = []
    if jobs == 1 or len(tasks) == 1:
        for g, rep in tasks:
            new = _make_group(str(out), g, rep)
            results += new
            for path, dt in new:
                echo(f"wrote {path} ({dt:.1f} s)")
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = mp.get_context("spawn")  # a clean interpreter: no inherited BLAS or plot state
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [pool.submit(_make_group, str(out), g, rep) for g, rep in tasks]
            for fut in as_completed(futures):
                for path, dt in fut.result():
                    echo(f"wrote {path} ({dt:.1f} s)")
                    results.append((path, dt))
    order = {n: i for i, n in enumerate(names)}
    paths = [p for p, _ in results]
    return sorted(paths, key=lambda p: order.get(Path(p).stem, len(order)))
