"""Persistence: SQLAlchemy tables, migrations and the repositories that own all SQL."""
