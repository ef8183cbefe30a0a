"""Slide figures of flow-based approaches and progressive distillation.

Both read the cached runners of :mod:`ideal_diffusion.experiments.flow` and
:mod:`ideal_diffusion.experiments.progressive` (default Configs, "clusters" data).
"""
from __future__ import annotations

from ideal_diffusion.figures import register


@register("flow_reflow_paths", "'Moving towards fast DMs: 1. Flow based approaches': ideal "
          "flow matching (= the VE PF-ODE) bends; the exact 2-rectified flow is straight except "
          "from starts outside its support (just beyond a line bundle's edge); the reflow "
          "student is nearly straight")
def flow_reflow_paths():
    from ideal_diffusion.experiments import flow as E

    return E.plot(E.run())


@register("progressive_rounds", "'Distillation: ODE-based \"Progressive\"': per-round "
          "errors against the exact optimum (the teacher's N-step sampler) and the exact ODE")
def progressive_rounds():
    from ideal_diffusion.experiments import progressive as E

    return E.plot(E.run())
