"""Slide figure of lecture row 23: "Ours, 4 steps" vs "Teacher, 50 steps" on glyph images.

The student is the committed 4-boundary CD checkpoint of
:mod:`ideal_diffusion.distill.exp_images` (remade by
``python -m ideal_diffusion.distill.exp_images --retrain``); the figure only samples and
measures, so it takes seconds.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ideal_diffusion.figures import register

SHOW = 8  # rows: the first SHOW of the seeded noises (not selected)
N_MEASURE = 512

COLUMNS = (
    ("teacher", "Teacher, 50 steps\n(Heun)"),
    ("student", "Ours, 4 steps\n(multi-boundary CD student)"),
    ("oracle", "Exact optimum, 4 jumps\n(oracle of the same loss)"),
    ("plain", "Plain diffusion, 4 steps\n(Heun, no distillation)"),
)


def _strip(images: np.ndarray, size: int) -> np.ndarray:
    """Stack (M, size*size) images vertically with a 1-pixel NaN gap (drawn white)."""
    M = images.shape[0]
    out = np.full((M * (size + 1) - 1, size), np.nan)
    for i in range(M):
        out[i * (size + 1):i * (size + 1) + size] = images[i].reshape(size, size)
    return out


def _draw(ax, images, size, flag=None, vlim=1.0):
    cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
    ax.imshow(_strip(np.clip(images, -vlim, vlim), size), cmap=cmap, vmin=-vlim, vmax=vlim,
              interpolation="nearest")
    if flag is not None:
        for i in np.flatnonzero(flag):
            ax.add_patch(plt.Rectangle((-0.5, int(i) * (size + 1) - 0.5), size, size,
                                       fill=False, ec="red", lw=2.5))
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_visible(False)


@register("images_4step_vs_teacher",
          "row 23: 'Ours, 4 steps' vs 'Teacher, 50 steps' on glyph images")
def images_4step_vs_teacher():
    from ideal_diffusion.distill.exp_images import cached_comparison

    cmp_ = cached_comparison(N_MEASURE, 1)
    size = cmp_.size
    fig, axes = plt.subplots(1, 1 + len(COLUMNS), figsize=(14, 9.6),
                             gridspec_kw={"wspace": 0.25})
    _draw(axes[0], cmp_.x_T[:SHOW] / 80.0, size, vlim=2.5)
    axes[0].set_title("noise $x_T$\n($\\sigma$ = 80, shown / 80)", fontsize=11)
    for ax, (key, title) in zip(axes[1:], COLUMNS):
        q = cmp_.quality[key]
        _draw(ax, cmp_.samples[key][:SHOW], size, flag=~q.same_basin[:SHOW])
        ax.set_title(title, fontsize=11.5)
        ax.set_xlabel(f"{cmp_.nfe[key]} evaluations\n"
                      f"same digit: {100 * q.frac_same_basin:.1f}%\n"
                      f"to exact ODE: {q.median_dist_to_exact:.2f}\n"
                      f"to teacher: {np.median(cmp_.to_teacher[key]):.2f}", fontsize=11)
    st = cmp_.samples["student"]
    fig.suptitle("Ours, 4 steps vs Teacher, 50 steps: the same noise in every row "
                 f"(ten {size}$\\times${size} digit glyphs, d = {st.shape[1]})", y=0.985)
    eu = cmp_.quality["plain_euler"].frac_same_basin
    fig.text(0.5, -0.01,
             f"Numbers over {N_MEASURE} seeded noises (rows: the first {SHOW} of them). "
             "Same digit: the sample's nearest digit is that of the exact PF-ODE of its noise "
             "(red frame: it is not).\nTo exact ODE / to teacher: median distance "
             "(two digits are 5.2-13 apart). The oracle, the exact minimiser of the "
             "student's loss, jumps along the teacher's\nHeun chain on the student's "
             f"{cmp_.grid_size}-level grid. Plain Euler, 4 steps (4 evaluations): "
             f"same digit {100 * eu:.1f}%.",
             ha="center", va="top", fontsize=10)
    return fig
