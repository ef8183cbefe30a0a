"""What the section-1 experiments share: colours and labels of the solvers, the one-BLAS-thread
wrapper, and small drawing helpers (mosaics of images, boxes, clipped curves)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..common import out_of_range

COLORS = {"euler": "tab:blue", "heun": "tab:orange", "dpmpp_2m": "tab:green"}
LABELS = {"euler": "Euler", "heun": "Heun", "dpmpp_2m": "DPM-Solver++(2M)"}
NFE_RULE = {"euler": "NFE = n", "heun": "NFE = 2n", "dpmpp_2m": "NFE = n"}


# ----------------------------------------------------------------------------- helpers


def _figure(ax, ncols=1, **kw):
    """``(fig, axes)``: new subplots, or the figure of the given axes."""
    if ax is None:
        fig, axes = plt.subplots(1, ncols, **kw)
        return fig, np.atleast_1d(axes)
    axes = np.atleast_1d(ax)
    if axes.size != ncols:
        raise ValueError(f"this plot draws on {ncols} axes, got {axes.size}")
    return axes[0].figure, axes


def _mosaic(images: np.ndarray, size: int, cols: int) -> np.ndarray:
    """Tile (M, size*size) images into one array, 1-pixel gaps (NaN, drawn white)."""
    M = images.shape[0]
    rows = -(-M // cols)
    out = np.full((rows * (size + 1) - 1, cols * (size + 1) - 1), np.nan)
    for i in range(M):
        r, c = divmod(i, cols)
        out[r * (size + 1):r * (size + 1) + size, c * (size + 1):c * (size + 1) + size] = \
            images[i].reshape(size, size)
    return out


def _show_images(ax, images, size, cols):
    """Draw a mosaic of images on a grey scale that covers every pixel: [-1, 1] (-1 white
    background, +1 black ink) widened symmetrically when a pixel overshoots it, never clipped;
    an overshooting panel says so (its scale and the fraction of pixels outside [-1, 1] by more
    than :data:`~..common.PIXEL_TOL`).

    Returns
    -------
    float -- the fraction of pixels outside [-1, 1]
    """
    images = np.asarray(images, dtype=np.float64)
    cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
    v = max(1.0, float(np.ceil(np.abs(images).max() * 10.0) / 10.0))
    ax.imshow(_mosaic(images, size, cols), cmap=cmap, vmin=-v, vmax=v,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_visible(False)
    out = out_of_range(images)
    if out > 0:
        ax.text(0.5, -0.02, f"scale \u00b1{v:g}: {100 * out:.0f}% px outside [-1, 1]",
                transform=ax.transAxes, ha="center", va="top", fontsize=7, color="tab:red")
    return out


def _box(ax, x, y, text, **kw):
    kw.setdefault("fontsize", 8.5)
    ax.text(x, y, text, transform=ax.transAxes,
            bbox=dict(boxstyle="round", fc="white", ec="0.6", alpha=0.9), **kw)


def _side(images) -> int:
    side = int(round(np.sqrt(images.shape[-1])))
    if side * side != images.shape[-1]:
        raise ValueError(f"images must be square, got d = {images.shape[-1]}")
    return side



def _clipped(ax, x, y, clip, color, **kw):
    """Plot y vs x with values above ``clip`` drawn at the clip as open triangles."""
    y = np.asarray(y, dtype=float)
    over = y > clip
    line = ax.plot(x, np.minimum(y, clip), color=color, **kw)
    if np.any(over):
        ax.plot(np.asarray(x)[over], np.full(over.sum(), clip), "^", color=color, ms=9,
                mfc="white", mew=1.8, zorder=6)
    return line
