"""Small helpers for the lecture notebooks: a one-line claim check, text rendered from values,
live controls over a plotting function, and animations inline.

* :func:`check` -- one line per claim: prints it with the measured values, or raises.
* :func:`say` -- a markdown sentence whose numbers are formatted from values (no number in
  a notebook's text is typed by hand).
* :func:`explore` -- controls (sliders with a number box that the Up/Down keys step, toggle
  buttons or dropdowns for text choices) over a plotting function,
  with exactly one plot per cell: live, the plot is a PNG image widget under the controls
  that every move redraws; static (a headless run, the notebook build, no ipywidgets), the
  function is drawn once at the default values, as an ordinary inline figure.
* :func:`play` -- an animation as inline HTML (jshtml); in the notebook build a link to the
  committed GIF instead, which plays on opening without trusting the notebook.

Environment: ``IDEAL_DIFFUSION_FAST=1`` (CI) and ``IDEAL_DIFFUSION_STATIC=1`` (the notebook
build) draw only the static fallback; ``IDEAL_DIFFUSION_WIDGETS=1`` shows live controls even
in FAST mode (the browser test).

Threads. ipykernel 7 runs widget callbacks on a *subshell* thread (JupyterLab sends widget
messages there so that controls answer while a cell runs), so a callback can run while the
main thread executes a cell, or while another callback runs. Each widget message, like each
cell, is bracketed by IPython's ``pre_execute`` / ``post_execute`` events, and pyplot's
``post_execute`` hook draws every stale figure in its registry (``draw_all``), on whatever
thread handled the message: a figure still being built by another callback included.
matplotlib is not thread-safe (one mathtext parser for the process), which is what broke
the sliders that retrain: ``ParseException`` tracebacks from ``tight_layout`` and blank plots.
Here a callback only records the requested values; one worker thread draws, always the latest
request per plot, holding one lock that every cell and every widget message also holds from
``pre_execute`` to the end of ``post_execute``; it takes every figure it made out of pyplot at
once and renders it to PNG bytes with the Agg canvas. No figure work runs on two threads at a
time.
"""
from __future__ import annotations

import io
import os
import threading
import traceback
from pathlib import Path

import matplotlib.pyplot as plt

__all__ = ["check", "explore", "play", "say", "static_only"]

SLIDER_WIDTH = "560px"  # wide enough to read 1-40 steps and to hit each value
DESCRIPTION_WIDTH = "90px"


def static_only() -> bool:
    """True when controls must not be shown (CI, the notebook build, or no ipywidgets)."""
    env = os.environ.get
    if env("IDEAL_DIFFUSION_STATIC") == "1":
        return True
    if env("IDEAL_DIFFUSION_FAST") == "1" and env("IDEAL_DIFFUSION_WIDGETS") != "1":
        return True
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return True
    return False


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def check(claim: str, ok, **values) -> None:
    """Check one claim of the lecture: print ``✓ claim (name = value, ...)`` or raise.

    Parameters
    ----------
    claim : str -- the claim, in words
    ok : bool -- whether the measured values support it
    **values -- the numbers behind it, printed beside the claim

    Raises
    ------
    AssertionError
        If ``ok`` is false (the message holds the claim and the values).
    """
    detail = ", ".join(f"{k} = {_fmt(v)}" for k, v in values.items())
    line = f"{claim}" + (f"  ({detail})" if detail else "")
    if not bool(ok):
        raise AssertionError("✗ " + line)
    print("✓ " + line)


def say(text: str, **values) -> None:
    """Show ``text`` as markdown with ``{name}`` fields filled from ``values`` (str.format)."""
    from IPython.display import Markdown, display

    display(Markdown(text.format(**values)))


# ---------------------------------------------------------------------------------------------
# live controls: one lock, one drawing thread

_LOCK = threading.RLock()  # held by the drawing thread while it draws, and by the kernel's
# every entry into user code: a cell, or a widget message (each is bracketed by IPython's
# pre_execute / post_execute events, and post_execute runs pyplot's draw_all)
_held = threading.local()
_shell = None


