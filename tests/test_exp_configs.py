"""The experiment contract and the experiment Configs' validation (issues 15 and 18).

Every experiment module exposes ``Config``, ``run``, ``plot`` and ``Result``; every Result in
``experiments/`` is built with keywords; a bad Config field fails at construction, before
anything is trained, with a TypeError (wrong type) or ValueError (wrong value) that names the
Config, the field and the allowed range. The hypothesis test throws random values at every
field of every Config.
"""
from __future__ import annotations

import ast
import dataclasses
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ideal_diffusion import distill
from ideal_diffusion.experiments import (
    animation,
    boundaries,
    flow,
    images,
    kd,
    mbcd,
    motivation,
    progressive,
    registry,
    summary,
    teachers,
)
from ideal_diffusion.experiments.cd import (
    collapse,
    multistep,
    student_vs_optimum,
    theorem1,
    trajectories,
)
from ideal_diffusion.nn import TrainConfig

EXPERIMENTS = [kd, mbcd, boundaries, flow, progressive, images, animation, teachers,
               student_vs_optimum, collapse, theorem1, multistep, trajectories]
MOTIVATION = [motivation.two_delta_averaging, motivation.few_step_two_deltas,
              motivation.curved_trajectories, motivation.error_vs_steps,
              motivation.steps_comparison, motivation.image_denoiser_track,
              motivation.denoiser_student, motivation.student_vs_ideal]
#: every experiment's Config: those of the registry (a new experiment is covered by itself)
CONFIGS = list(dict.fromkeys(m.Config for m in registry.MODULES))
#: trained students (CDResult, ...), every class the distill layer defines (re-exported or not):
#: not experiment results
DISTILL_NAMES = set(distill.__all__) | {
    node.name for path in (Path(distill.__file__).parent).glob("*.py")
    for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef)}
EXP_DIR = Path(__file__).resolve().parent.parent / "ideal_diffusion" / "experiments"


def _name(cls) -> str:
    return f"{cls.__module__.removeprefix('ideal_diffusion.')}.{cls.__name__}"


# ----------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("mod", registry.MODULES, ids=lambda m: m.__name__)
def test_every_experiment_module_has_config_run_plot_result(mod):
    assert dataclasses.is_dataclass(mod.Config) and mod.Config.__dataclass_params__.frozen
    assert callable(mod.run) and callable(mod.plot)
    result = getattr(mod, "Result", None) or getattr(mod, "SummaryResult", None)
    assert dataclasses.is_dataclass(result)
    assert "config" in {f.name for f in dataclasses.fields(result)}, "a Result holds its config"


def test_summary_registry_is_modules_with_the_row_contract():
    rows = summary.row_modules()
    assert rows
    for mod in rows:
        assert callable(mod.summary_config) and callable(mod.summary_rows), mod.__name__
    # the table's row order (figures/summary.csv, and the summary figure's colours): the
    # lecture's methods in this order (a new method joins at its place in the registry), and
    # reflow, a new ODE rather than a student of the teacher's, last
    lecture = (kd, student_vs_optimum, mbcd, boundaries, progressive, flow)
    assert tuple(m for m in rows if m in lecture) == lecture and rows[-1] is flow
    # a module without rows for a data set says so with None, before anything is trained
    assert flow.summary_config("digits") is None and progressive.summary_config("digits") is None
    assert kd.summary_config("ring").data == "ring"
    assert mbcd.summary_config("ring").cd.data == "ring"


def _result_calls(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) \
                else ""
            if name.endswith("Result") and name not in DISTILL_NAMES:  # experiment results
                yield name, node


@pytest.mark.parametrize("path", sorted(EXP_DIR.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(EXP_DIR)))
def test_results_in_split_modules_are_built_with_keywords(path):
    for name, call in _result_calls(path):
        assert not call.args, f"{path.name}:{call.lineno} builds {name} positionally"


# ----------------------------------------------------------------------------- regressions


def _raises(exc, field: str, *fragments, **kwargs):
    """``pytest.raises`` whose message must name ``field`` and contain ``fragments``."""
    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(exc)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *a):
            out = self.ctx.__exit__(*a)
            msg = str(self.info.value)
            assert f".{field} must be" in msg, msg
            for frag in fragments:
                assert frag in msg, (frag, msg)
            return out
    return _Check()


def test_sizes_below_one_are_refused_with_the_range():
    with _raises(ValueError, "n_test", "experiments.kd.Config", ">= 1", "got 0"):
        kd.Config(n_test=0)
    with _raises(ValueError, "n_pairs", ">= 1", "got -3"):
        flow.Config(n_pairs=-3)
    with _raises(ValueError, "hidden", ">= 1"):
        student_vs_optimum.Config(hidden=0)
    with _raises(ValueError, "n_traj"):
        trajectories.Config(n_traj=-1)
    with _raises(ValueError, "K", ">= 1"):
        images.Config(K=0)
    with _raises(ValueError, "n_noises"):
        motivation.few_step_two_deltas.Config(n_noises=0)


