"""Small helpers for the lecture notebooks: a one-line claim check, text rendered from values,
sliders with a static fallback, and animations inline.

* :func:`check` -- one line per claim: prints it with the measured values, or raises.
* :func:`say` -- a markdown sentence whose numbers are formatted from values (no number in
  a notebook's text is typed by hand).
* :func:`explore` -- ipywidgets sliders over a plotting function; the function is always drawn
  once at the default values first (the static fallback: what a headless run, the committed
  notebook and a reader without widgets see), then the live controls are added when widgets
  can be shown.
* :func:`play` -- an animation as inline HTML (jshtml).

Environment: ``IDEAL_DIFFUSION_FAST=1`` (CI) and ``IDEAL_DIFFUSION_STATIC=1`` (the notebook
build) draw only the static fallback.
"""
from __future__ import annotations

import os

import matplotlib.pyplot as plt

__all__ = ["check", "explore", "play", "say", "static_only"]


def static_only() -> bool:
    """True when sliders must not be shown (CI, the notebook build, or no ipywidgets)."""
    if os.environ.get("IDEAL_DIFFUSION_FAST") == "1" or os.environ.get(
            "IDEAL_DIFFUSION_STATIC") == "1":
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


def explore(fn, /, **controls):
    """Draw ``fn(**defaults)`` now, then (live) sliders that redraw it.

    Parameters
    ----------
    fn : callable -- draws a figure (returns a Figure or None) from keyword arguments
    **controls : each ``name=(choices_or_range, default)``: ``choices_or_range`` is a tuple of
        values (a dropdown / selection slider) or ``(min, max, step)`` for a numeric slider
        (written as a ``range``-like tuple of three numbers, marked by a ``slice``:
        ``slice(min, max, step)``).

    Returns
    -------
    The static figure (or whatever ``fn`` returned at the defaults).
    """
    defaults = {}
    for name, spec in controls.items():
        if not (isinstance(spec, tuple) and len(spec) == 2):
            raise ValueError(f"control {name!r} must be (choices or slice(min, max, step), "
                             f"default), got {spec!r}")
        defaults[name] = spec[1]
    out = fn(**defaults)
    if hasattr(out, "savefig"):
        plt.show()
    if static_only():
        return out
    import ipywidgets as w

    widgets = {}
    for name, (choices, default) in controls.items():
        if isinstance(choices, slice):
            step = choices.step or 1
            cls = w.IntSlider if all(isinstance(v, int) for v in
                                     (choices.start, choices.stop, step, default)) \
                else w.FloatSlider
            widgets[name] = cls(value=default, min=choices.start, max=choices.stop, step=step,
                                description=name, continuous_update=False)
        else:
            widgets[name] = w.SelectionSlider(options=list(choices), value=default,
                                              description=name, continuous_update=False)

    def redraw(**kw):
        fig = fn(**kw)
        if hasattr(fig, "savefig"):
            plt.show()

    w.interact(redraw, **widgets)
    return out


def play(anim, dpi: float | None = None) -> None:
    """Show a matplotlib animation inline as HTML (jshtml) and close its figure.

    Parameters
    ----------
    anim : matplotlib.animation.Animation
    dpi : float, optional -- frame resolution (lower keeps a committed notebook small)
    """
    from IPython.display import HTML, display

    with plt.rc_context({} if dpi is None else {"savefig.dpi": dpi}):
        html = anim.to_jshtml()
    display(HTML(html))
    plt.close(anim._fig)
