"""Slide figures of flow-based approaches and progressive distillation.

Both read the cached runners of :mod:`ideal_diffusion.experiments.flow` and
:mod:`ideal_diffusion.experiments.progressive` (default Configs, "clusters" data).
"""
from __future__ import annotations

from ideal_diffusion.figures import register


@register("flow_reflow_paths", "row 11: 'Moving towards fast DMs' (flow based): ideal flow "
          "matching (= the VE PF-ODE) bends; the exact 2-rectified flow and a reflow student are "
          "straight")
def flow_reflow_paths():
    from ideal_diffusion.experiments import flow as E

    return E.plot(E.run())


@register("progressive_rounds", "row 14b: 'Distillation: ODE-based Progressive': per-round "
          "errors against the exact optimum (the teacher's N-step sampler) and the exact ODE")
def progressive_rounds():
    from ideal_diffusion.experiments import progressive as E

    return E.plot(E.run())
