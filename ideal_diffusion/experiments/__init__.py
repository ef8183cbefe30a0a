"""Experiments: one module per lecture section, each a frozen ``Config``, ``run(cfg) -> Result``
and ``plot(result, ...)``; :mod:`.common` holds the shared data sets, noises, exact reference and
measures."""
