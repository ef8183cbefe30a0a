"""Figure of KD's data hunger (lecture slide "Summary": KD "requires a lot of synthetic
samples"): a thin wrapper of :mod:`ideal_diffusion.experiments.kd_data`."""
from __future__ import annotations

from ideal_diffusion.experiments import kd_data as E
from ideal_diffusion.figures import register


@register("kd_data_hunger",
          "Summary: KD \"requires a lot of synthetic samples\": the one-step student's error "
          "vs the number of teacher pairs, at two network sizes")
def kd_data_hunger():
    return E.plot(E.run(E.Config()))
