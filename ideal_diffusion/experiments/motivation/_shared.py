"""What the section-1 experiments share: colours and labels of the solvers, the one-BLAS-thread
wrapper, and small drawing helpers (mosaics of images, boxes, clipped curves)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

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
    """Draw a mosaic of [-1, 1] images (clipped; -1 white background, +1 black ink)."""
    cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
    ax.imshow(_mosaic(np.clip(images, -1, 1), size, cols), cmap=cmap, vmin=-1, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_visible(False)


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
