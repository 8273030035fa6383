"""Fleet: one inventory over many engines and clusters (issue 12).

``config`` reads which sources exist (SOURCES_FILE or the single-source environment default);
the rest of the package keeps one live view per source and aggregates them for the service.
"""
