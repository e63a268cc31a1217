"""Database access: one SQLAlchemy 2 (async) model set, one Alembic migration tree."""
