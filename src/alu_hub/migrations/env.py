"""Alembic environment: runs on the hub's own engine (``Database.alembic_config``)."""

from alembic import context

from alu_hub.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # `alembic` run by hand with a URL
    from alu_hub.db import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
