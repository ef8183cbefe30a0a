"""A default student retrained from scratch, with the committed checkpoints hidden.

The committed checkpoints make figures fast, but a test that loads them cannot see a training
bug. Here the summary's multi-boundary CD student with K = 2 on the clusters (the default
config of ``experiments.mbcd``) is trained anew into an empty folder and measured against its
exact optimum in absolute terms: each jump, taken alone from the exact state at its segment's
top (every other jump exact), lands within 0.5 of the exact optimum's sample (the data's
clusters are about 1 apart; a student whose target jumped to s_1 instead of its segment's
boundary lands tens of units away), and the whole 2-jump sample within 0.5 too.
"""
from dataclasses import replace

import numpy as np
import pytest

from ideal_diffusion.distill.optima import ConsistencyOracle
from ideal_diffusion.experiments import mbcd, store
from ideal_diffusion.experiments._cache import clear_caches
from ideal_diffusion.experiments.common import ideal_denoiser, reference


@pytest.mark.slow
def test_default_mbcd_student_retrained_from_scratch(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "STORE_DIR", tmp_path)  # no committed student to load
    monkeypatch.delenv(store.SAVE_ENV, raising=False)
    clear_caches()
    cfg = replace(mbcd.summary_config("clusters"), Ks=(2,))
    res = mbcd.run(cfg)
    assert not list(tmp_path.iterdir())  # trained, not loaded (and not saved)
    run = res.runs[0]
    st = run.student
    orc = ConsistencyOracle(ideal_denoiser("clusters"), st.grid, st.solver, st.boundaries)
    x_T = reference("clusters", cfg.cd.n_test, cfg.cd.test_seed).x_T
    per_jump = mbcd.jump_errors(st, orc, x_T)
    assert per_jump.shape == (2,) and np.all(per_jump < 0.5), per_jump
    assert np.median(np.linalg.norm(run.sample - run.sample_oracle, axis=1)) < 0.5
    clear_caches()
