"""Change history: SQLAlchemy models, Alembic migrations, the recorder's diff/store, queries and webhooks.

The API reads through ``query.HistoryQueries``; the recorder (``python -m inventory.recorder``) is the only writer.
"""
