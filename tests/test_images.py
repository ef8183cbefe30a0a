"""Row 23 on glyph images: the committed 4-boundary CD student against the exact ODE/teacher.

The student is the committed checkpoint made by
``python -m ideal_diffusion.distill.exp_images --retrain``; the oracle and teacher are exact.
"""
import numpy as np
import pytest

from ideal_diffusion.distill.exp_images import (
    CHECKPOINT,
    CONFIG,
    compare,
    image_data,
    load_student,
    main,
)
from ideal_diffusion.distill.mbcd import choose_boundaries
from ideal_diffusion.distill.optima import ConsistencyOracle, distill_grid, teacher_chain
from ideal_diffusion.distill.sampling import kjump_sample
from ideal_diffusion.geometry import nearest_point
from ideal_diffusion.nn import load_checkpoint


def test_checkpoint_loads_and_matches_its_config():
    assert CHECKPOINT.exists() and CHECKPOINT.stat().st_size < 1_000_000  # package data, small
    res = load_student()
    c = res.config
    assert c == CONFIG  # the committed student is the documented experiment
    grid = distill_grid(c["N"])
    assert np.array_equal(res.grid, grid)  # ascending sigma values, s_1 = 0.002, s_N = 80
    assert np.array_equal(res.boundaries, choose_boundaries(grid, c["K"]))
    assert res.boundaries.size == 4 and res.boundaries[0] == grid[0]
    assert res.model.net.in_dim == c["size"] ** 2 and res.model.param.has_boundary
    _, raw = load_checkpoint(CHECKPOINT)
    assert raw["training_seed"] == c["seed"]


def test_load_refuses_a_mismatched_grid(tmp_path):
    import json

    with np.load(CHECKPOINT, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    cfg = json.loads(str(arrays["config"]))
    cfg["extra"]["boundaries"][1] *= 1.01
    arrays["config"] = np.array(json.dumps(cfg))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="boundaries"):
        load_student(tmp_path / "bad.npz")


def test_student_4_jumps_land_near_the_exact_ode_and_the_teacher():
    # 128 seeded noises (not the figure's): the student's 4 evaluations against the exact
    # PF-ODE endpoint and the teacher's 50 Heun steps (99 evaluations) of the same noise.
    cmp_ = compare(load_student(), n=128, seed=7)
    q = cmp_.quality["student"]
    # Scale: distinct digits are >= 5.2 apart (12x12 glyphs in [-1, 1]); the oracle's own
    # residual at s_1 = 0.002 is 0.024; an untrained student is ~6.9 away with 10% right.
    # The committed student measured, on the figure's 512 noises, median 0.088 to the exact
    # ODE and 94.5% same digit (0.077-0.098 and 94-97% on 128-noise sets, seeds 7-9).
    # Bounds: medians < 0.25 (below 1/20 of the digit spacing, ~2.5x the measurement), and a
    # fraction > 0.85: 4.5 binomial standard deviations (sqrt(.945 * .055 / 128) = 0.02) below.
    assert q.median_dist_to_exact < 0.25
    assert np.median(cmp_.to_teacher["student"]) < 0.25
    assert q.frac_same_basin > 0.85
    assert q.median_dist_to_data < 0.25  # it lands on a digit, not between digits
    # few-step diffusion without distillation, same noise: clearly more wrong digits
    assert cmp_.quality["plain"].frac_same_basin < q.frac_same_basin - 0.1
    assert cmp_.nfe["student"] == 4 and cmp_.nfe["teacher"] == 99


def test_oracle_4_jumps_equal_the_teacher_chain_exactly():
    data, den, grid = image_data()
    b = choose_boundaries(grid, 4)
    x_T = 80.0 * np.random.default_rng(3).standard_normal((64, data.d))
    oracle = ConsistencyOracle(den, grid, CONFIG["solver"], b)
    jumps = kjump_sample(oracle, x_T, grid, b)
    chain = teacher_chain(den, x_T, grid[-1], grid[0], grid, CONFIG["solver"])
    assert np.array_equal(jumps, chain)  # the same Heun steps in the same order: same bits
    idx, dist = nearest_point(data, jumps)
    assert np.max(dist) < 0.05  # at s_1 = 0.002: a digit plus 0.002 * O(sqrt(d)) noise


def test_retrain_command_runs_and_is_deterministic(tmp_path, capsys):
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for p in paths:
        assert main(["--retrain", "--steps", "3", "--out", str(p), "--no-eval"]) == 0
    assert "trained 3 steps" in capsys.readouterr().out
    (ma, ca), (mb, cb) = (load_checkpoint(p) for p in paths)
    assert ca == cb and ca["extra"]["experiment"]["steps"] == 3
    assert ma.net.theta.tobytes() == mb.net.theta.tobytes()  # same seed, same bits
    with pytest.raises(ValueError, match="steps"):
        main(["--retrain", "--steps", "0", "--out", str(tmp_path / "c.npz"), "--no-eval"])
