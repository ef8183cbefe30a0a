"""The KD learning-curve experiment: nested pair sets, counted teacher evaluations, CIs."""
import numpy as np
import pytest

from ideal_diffusion.experiments import kd_data as E
from ideal_diffusion.nn import TrainConfig

SMALL = E.Config(n_pairs=(32, 64), nets=((4, 1), (8, 2)), steps=4, n_test=30, n_boot=200,
                 train=TrainConfig(steps=15, batch=16, lr=5e-3, warmup=2, progress=False))


def test_small_run_counts_and_shapes():
    r = E.run(SMALL)
    assert r.config is SMALL
    assert r.nfe == 8  # Heun, 4 steps to sigma_min: 2 evaluations per step
    np.testing.assert_array_equal(r.teacher_evals, [32 * 8, 64 * 8])
    assert r.err.shape == r.err_to_teacher.shape == r.same_basin.shape == (2, 2)
    assert r.errors.shape == (2, 2, 30)
    np.testing.assert_allclose(np.median(r.errors, axis=2), r.err)
    for c in r.more_data + r.bigger_net:
        assert c.lo <= c.diff <= c.hi and c.n == 30
    # a comparison of a sampler with itself is a tie with a zero-width interval
    assert r.vs_most[0][-1].diff == 0 and r.vs_most[0][-1].verdict == "ties with"
    text = r.explain()
    assert "clusters" in text and "32" in text and "64" in text


@pytest.mark.parametrize("bad", [dict(data="digits"), dict(n_pairs=(64, 32)), dict(n_pairs=(8,)),
                                 dict(nets=((8,),)), dict(nets=()), dict(solver="rk4"),
                                 dict(n_test=1), dict(steps=0)])
def test_config_validation(bad):
    with pytest.raises(ValueError):
        E.Config(**bad)


def test_train_must_be_a_trainconfig():
    with pytest.raises(TypeError, match="train"):
        E.Config(train={"steps": 3})
