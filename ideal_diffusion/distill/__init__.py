"""Distillation: the algorithms and their exact optima (no experiments live here).

* knowledge distillation: :func:`collect_pairs` (counted teacher pairs), :func:`train_kd`;
  its optimum is the teacher's own map (:func:`teacher_map`);
* consistency distillation: :func:`train_cd`; multi-boundary CD: :func:`train_mbcd`,
  :func:`choose_boundaries`; their optimum is the teacher chained along the grid
  (:class:`ConsistencyOracle`, :func:`consistency_optimum`); sampling: :func:`kjump_sample`,
  :func:`multistep_sample`;
* flow matching and rectified flow: :func:`fm_velocity`, :func:`rectified_velocity`,
  :func:`train_reflow`; progressive distillation: :func:`train_progressive`, :class:`PDOracle`;
* the diffusion (denoiser) student: :func:`train_denoiser_student`;
* saving a trained student: ``result.to_record()``, :func:`save_record`, :func:`load_record`,
  :func:`result_from_record` (the network, its EMA target, the loss history, the settings).

Grids: :func:`distill_grid` is ascending, s_1 = sigma_min < ... < s_N = sigma_max.
"""
from .cd import CDResult, train_cd
from .denoiser_student import DenoiserStudent, train_denoiser_student
from .flow import fm_velocity
from .kd import KDPairs, KDResult, collect_pairs, train_kd
from .mbcd import choose_boundaries, train_mbcd
from .optima import (
    ConsistencyOracle,
    consistency_optimum,
    distill_grid,
    teacher_chain,
    teacher_map,
    teacher_step,
)
from .progressive import PDOracle, train_progressive
from .records import StudentRecord, load_record, result_from_record, save_record
from .reflow import rectified_velocity, train_reflow
from .sampling import kjump_sample, multistep_sample

__all__ = [
    "CDResult", "ConsistencyOracle", "DenoiserStudent", "KDPairs", "KDResult", "PDOracle",
    "StudentRecord", "load_record", "result_from_record", "save_record",
    "choose_boundaries", "collect_pairs", "consistency_optimum", "distill_grid", "fm_velocity",
    "kjump_sample", "multistep_sample", "rectified_velocity", "teacher_chain", "teacher_map",
    "teacher_step", "train_cd", "train_denoiser_student", "train_kd", "train_mbcd",
    "train_progressive", "train_reflow",
]
