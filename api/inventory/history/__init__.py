"""Change history, the read side: SQLAlchemy models, the database and its Alembic migrations, the change vocabulary
both directions share (``records``), and the read API (``query``, ``params``, ``views``, ``openapi``).

The API reads through ``query.HistoryQueries``; the recorder (``inventory.recorder``, ``python -m inventory.recorder``)
is the only writer and sits above this package: nothing here imports it.
"""
