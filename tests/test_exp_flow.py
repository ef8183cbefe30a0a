"""Facts of the flow / rectified-flow / progressive experiments (their Results, as the notebook
reports them): FM/VE agreement, the exact 2-rectified flow straighter than the 1-rectified one,
its paths bending only from starts outside its support (just beyond a line bundle's edge), the
progressive round-k optimum equal to the teacher's sampler, students within stated bounds of
their exact optima. The quick tests run a small Config; the default runs are ``slow``."""
from dataclasses import replace

import numpy as np
import pytest

from ideal_diffusion import sample
from ideal_diffusion.distill.progressive import PDOracle, pd_sample, round_grid
from ideal_diffusion.experiments import flow, progressive
from ideal_diffusion.experiments.common import ideal_denoiser, reference
from ideal_diffusion.nn import TrainConfig
from ideal_diffusion.schedules import sampling_grid

SMALL = replace(flow.Config(), n_ref=40, n_eval=4, n_path=4, n_pairs=200, n_edge=2,
                edge_steps=4, train=TrainConfig(steps=40, batch=64, lr=2e-3, warmup=5, seed=0))


@pytest.fixture(scope="module")
def small():
    return flow.run(SMALL)


def test_fm_ode_agrees_with_the_ve_pf_ode(small):
    assert small.fm_ve_rel_max <= 1e-8
    # the same paths: straight-ish in sigma (VE), bent in t (FM) -- coordinates matter
    assert small.chord_ve < small.chord_fm


def test_basin_oracle_at_the_loose_tolerance_matches_the_reference(small):
    assert small.basin_agree == SMALL.n_ref


def test_exact_2_rectified_flow_is_straighter_than_the_1_rectified(small):
    assert small.chord_2 <= 1e-12 and small.angle_2 <= 1e-12
    assert small.chord_1 > 0.05 and small.angle_1 > 0.05
    # straight paths: Euler on v2 gives the same sample at every NFE
    np.testing.assert_allclose(small.err_v2, small.err_v2[0], rtol=1e-9)


def test_2_rectified_paths_bend_only_from_outside_the_support(small):
    n = SMALL.n_edge
    assert np.all(small.edge_sep <= SMALL.edge_delta)
    inside, outside = slice(0, n), slice(n, 2 * n)
    assert small.edge_start_support[inside].all() and not small.edge_start_support[outside].any()
    assert np.all(small.edge_start_lines[inside] == 1)
    assert np.all(small.edge_chord[inside] <= 1e-12) and np.all(small.edge_angle[inside] <= 1e-12)
    assert np.all(small.edge_chord[outside] >= 1e-2) and np.all(small.edge_angle[outside] >= 0.1)
    # the outside starts are evaluated outside the support at least once (their first step)
    assert small.edge_outside >= n


@pytest.mark.parametrize("k", [1, 2, 3])
def test_pd_round_k_optimum_is_the_teachers_sampler(k):
    cfg = progressive.Config()
    S = sampling_grid(cfg.steps_teacher)
    D = ideal_denoiser(cfg.data)
    x_T = reference(cfg.data, 400, cfg.ref_seed).x_T[:64]
    teacher = sample(D, x_T, S, "euler")
    x = pd_sample(PDOracle(D, S, k), x_T, round_grid(S, k))
    assert np.max(np.linalg.norm(x - teacher, axis=1) / np.linalg.norm(teacher, axis=1)) <= 1e-12


@pytest.mark.slow
def test_default_flow_run_facts():
    r = flow.run()
    assert r.fm_ve_rel_max <= 1e-8 and r.basin_agree == r.cfg.n_ref
    assert r.chord_2 <= 1e-12 < r.chord_student < r.chord_1
    n = r.cfg.n_edge
    assert np.all(r.edge_chord[:n] <= 1e-12) and np.all(r.edge_chord[n:] >= 1e-2)
    # the reflow student: within 0.4 of its optimum (Euler on v2) at 1 step, 0.25 at 2 and 4
    assert r.err_student_to_v2[0] <= 0.4 and np.all(r.err_student_to_v2[1:] <= 0.25)
    assert r.teacher_evals_pairs > 0
    rows = flow.summary_rows()
    assert {row.nfe for row in rows} == {1, 2, 4}
    assert all(("reflow" in row.method) or ("Euler on the exact 2-rectified velocity" in
                                            row.method) for row in rows)
    assert all(f"first {r.cfg.n_eval}" in row.notes for row in rows)


@pytest.mark.slow
def test_default_progressive_run_facts():
    r = progressive.run()
    assert r.nfe.tolist() == [4, 2, 1]
    # every round's exact optimum is the teacher's 8-step Euler sample; students within 0.12
    assert np.all(r.err_optimum <= 0.12)
    assert r.teacher_err_exact < r.err_exact.min()
    assert r.cd_teacher_evals == r.teacher_evals
    rows = progressive.summary_rows()
    assert {row.nfe for row in rows} == {1, 2, 4}
    assert all("progressive" in row.method and row.err_optimum_median == r.teacher_err_exact
               for row in rows)
