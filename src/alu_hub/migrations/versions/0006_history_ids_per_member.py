"""History event ids unique per member, not across members

``history.event_id`` was unique across the whole table: member A posting an id first made
member B's event of that id "a duplicate" (B's workstation marked it sent, the hub never stored
it, B's statistics never counted it), and let A test whether B had used an id. An id is now
unique per member: the key is ``(member_id, event_id)``. The rows stay as they are (they are
unique by ``event_id`` alone, so by the pair too).

Downgrade: the rows a member stored with an id another member had used first are deleted (the
older hub refused them as duplicates), then ``event_id`` is unique again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: the new key (``models.HISTORY_EVENT_KEY``)
KEY = "uq_history_member_event"
#: 0001 made ``UNIQUE (event_id)`` without a name: PostgreSQL calls it so, SQLite not at all
#: (batch mode names it by this convention to drop it)
OLD_KEY_POSTGRESQL = "history_event_id_key"
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _names(column: str) -> dict[str, str]:
    return {"table_name": "history", "column_0_name": column}


def _unique_on(columns: list[str]) -> str:
    """The name of the history table's unique constraint on exactly ``columns`` (SQLite: the
    naming convention's name for one without a name)."""
    for uq in sa.inspect(op.get_bind()).get_unique_constraints("history"):
        if list(uq["column_names"]) == columns:
            return uq["name"] or NAMING["uq"] % _names(columns[0])
    raise RuntimeError(f"the history table has no unique key on {', '.join(columns)}")


def upgrade() -> None:
    old = _unique_on(["event_id"])
    # SQLite: the table is copied without the old key and with the new one, in one go
    with op.batch_alter_table("history", naming_convention=NAMING) as batch:
        batch.drop_constraint(old, type_="unique")
        batch.create_unique_constraint(KEY, ["member_id", "event_id"])


def downgrade() -> None:
    history = sa.table("history", sa.column("seq"), sa.column("event_id"))
    first = sa.alias(history, "first")
    op.execute(
        history.delete().where(
            sa.exists().where(first.c.event_id == history.c.event_id, first.c.seq < history.c.seq)
        )
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("history") as batch:
        batch.drop_constraint(KEY, type_="unique")
        # PostgreSQL: the name 0001's gets there; SQLite: the one upgrade() gives it
        name = OLD_KEY_POSTGRESQL if postgresql else NAMING["uq"] % _names("event_id")
        batch.create_unique_constraint(name, ["event_id"])