def test_eval_levels_outside_the_grid_fail_at_construction():
    with _raises(ValueError, "eval_levels[1]", "in [0, 9]", "got -2"):
        student_vs_optimum.Config(N=10, eval_levels=(3, -2))
    with _raises(ValueError, "eval_levels[0]", "in [0, 5]", "got 6"):
        student_vs_optimum.Config(N=6, eval_levels=(6,))
    with _raises(ValueError, "eval_levels", "length >= 1"):
        student_vs_optimum.Config(eval_levels=())
    # the widest valid levels are accepted and used as given
    assert student_vs_optimum.Config(N=6, eval_levels=(0, 5)).levels == (0, 5)


def test_a_bad_field_never_reaches_training(monkeypatch):
    """``replace`` builds a new Config, so it validates too: run is never entered."""
    def boom(*a, **k):
        raise AssertionError("trained with a bad Config")

    monkeypatch.setattr(student_vs_optimum, "train_student", boom)
    small = student_vs_optimum.Config(N=8, hidden=8, depth=1)
    with _raises(ValueError, "eval_levels[0]", "in [0, 7]"):
        student_vs_optimum.run(replace(small, eval_levels=(8,)))
    with _raises(ValueError, "n_eval"):
        student_vs_optimum.run(replace(small, n_eval=0))


def test_containers_of_the_wrong_kind_are_type_errors():
    with _raises(TypeError, "Ns", "tuple"):
        theorem1.Config(Ns={16: 1, 32: 2})
    with _raises(TypeError, "Ks", "tuple"):
        mbcd.Config(Ks=[1, 2])
    with _raises(TypeError, "steps", "tuple"):
        flow.Config(steps=np.array([1, 2]))
    with _raises(TypeError, "eval_levels", "tuple"):
        student_vs_optimum.Config(eval_levels={"a": 2})


def test_wrong_scalar_types_are_type_errors():
    with _raises(TypeError, "hidden", "integer"):
        kd.Config(hidden=64.0)
    with _raises(TypeError, "n_eval", "integer"):
        flow.Config(n_eval=True)  # a bool is not a size
    with _raises(TypeError, "cd_contrast", "True or False"):
        progressive.Config(cd_contrast=1)
    with _raises(TypeError, "data", "one of"):
        kd.Config(data=3)
    with _raises(TypeError, "train", "TrainConfig"):
        kd.Config(train={"steps": 10})
    with _raises(TypeError, "cd", "Config"):
        multistep.Config(cd=kd.Config())
    with _raises(TypeError, "sigma_data", "real"):
        kd.Config(sigma_data="0.5")


def test_wrong_values_name_the_allowed_set_or_range():
    with _raises(ValueError, "data", "clusters", "'moons'"):
        flow.Config(data="moons")
    with _raises(ValueError, "solver", "euler", "heun"):
        student_vs_optimum.Config(solver="dpmpp_2m")  # not a CD teacher solver
    with _raises(ValueError, "sigma_data", "finite"):
        kd.Config(sigma_data=float("nan"))
    with _raises(ValueError, "edge_delta", "> 0"):
        flow.Config(edge_delta=0.0)
    with _raises(ValueError, "weight", "(0, 1)"):
        motivation.two_delta_averaging.Config(weight=1.0)
    with _raises(ValueError, "mixture", "clusters"):
        motivation.curved_trajectories.Config(mixture="digits")  # the paths are drawn in the plane


def test_fields_that_depend_on_other_fields():
    with _raises(ValueError, "sample_level", "in [0, 5]", "got 6"):
        collapse.Config(sample_level=6)  # cd.levels has six entries
    with _raises(ValueError, "Ks[1]", "in [1, 4]", "got 5"):
        mbcd.Config(cd=student_vs_optimum.Config(N=5), Ks=(1, 5))
    with _raises(ValueError, "K", "in [1, 3]"):
        student_vs_optimum.Config(N=4, K=4)
    with _raises(ValueError, "max_steps", "in [1, 5]"):
        multistep.Config(cd=student_vs_optimum.Config(N=6), max_steps=6)
    with _raises(ValueError, "steps_teacher", "power of 2"):
        progressive.Config(steps_teacher=12)
    with _raises(ValueError, "n_eval", "in [1, 30]"):
        flow.Config(n_ref=30, n_eval=31)
    with _raises(ValueError, "show", "in [1, 5]"):
        images.Config(n=5, show=6)
    with _raises(ValueError, "n_track", "in [1, 20]"):
        teachers.Config(n=20, n_track=21)
    with _raises(ValueError, "Ns", "two different"):
        theorem1.Config(Ns=(32, 32))
    with _raises(ValueError, "sigma_hi", "> 0.5"):
        motivation.student_vs_ideal.Config(sigma_lo=0.5, sigma_hi=0.5)


