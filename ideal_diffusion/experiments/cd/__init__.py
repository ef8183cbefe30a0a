"""Consistency distillation experiments (lecture section 3: slides "Consistency Distillation.
Main idea", "What about optimal solution?", "Sampling from CD", "Summary").

One module per experiment, each a frozen ``Config`` (every knob; the slide figure's settings as
defaults), a cached ``run(cfg) -> Result`` and a ``plot(result, ax=None) -> Figure``:

* :mod:`.student_vs_optimum` -- one CD student (or, with ``K > 1``, a multi-boundary student;
  see :mod:`..mbcd`) against its exact optimum f* (the teacher's solver chained down the grid),
  the diffusion optimum D(x, sigma) (the average) and the consistency-training target (a
  mixture), on held-out noisy points at several grid levels; and its one-step sample against
  the exact ODE state at sigma_min. Its ``summary_rows(result)`` gives the summary table's CD
  row;
* :mod:`.collapse` -- CD without the boundary condition, traced over training (plain and
  boundary runs with weight decay, and a plain run without decay as the control);
* :mod:`.theorem1` -- the CD optimum's error against the grid size, per teacher solver;
* :mod:`.multistep` -- stochastic multistep consistency sampling, student and exact optimum;
* :mod:`.trajectories` -- points along teacher trajectories and where f sends them;
* :mod:`._shared` -- plot colours, :func:`train_student`, :func:`heldout`.

Grids are ascending as in :mod:`ideal_diffusion.distill.optima` (s_1 = sigma_min < ... <
s_N = sigma_max). Every sample is the state at s_1 = sigma_min and is compared with the exact
ODE state at sigma_min of the same noise (:func:`~ideal_diffusion.experiments.common.reference`).
"""
from __future__ import annotations

from . import collapse, multistep, student_vs_optimum, theorem1, trajectories
from ._shared import heldout, train_student

__all__ = ["collapse", "heldout", "multistep", "student_vs_optimum", "theorem1",
           "train_student", "trajectories"]
