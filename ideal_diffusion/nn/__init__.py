"""Tiny neural networks with hand-written backprop, in NumPy (no autograd).

The students of the lecture are ``f_phi(x, sigma)``: an :class:`MLP` ``F`` wrapped by an output
parameterisation into a :class:`Model` ``f = c_skip x + c_out F(c_in x, sigma)``. This subpackage
knows nothing of diffusion data or teachers.

* layers: :class:`Linear`, :class:`SiLU`, :class:`ReLU`, :class:`SigmaEmbedding`
* :class:`MLP` -- flat parameter vector ``theta`` / gradient ``grad`` with named views
* parameterisations: :class:`EDMPrecond`, :class:`ConsistencyParam`, :class:`JumpParam`,
  :class:`PlainParam`; :class:`Model` combines one with a network
* optimisation: :class:`Adam`, :func:`lr_schedule`, :class:`EMA`; the one training setup:
  :func:`make_net` (the network factory), :class:`Optimiser` (Adam, schedule and EMA from a
  :class:`TrainConfig`), :func:`fit` (the loop)
* :func:`save_checkpoint` / :func:`load_checkpoint`; :func:`gradcheck`;
  :func:`blas_threads` (one BLAS thread for small networks)
"""
from .checkpoint import load_checkpoint, save_checkpoint
from .gradcheck import gradcheck
from .layers import Linear, ReLU, SigmaEmbedding, SiLU
from .mlp import MLP
from .optim import EMA, Adam, lr_schedule
from .param import ConsistencyParam, EDMPrecond, JumpEDMParam, JumpParam, Model, PlainParam
from .threads import blas_threads
from .train import DISPLAY_FIELDS, NET_DEFAULTS, Optimiser, TrainConfig, fit, make_net

__all__ = [
    "Linear", "SiLU", "ReLU", "SigmaEmbedding", "MLP",
    "EDMPrecond", "ConsistencyParam", "JumpParam", "JumpEDMParam", "PlainParam", "Model",
    "Adam", "lr_schedule", "EMA", "fit", "TrainConfig", "Optimiser", "make_net", "NET_DEFAULTS",
    "DISPLAY_FIELDS",
    "save_checkpoint", "load_checkpoint", "gradcheck", "blas_threads",
]
