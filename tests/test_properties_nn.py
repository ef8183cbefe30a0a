"""Property tests (hypothesis) of the nn layer: checkpoint round trips and refusals."""
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ideal_diffusion.nn import (
    EMA,
    MLP,
    Adam,
    ConsistencyParam,
    EDMPrecond,
    JumpEDMParam,
    JumpParam,
    Model,
    PlainParam,
    TrainConfig,
    load_checkpoint,
    save_checkpoint,
)

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

positive = st.floats(min_value=1e-3, max_value=10.0, allow_nan=False)
params = st.one_of(
    st.builds(EDMPrecond, positive),
    st.builds(PlainParam, positive),
    *(st.builds(cls, st.floats(min_value=0.0, max_value=5.0), positive)
      for cls in (ConsistencyParam, JumpParam, JumpEDMParam)),
)


@FAST
@given(in_dim=st.integers(1, 5), hidden=st.integers(1, 24), depth=st.integers(1, 3),
       emb_half=st.integers(1, 6), activation=st.sampled_from(["silu", "relu"]),
       dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**32 - 1),
       scale=st.floats(min_value=1e-3, max_value=20.0), param=params,
       extra=st.dictionaries(st.text(min_size=1, max_size=5), st.integers(-10**6, 10**6),
                             max_size=3))
def test_checkpoint_round_trip_bit_for_bit(in_dim, hidden, depth, emb_half, activation, dtype,
                                           seed, scale, param, extra):
    net = MLP(in_dim, hidden=hidden, depth=depth, emb_dim=2 * emb_half, activation=activation,
              rng=seed, dtype=dtype)
    net.theta *= dtype(scale)
    rng = np.random.default_rng(seed)
    net.theta += rng.standard_normal(net.size).astype(dtype)  # biases nonzero too
    model = Model(net, param)
    x = rng.standard_normal((7, in_dim))
    sigma = (param.boundary or 0.0) + np.exp(rng.uniform(-3, 3, 7))
    with tempfile.TemporaryDirectory() as d:
        path = save_checkpoint(Path(d) / "m", model, **extra)
        loaded, cfg = load_checkpoint(path)
        assert sorted(p.name for p in Path(d).iterdir()) == ["m.npz"]
    assert loaded.net.theta.dtype == np.dtype(dtype)
    assert loaded.net.theta.tobytes() == net.theta.tobytes()
    assert loaded.param.config == param.config and cfg["extra"] == extra
    assert np.array_equal(loaded(x, sigma), model(x, sigma))


bad_real = st.one_of(st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.just("x"),
                     st.none())


def _error_for(value):
    """The one rule: a wrong type (a string, None) is a TypeError, a wrong value a ValueError."""
    return TypeError if value is None or isinstance(value, str) else ValueError


@FAST
@given(name=st.sampled_from(["lr", "eps", "weight_decay", "clip_norm"]),
       value=st.one_of(bad_real, st.floats(max_value=-1e-12), st.just(0.0)))
def test_adam_bad_input_names_the_argument(name, value):
    if (name == "weight_decay" and value == 0.0) or (name == "clip_norm" and value is None):
        return  # allowed: no decay, no clipping
    with pytest.raises(_error_for(value), match=name):
        Adam(np.zeros(3), **{name: value})


@FAST
@given(b=st.one_of(bad_real, st.floats(min_value=1.0), st.floats(max_value=-1e-12)),
       which=st.integers(0, 1))
def test_adam_bad_betas_name_the_argument(b, which):
    betas = [0.9, 0.999]
    betas[which] = b
    with pytest.raises(_error_for(b), match=rf"betas\[{which}\]"):
        Adam(np.zeros(3), betas=tuple(betas))


@FAST
@given(mu=st.one_of(bad_real, st.floats(min_value=1.0 + 1e-9), st.floats(max_value=-1e-12)))
def test_ema_bad_mu_names_the_argument(mu):
    with pytest.raises(_error_for(mu), match="mu"):
        EMA(np.zeros(3), mu)


_INT_FIELDS = {"steps": 1, "batch": 1, "warmup": 0, "seed": 0}
_REAL_FIELDS = ["lr", "ema", "weight_decay", "clip_norm", "max_param_rms", "loss_growth"]


@FAST
@given(field=st.sampled_from(sorted(_INT_FIELDS)), data=st.data())
def test_trainconfig_bad_integer_names_the_field(field, data):
    lo = _INT_FIELDS[field]
    value = data.draw(st.integers(max_value=lo - 1))
    with pytest.raises(ValueError, match=rf"^{field} must be an integer >= {lo}"):
        TrainConfig(**{field: value})
    wrong_type = data.draw(st.one_of(st.floats(allow_nan=True), st.just(True),
                                     st.text(max_size=3), st.none()))
    with pytest.raises(TypeError, match=rf"^{field} must be an integer >= {lo}"):
        TrainConfig(**{field: wrong_type})


@FAST
@given(field=st.sampled_from(_REAL_FIELDS), data=st.data())
def test_trainconfig_bad_real_names_the_field(field, data):
    out_of_range = {"lr": st.floats(max_value=0.0), "ema": st.floats(min_value=1.0 + 1e-9),
                    "weight_decay": st.floats(max_value=-1e-12),
                    "clip_norm": st.floats(max_value=0.0),
                    "max_param_rms": st.floats(max_value=0.0),
                    "loss_growth": st.floats(max_value=1.0)}[field]
    value = data.draw(st.one_of(out_of_range, st.just(math.nan), st.just(math.inf)))
    with pytest.raises(ValueError, match=rf"^{field} must be"):
        TrainConfig(**{field: value})
    wrong_type = data.draw(st.sampled_from(["x", "1e-3", True, None, 1j]))
    if field == "clip_norm" and wrong_type is None:
        return  # None means: no clipping
    with pytest.raises(TypeError, match=rf"^{field} must be a real number"):
        TrainConfig(**{field: wrong_type})
