"""Alembic environment: run on the connection (and inside the transaction) the store hands over."""

from __future__ import annotations

from alembic import context

from jupyter_mlops.store.migrations import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
