"""Experiments: one module per experiment (the packages :mod:`.motivation` and :mod:`.cd` hold
those of their lecture section), each a frozen ``Config`` that checks its fields when built
(:mod:`._checks`), a cached ``run(cfg) -> Result`` (the Result holds its ``config``) and
``plot(result, ...)``; a module with summary-table rows adds ``summary_config(data)`` and
``summary_rows(result)``. :mod:`.common` holds the shared data sets, noises, exact reference and
measures."""
