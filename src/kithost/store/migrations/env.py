"""Alembic environment: kithost always hands it an open connection (see ``store/migrate.py``)."""

from alembic import context

from kithost.store.tables import compared, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `kithost migrate`; it supplies the connection.")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    include_name=compared,
)
with context.begin_transaction():
    context.run_migrations()
