"""Training-loop helper: run a step function, show the loss, stop on a non-finite loss."""
from __future__ import annotations

import math
import sys

import numpy as np

__all__ = ["fit"]


def _interactive() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def fit(step_fn, n_steps, progress=None, desc="", postfix_every=10) -> np.ndarray:
    """Call ``step_fn(step)`` for ``step = 0 .. n_steps - 1`` and collect the losses.

    Parameters
    ----------
    step_fn : callable
        ``step_fn(step) -> float``: one optimisation step (draw a seeded batch, forward,
        backward, optimiser update) returning the batch loss.
    n_steps : int, >= 0
    progress : bool or None
        Show a tqdm bar with the running loss. None (default) means: only when stderr is an
        interactive terminal.
    desc : str
        Bar label.
    postfix_every : int
        Update the loss shown on the bar every this many steps.

    Returns
    -------
    history : (n_steps,) float64 array
        The loss of every step.

    Raises
    ------
    FloatingPointError
        When a loss is NaN or infinite; the message names the step and the last finite loss.
    """
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0, got {n_steps!r}")
    n_steps = int(n_steps)
    show = _interactive() if progress is None else bool(progress)
    history = np.empty(n_steps, dtype=np.float64)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, desc=desc, leave=False, dynamic_ncols=True)
    last_ok = (None, math.nan)
    try:
        for step in range(n_steps):
            loss = float(step_fn(step))
            if not math.isfinite(loss):
                prev = ("no finite loss before it" if last_ok[0] is None
                        else f"last finite loss {last_ok[1]:.6g} at step {last_ok[0]}")
                raise FloatingPointError(
                    f"{desc + ': ' if desc else ''}loss became non-finite ({loss}) at step {step} "
                    f"({prev}); lower the learning rate or enable clip_norm")
            history[step] = loss
            last_ok = (step, loss)
            if bar is not None:
                if step % postfix_every == 0 or step == n_steps - 1:
                    bar.set_postfix_str(f"loss={loss:.4g}", refresh=False)
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return history