def _enter(*_):
    if not getattr(_held, "n", 0):  # a pre_execute whose post_execute never came counts once
        _LOCK.acquire()
        _held.n = 1
    # keep the release last among the post_execute callbacks (after draw_all, flush_figures),
    # even if the inline backend registered its callbacks again after ours
    events = _shell.events
    if events.callbacks["post_execute"][-1:] != [_leave]:
        events.unregister("post_execute", _leave)
        events.register("post_execute", _leave)


def _leave(*_):
    if getattr(_held, "n", 0):
        _held.n = 0
        _LOCK.release()


def _serialise_kernel() -> None:
    """Make every cell and widget message of this kernel hold the figure lock (once)."""
    global _shell
    if _shell is not None:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    _shell = shell
    shell.events.register("pre_execute", _enter)
    shell.events.register("post_execute", _leave)


def _png(fn, kw: dict) -> bytes:
    """Call ``fn(**kw)`` with the lock held; return the PNG bytes of its figure.

    Every figure ``fn`` creates is removed from pyplot at once (so the inline backend never
    shows or closes it from the main thread) and rendered with the Agg canvas. What ``fn``
    prints is not captured: swapping ``sys.stdout`` from a second thread loses the kernel's
    own output (ipykernel 7), so a plotting function shows its numbers in the figure.
    """
    from matplotlib import _pylab_helpers
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with _LOCK:
        before = set(_pylab_helpers.Gcf.figs)
        try:
            out = fn(**kw)
        finally:
            made = [m.canvas.figure for n, m in list(_pylab_helpers.Gcf.figs.items())
                    if n not in before]
            for fig in made:
                plt.close(fig)
        fig = out if hasattr(out, "savefig") else (made[-1] if made else None)
        if fig is None:
            raise TypeError(f"{getattr(fn, '__name__', fn)!r} drew no figure")
        FigureCanvasAgg(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=plt.rcParams["figure.dpi"], bbox_inches="tight",
                    facecolor="white")
        return buf.getvalue()


class _Drawer:
    """The one drawing thread: draws the latest requested values of each live plot."""

    def __init__(self):
        self._cv = threading.Condition()
        self._pending: dict[int, tuple[_LivePlot, dict]] = {}
        self._thread = threading.Thread(target=self._loop, name="ideal-diffusion-draw",
                                        daemon=True)
        self._thread.start()

    def request(self, plot: _LivePlot, kw: dict) -> None:
        with self._cv:
            self._pending[id(plot)] = (plot, kw)  # a newer move replaces one not yet drawn
            self._cv.notify()

    def _loop(self):
        while True:
            with self._cv:
                while not self._pending:
                    self._cv.wait()
                _, (plot, kw) = self._pending.popitem()
            try:
                plot.draw(kw)
            except BaseException:  # noqa: BLE001 (the one drawing thread must not die)
                traceback.print_exc()


_drawer: _Drawer | None = None


def _the_drawer() -> _Drawer:
    global _drawer
    if _drawer is None:
        _drawer = _Drawer()
    return _drawer


def _control(name: str, choices, default):
    """The widget for one control: a slider for a range or ordered numbers, toggle buttons
    or a dropdown for categorical (text) choices."""
    import ipywidgets as w

    style = {"description_width": DESCRIPTION_WIDTH}
    if isinstance(choices, slice):
        step = choices.step or 1
        integer = all(isinstance(v, int) for v in (choices.start, choices.stop, step, default))
        slider = (w.IntSlider if integer else w.FloatSlider)(
            value=default, min=choices.start, max=choices.stop, step=step, description=name,
            continuous_update=False, readout=False, style=style,
            layout=w.Layout(width=SLIDER_WIDTH))
        # the value in a number box linked in the browser: Up/Down step it from the keyboard
        # (a focused slider's arrow keys are taken by the notebook's command-mode shortcuts)
        box = (w.BoundedIntText if integer else w.BoundedFloatText)(
            value=default, min=choices.start, max=choices.stop, step=step,
            continuous_update=False, layout=w.Layout(width="90px"))
        w.jslink((slider, "value"), (box, "value"))
        row = w.HBox([slider, box])
        row.add_class("explore-range")
        row.value_widget = slider  # the control whose value is read and observed
        return row
    choices = list(choices)
    if default not in choices:
        raise ValueError(f"control {name!r}: default {default!r} is not one of {choices}")
    if all(isinstance(c, str) for c in choices):
        if len(choices) <= 4:
            return w.ToggleButtons(options=choices, value=default, description=name,
                                   style={**style, "button_width": "auto"})
        return w.Dropdown(options=choices, value=default, description=name, style=style)
    return w.SelectionSlider(options=[(_fmt(c), c) for c in choices], value=default,
                             description=name, continuous_update=False, style=style,
                             layout=w.Layout(width=SLIDER_WIDTH))


