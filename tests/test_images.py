"""Summary slide on the real digits: the exact optimum of the K-boundary CD loss is the teacher's
Heun chain along the grid, bit for bit, and lands on a training digit; the committed students'
samples are states at sigma_min with the NFE they claim."""
import numpy as np
import pytest

from ideal_diffusion.distill.mbcd import choose_boundaries
from ideal_diffusion.distill.optima import ConsistencyOracle, distill_grid, teacher_chain
from ideal_diffusion.distill.sampling import kjump_sample
from ideal_diffusion.experiments import images
from ideal_diffusion.experiments.common import ideal_denoiser, noise
from ideal_diffusion.metrics import nearest_point


@pytest.mark.parametrize("K", [2, 4])
def test_oracle_K_jumps_equal_the_teacher_chain_exactly(K):
    den = ideal_denoiser("digits")
    grid = distill_grid(18)
    b = choose_boundaries(grid, K)
    x_T = noise(64, 32, seed=3)
    jumps = kjump_sample(ConsistencyOracle(den, grid, "heun", b), x_T, grid, b)
    chain = teacher_chain(den, x_T, grid[-1], grid[0], grid, "heun")
    assert np.array_equal(jumps, chain)  # the same Heun steps in the same order: same bits
    _, dist = nearest_point(den.data, jumps)
    # at s_1 = 0.002 a state is a digit plus about 0.002 sqrt(64) = 0.016 of noise
    assert np.max(dist) < 0.05


@pytest.mark.slow
def test_ours_vs_teacher_rows():
    res = images.run(images.Config(data="digits", n=100))
    teacher, ours, opt = res.samplers[0], res.get("Ours, 4 steps"), res.get(
        "exact optimum, 4 jumps")
    assert teacher.nfe == 100 and ours.nfe == opt.nfe == 4
    assert teacher.quality.err_median < 0.05  # 50 Heun steps: next to the exact state
    assert opt.quality.err_median < 0.05  # the method's optimum: as good as the teacher
    plain = res.get("teacher Euler, 4 steps")
    # few-step diffusion without distillation at sigma_min: mostly another digit (or a blend)
    assert plain.quality.err_median > 1.0  # about a digit apart
    assert plain.quality.same_basin < teacher.quality.same_basin - 0.5
