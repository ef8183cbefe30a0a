"""The notebooks' helpers: a failed claim raises with its values; sliders fall back to one
static drawing at the defaults when widgets cannot be shown."""
import matplotlib

matplotlib.use("Agg")

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
