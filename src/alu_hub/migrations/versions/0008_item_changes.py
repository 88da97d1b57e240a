"""Items the agency corrects or withdraws

An item published with a mistake (restrictions, slug, script, dateline) can be corrected, and
one that must not be used (a legal problem, wrong footage, an embargo broken) withdrawn: the
item keeps its id and its place in the feed, ``revision`` counts its changes, and
``change_seq`` is its last change's number, from the ``item_change_seq`` counter, which
workstations read as a second cursor (``GET /api/v1/items/changes``). Items from before this
revision are at revision 1, never changed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 07:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COUNTER = "item_change_seq"


def upgrade() -> None:
    op.add_column("items", sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("items", sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "items", sa.Column("correction_note", sa.Text(), nullable=False, server_default="")
    )
    op.add_column("items", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "items", sa.Column("withdrawn_reason", sa.Text(), nullable=False, server_default="")
    )
    op.add_column("items", sa.Column("change_seq", sa.BigInteger(), nullable=True))
    op.create_index("ix_items_change_seq", "items", ["change_seq"], unique=True)
    counters = sa.table("counters", sa.column("name", sa.String()), sa.column("value"))
    op.execute(counters.insert().values(name=_COUNTER, value=0))


def downgrade() -> None:
    counters = sa.table("counters", sa.column("name", sa.String()))
    op.execute(counters.delete().where(counters.c.name == _COUNTER))
    op.drop_index("ix_items_change_seq", table_name="items")
    for column in (
        "change_seq",
        "withdrawn_reason",
        "withdrawn_at",
        "correction_note",
        "corrected_at",
        "revision",
    ):
        op.drop_column("items", column)
