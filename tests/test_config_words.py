"""Titles take their words and numbers from the Config in use (issue 17, item 12)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ideal_diffusion.experiments import motivation as mot  # noqa: E402


def test_two_delta_title_follows_the_distance():
    cfg = mot.two_delta_averaging.Config(distance=4.0, sigmas=(1.0,), n_grid=51)
    r = mot.two_delta_averaging.run(cfg)
    # log(pi2/pi1) = L x / sigma^2 for points at -L/2, +L/2: pi2 = 0.7 at sigma^2 ln(7/3) / L
    assert abs(r.x_star - np.log(0.7 / 0.3) / 4.0) < 1e-12
    fig = mot.two_delta_averaging.plot(r)
    texts = [fig._suptitle.get_text()] + [a.get_title() for a in fig.axes]
    plt.close(fig)
    assert any("/4$" in t and f"{r.x_star:.4f}" in t for t in texts), texts
    assert any("$4x/\\sigma^2$" in t for t in texts), texts
    assert not any("0.3)/2$" in t or "$2x/" in t for t in texts), texts