def test_numpy_scalars_are_numbers_and_configs_stay_cache_keys():
    cfg = kd.Config(n_pairs=np.int64(512), sigma_data=np.float32(0.25))
    assert cfg == kd.Config(n_pairs=512, sigma_data=0.25)  # stored as given, compares equal
    assert hash(cfg) == hash(kd.Config(n_pairs=512, sigma_data=0.25))


# ----------------------------------------------------------------------------- properties

#: the values thrown at a field: valid-looking and hostile, of every type
VALUES = st.one_of(
    st.integers(-10, 10), st.integers(-2**70, 2**70), st.booleans(), st.none(),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-5, 5),
    st.text(max_size=8), st.sampled_from(["clusters", "digits", "ring", "glyphs", "heun",
                                          "euler", "dpmpp_2m", "jump_edm", "cout", "../x"]),
    st.integers(-3, 300).map(np.int64), st.floats(-3, 3).map(np.float64),
    st.lists(st.integers(-2, 40), max_size=4),
    st.lists(st.integers(-2, 40), max_size=4).map(tuple),
    st.lists(st.floats(-1, 90), max_size=4).map(tuple),
    st.lists(st.sampled_from(["euler", "heun", "dpmpp_2m", "x"]), max_size=3).map(tuple),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.builds(TrainConfig, steps=st.integers(1, 9)),
)
NAMES = st.sampled_from(["clusters", "digits", "ring", "glyphs", "heun", "euler", "dpmpp_2m",
                         "consistency", "jump_edm", "plain", "cout", "uniform", "moons", ""])


def _like(default):
    """Values of the default's own kind (often valid; 2 draws in 3), or anything
    (:data:`VALUES`)."""
    if isinstance(default, bool):
        own = st.booleans()
    elif isinstance(default, int):
        own = st.integers(-2, 40)
    elif isinstance(default, float):
        own = st.floats(-1.0, 100.0)
    elif isinstance(default, str):
        own = NAMES
    elif isinstance(default, tuple) and default:
        item = _like(default[0])
        own = st.lists(item, max_size=5).map(tuple)
    elif default is None:  # an optional tuple (eval_levels)
        own = st.one_of(st.none(), st.lists(st.integers(-2, 40), max_size=5).map(tuple))
    elif isinstance(default, TrainConfig):
        own = st.builds(TrainConfig, steps=st.integers(1, 9))
    elif dataclasses.is_dataclass(default):
        own = st.just(default)
    else:
        own = st.nothing()
    return st.integers(0, 2).flatmap(lambda k: own if k else VALUES)


FIELD_MSG = re.compile(r"(\w+)\.(\w+)(?:\[\d+\])? must be ")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: _name(c))
def test_random_fields_construct_or_fail_naming_a_field(cls, data):
    """Any values in 1-3 fields: the Config is built (and is a hashable cache key holding the
    values as given) or refused with TypeError/ValueError naming a field of this Config --
    the changed field itself when the value has the wrong type. Never another exception."""
    fields = [f.name for f in dataclasses.fields(cls)]
    k = data.draw(st.integers(1, min(3, len(fields))), label="fields changed")
    chosen = data.draw(st.permutations(fields), label="fields")[:k]
    default = cls()
    changes = {f: data.draw(_like(getattr(default, f)), label=f) for f in chosen}
    try:
        cfg = cls(**changes)
    except (TypeError, ValueError) as e:
        event(f"refused ({type(e).__name__})")
        msg = str(e)
        m = FIELD_MSG.search(msg)
        assert m is not None, f"message names no field: {msg!r}"
        assert m.group(1) == cls.__name__ and m.group(2) in fields, msg
        # the changed field, or (a value error) a field whose range the change moved
        assert m.group(2) in chosen or (type(e) is ValueError and m.group(2) in _DEPENDENT), msg
        return
    event("built")
    hash(cfg)
    for f, v in changes.items():
        got = getattr(cfg, f)
        assert got is v or got == v or (isinstance(v, float) and math.isnan(v)), (f, v, got)


#: fields whose valid range depends on other fields (their message may name them instead)
_DEPENDENT = {"K", "eval_levels", "sample_level", "Ks", "max_steps", "n_eval", "n_edge", "n_track",
              "show", "n_shown", "shown_steps", "image_solvers", "fit_min_steps", "sigma_hi"}

