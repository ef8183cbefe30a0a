"""Experiments: one module per experiment (the packages :mod:`.motivation` and :mod:`.cd` hold
those of their lecture section), each a frozen ``Config`` that checks its fields when built
(:mod:`._checks`), a cached ``run(cfg) -> Result`` (the Result holds its ``config``) and
``plot(result, ...)``; a module with summary-table rows adds ``summary_config(data)`` and
``summary_rows(result)``, and a module with slide figures ends with ``FIGURES``, a tuple of
:class:`._figure.SlideFigure`. :mod:`.registry` lists every experiment module in gallery order:
the slide figures, the gallery ``figures/README.md`` and the summary's rows follow from it.
:mod:`.common` holds the shared data sets, noises, exact reference and measures."""