class _LivePlot:
    """Controls, one PNG image and a text line (the traceback, if drawing failed)."""

    def __init__(self, fn, controls: dict):
        import ipywidgets as w

        self.fn = fn
        rows = {name: _control(name, *spec) for name, spec in controls.items()}
        self.controls = {name: getattr(r, "value_widget", r) for name, r in rows.items()}
        self.status = w.HTML(layout=w.Layout(min_height="1.5em"))
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.text = w.HTML()
        self.box = w.VBox([*rows.values(), self.status, self.image, self.text])
        self.box.add_class("ideal-diffusion-explore")
        for c in self.controls.values():
            c.observe(self._moved, names="value")

    def values(self) -> dict:
        return {name: c.value for name, c in self.controls.items()}

    def _moved(self, _change):
        self.status.value = "<i>drawing ...</i>"
        _the_drawer().request(self, self.values())

    def draw(self, kw: dict) -> None:
        """Draw ``fn(**kw)`` into the image (any thread; the lock serialises the work)."""
        import html

        try:
            png = _png(self.fn, kw)
        except Exception:  # shown under the plot, as a cell would show it
            self.text.value = f"<pre>{html.escape(traceback.format_exc())}</pre>"
            self.status.value = "<b>error</b>"
            return
        self.image.value = png
        self.text.value = ""
        self.status.value = ""


def explore(fn, /, **controls) -> None:
    """One plot of ``fn`` with controls that redraw it (live), or ``fn(**defaults)`` (static).

    Parameters
    ----------
    fn : callable -- draws one figure from keyword arguments (returns the Figure, or leaves
        it as pyplot's current figure); numbers it should show belong in the figure (live,
        what it prints is not shown under the plot)
    **controls : each ``name=(choices, default)``: ``choices`` is ``slice(min, max, step)``
        for a numeric slider, a tuple of numbers for a slider over those values, or a tuple
        of strings for toggle buttons (up to four) or a dropdown.

    Returns
    -------
    None: the plot is shown once, live or static (a returned figure would be shown again).
    """
    defaults = {}
    for name, spec in controls.items():
        if not (isinstance(spec, tuple) and len(spec) == 2):
            raise ValueError(f"control {name!r} must be (choices or slice(min, max, step), "
                             f"default), got {spec!r}")
        defaults[name] = spec[1]
    if static_only():
        out = fn(**defaults)
        if hasattr(out, "savefig"):
            plt.show()
        return None
    from IPython.display import display

    _serialise_kernel()
    plot = _LivePlot(fn, controls)
    plot.draw(defaults)  # this thread already holds the lock while its cell runs
    display(plot.box)
    return None


def play(anim, dpi: float | None = None, gif: str | Path | None = None) -> None:
    """Show a matplotlib animation inline as HTML (jshtml) and close its figure.

    Parameters
    ----------
    anim : matplotlib.animation.Animation
    dpi : float, optional -- frame resolution (lower keeps a committed notebook small)
    gif : path, optional -- a GIF of the same film, relative to the notebook's directory: in
        static mode (the notebook build) the output is a markdown image of it instead, which
        plays as soon as the notebook opens (jshtml needs JavaScript, which JupyterLab does
        not run in a freshly cloned, untrusted notebook) and keeps the notebook small
    """
    from IPython.display import HTML, Markdown, display

    if gif is not None and static_only() and Path(gif).is_file():
        display(Markdown(f"![the film, as a GIF (run the cell for the controls)]"
                         f"({Path(gif).as_posix()})"))
        plt.close(anim._fig)
        anim._draw_was_started = True  # not rendered on purpose: no "deleted without" warning
        return
    with plt.rc_context({} if dpi is None else {"savefig.dpi": dpi}):
        html = anim.to_jshtml()
    display(HTML(html))
    plt.close(anim._fig)
