"""The notebooks' helpers: a failed claim raises with its values; sliders fall back to one
static drawing at the defaults when widgets cannot be shown; live plots draw on one thread,
serialised, never through pyplot's registry, with controls that fit their values."""
import threading
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from ideal_diffusion.figures.notebook import check, explore, static_only  # noqa: E402


def test_check_prints_or_raises(capsys):
    assert check("error falls with steps", 0.1 < 0.5, few=0.5, many=0.1) is None
    assert "✓ error falls with steps  (few = 0.5, many = 0.1)" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="✗ error falls.*few = 0.1"):
        check("error falls with steps", 0.5 < 0.1, few=0.1, many=0.5)


def test_explore_draws_the_defaults_once_when_static(monkeypatch):
    monkeypatch.setenv("IDEAL_DIFFUSION_STATIC", "1")
    assert static_only()
    seen = []
    explore(lambda steps, solver: seen.append((steps, solver)),
            steps=(slice(1, 30, 1), 4), solver=(("euler", "heun"), "euler"))
    assert seen == [(4, "euler")]
    with pytest.raises(ValueError, match="control 'steps'"):
        explore(lambda steps: None, steps=4)


def test_explore_returns_nothing(monkeypatch):
    """A returned figure would be shown a second time as the cell's result."""
    monkeypatch.setenv("IDEAL_DIFFUSION_STATIC", "1")
    assert explore(lambda a: _figure(a), a=(slice(1, 3, 1), 2)) is None
    plt.close("all")


def test_fast_is_static_unless_widgets_are_asked_for(monkeypatch):
    monkeypatch.delenv("IDEAL_DIFFUSION_STATIC", raising=False)
    monkeypatch.setenv("IDEAL_DIFFUSION_FAST", "1")
    assert static_only()
    monkeypatch.setenv("IDEAL_DIFFUSION_WIDGETS", "1")
    assert not static_only()


def _figure(a, kind="x"):
    """A figure with mathtext and tight_layout, what broke on the kernel's two threads."""
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, a], [0, 1])
    ax.set_title(f"$\\sigma_{{min}}$ = {a}, {kind}")
    fig.tight_layout()
    return fig


def test_figure_work_from_many_threads_gives_the_bytes_of_one_thread():
    from ideal_diffusion.figures.notebook import _png

    alone = {a: _png(_figure, {"a": a}) for a in range(1, 9)}
    together = {}

    def draw(a):
        together[a] = _png(_figure, {"a": a})

    threads = [threading.Thread(target=draw, args=(a,)) for a in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone
    assert len(set(alone.values())) == len(alone)  # eight different pictures
    assert plt.get_fignums() == []  # every figure was taken out of pyplot


def test_live_controls_fit_their_values_and_a_move_redraws_on_the_drawing_thread():
    pytest.importorskip("ipywidgets")
    from ideal_diffusion.figures.notebook import SLIDER_WIDTH, _LivePlot

    calls = []

    def fn(a, kind, level, which):
        calls.append((threading.current_thread().name, a, kind, level, which))
        return _figure(a, f"{kind}/{level}/{which}")

    plot = _LivePlot(fn, {"a": (slice(1, 40, 1), 3), "kind": (("x", "y"), "x"),
                          "level": ((0.1, 0.5, 0.9), 0.5),
                          "which": (("one", "two", "three", "four", "five"), "two")})
    c = plot.controls
    assert [type(c[k]).__name__ for k in c] == ["IntSlider", "ToggleButtons", "SelectionSlider",
                                                "Dropdown"]
    assert c["a"].layout.width == SLIDER_WIDTH and not c["a"].continuous_update
    row = next(r for r in plot.box.children if getattr(r, "value_widget", None) is c["a"])
    number = row.children[1]  # the number box that Up/Down step, linked in the browser
    assert type(number).__name__ == "BoundedIntText"
    assert (number.min, number.max, number.step, number.value) == (1, 40, 1, 3)
    plot.draw(plot.values())
    first = bytes(plot.image.value)
    assert first.startswith(b"\x89PNG") and calls[-1][1:] == (3, "x", 0.5, "two")
    c["a"].value = 4
    deadline = time.monotonic() + 30
    while bytes(plot.image.value) == first and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    assert bytes(plot.image.value) != first and plot.text.value == ""
    assert calls[-1] == ("ideal-diffusion-draw", 4, "x", 0.5, "two")
    assert plt.get_fignums() == []
    with pytest.raises(ValueError, match="control 'kind'"):
        _LivePlot(fn, {"kind": (("x", "y"), "z")})


def test_a_failing_redraw_shows_its_traceback_under_the_plot():
    pytest.importorskip("ipywidgets")
    from ideal_diffusion.figures.notebook import _LivePlot

    def fn(a):
        if a > 2:
            raise ValueError(f"a = {a} is too large")
        return _figure(a)

    plot = _LivePlot(fn, {"a": (slice(1, 5, 1), 1)})
    plot.draw({"a": 3})
    assert "Traceback" in plot.text.value and "a = 3 is too large" in plot.text.value
    assert plot.status.value == "<b>error</b>"
