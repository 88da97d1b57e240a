"""The hub's tables (SQLAlchemy 2, typed).

Portable on purpose: no SQLite-only SQL, so the same models run on PostgreSQL. Times are stored
as timezone-aware UTC. Public ids are random strings; ``Item.seq`` is the feed order, allocated
from the ``counters`` row inside the publishing transaction so that on PostgreSQL too a reader
never sees seq N+1 committed before seq N (the row lock orders the commits). ``HistoryEvent.seq``
is read per member, so a member's batches take turns on the member's row instead
(``api._take_history_turn``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

#: Added to the hub's clock: zero in service. ``utcnow`` is the hub's one clock (token, link
#: and upload expiry, history times, publishing); tests set this to run a hub whose clock is off.
clock_offset = dt.timedelta(0)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + clock_offset


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every engine (SQLite keeps no zone: we store UTC and re-attach)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the hub database")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


#: A 64-bit key that grows with traffic (history events, sign-in attempts): BIGINT on
#: PostgreSQL, where INTEGER (and its SERIAL sequence) stops at 2**31 - 1; SQLite's INTEGER
#: PRIMARY KEY is 64-bit already, and must stay INTEGER to be the rowid.
BigKey = BigInteger().with_variant(Integer(), "sqlite")
#: The largest value of a 64-bit column (BIGINT, SQLite's INTEGER): a number from a request
#: that is compared with one (a feed or history cursor) must not be larger, or the database
#: driver fails the request instead of finding nothing.
MAX_BIGINT = 2**63 - 1


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON,
    }


class Counter(Base):
    """Named monotonic counters (``item_seq``); incremented under a row lock."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class KeyValue(Base):
    """Hub-wide values shared by all replicas, e.g. the key that signs download links."""

    __tablename__ = "hub_kv"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Member(Base):
    """A broadcaster (role ``member``) or the agency's staff (role ``agency``)."""

    __tablename__ = "members"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    role: Mapped[str] = mapped_column(String(16), default="member")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: when the account was last disabled (``alu-hub member disable``); None while it is enabled.
    #: The statistics judge a member's pledge only on the days it was a member (from
    #: ``created_at`` to this). None for members disabled before migration 0005.
    disabled_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Token(Base):
    """A sign-in session. Only the sha256 of the bearer token is stored."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    device: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    member: Mapped[Member] = relationship(lazy="joined")


class Item(Base):
    """A news item in the feed: an agency push or a member's shared upload. It is inserted only
    when all its renditions are in storage. Its files never change; the agency may correct its
    texts or withdraw it (``changes``): each change moves ``revision`` and takes the next
    ``change_seq`` (the ``item_change_seq`` counter, as ``seq`` is taken from ``item_seq``)."""

    __tablename__ = "items"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # push | member_upload
    title: Mapped[str] = mapped_column(String(500))
    slug: Mapped[str] = mapped_column(String(200), default="")
    dateline: Mapped[str] = mapped_column(String(200), default="")
    recorded_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    published_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: a member upload: when its last byte reached the hub (``Upload.received_at``), before the
    #: proxy was made and the item committed; the statistics count the upload on that day.
    #: None for pushes and for items published before migration 0005 (their ``published_at``
    #: counts).
    received_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    category: Mapped[str] = mapped_column(String(64), default="")
    region: Mapped[str] = mapped_column(String(64), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    language: Mapped[str] = mapped_column(String(8), default="en")
    priority: Mapped[str] = mapped_column(String(16), default="routine")
    restrictions: Mapped[str] = mapped_column(Text, default="")
    script: Mapped[str] = mapped_column(Text, default="")
    shotlist: Mapped[str] = mapped_column(Text, default="")
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    source_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    thumbnail_key: Mapped[str] = mapped_column(String(300), default="")
    #: The item as the feed serves it, URLs relative to the hub (``feed.item_json``); made in
    #: the publishing transaction. None for items published before migration 0004.
    feed_json: Mapped[str | None] = mapped_column(Text, default=None, deferred=True)
    #: 1 when published, one more at each correction or withdrawal (migration 0008)
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    corrected_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    #: what the agency said it corrected, the last time ("" when never corrected)
    correction_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: set once: a withdrawn item is never served again (its files: 410), nor counted
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: the change number of its last change (``GET /items/changes``); None: never changed
    change_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    source_member: Mapped[Member | None] = relationship(lazy="joined")
    renditions: Mapped[list[Rendition]] = relationship(
        lazy="selectin", order_by="Rendition.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_items_published_at", "published_at"),
        Index("ix_items_change_seq", "change_seq", unique=True),
    )


class Rendition(Base):
    """One file of an item: ``broadcast`` (as delivered) or ``proxy`` (small H.264 preview)."""

    __tablename__ = "renditions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    storage_key: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(100), default="video/mp4")
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("item_id", "name"),
        # a member upload is looked up by its bytes among every item's (``publish.on_network``)
        Index("ix_renditions_sha256", "sha256"),
    )


class Upload(Base):
    """A tus upload. Its bytes live in ``uploads/<id>``; its state here, so that every replica
    sees the same offset and the same owner."""

    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    length: Mapped[int | None] = mapped_column(BigInteger, default=None)  # None: deferred
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: ``Upload-Metadata`` as the client sent it, which a HEAD gives back unchanged (tus core:
    #: "as specified by the Client"); None for uploads created before migration 0011, whose
    #: HEAD encodes ``meta`` again
    meta_header: Mapped[str | None] = mapped_column(Text, default=None)
    #: tus concatenation: "" for a plain upload, "partial", or "final"
    concat: Mapped[str] = mapped_column(String(8), default="")
    #: for a final upload, the ids of its partial uploads in order
    parts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: receiving | processing | published | failed | terminated
    state: Mapped[str] = mapped_column(String(16), default="receiving")
    error: Mapped[str] = mapped_column(Text, default="")
    item_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: when all its bytes had arrived (set as it becomes ``processing``; an upload that was
    #: processing at the upgrade to 0005 takes the ``updated_at`` the first publish try finds:
    #: ``publish.complete_upload``); heartbeats, retries and a republish never move it
    received_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    expires_at: Mapped[dt.datetime] = mapped_column()
    #: a lease held by the request writing to this upload, visible to every replica
    lock_owner: Mapped[str] = mapped_column(String(64), default="")
    lock_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_uploads_member", "member_id"),
        Index("ix_uploads_expires", "expires_at"),
    )


#: the history's unique key: a member's event ids (migration 0006)
HISTORY_EVENT_KEY = "uq_history_member_event"


class HistoryEvent(Base):
    """What a member's workstation did (download_completed, upload_completed, …).

    ``event_id`` is made by the client, so a batch sent twice is stored once: once per member
    (another member's event of the same id is another event; unique across members, one member
    could drop another's events as duplicates, and learn which ids it had used). ``seq`` orders
    the member's history for its other workstations, which read it as a cursor: a batch is
    stored holding the member's row until it commits, so that a member's numbers commit in
    order (``api._take_history_turn``). ``occurred_at`` is the client's time
    corrected by the clock offset measured when the batch arrived (workstation clocks are
    wrong); ``received_at`` is the hub's own clock."""

    __tablename__ = "history"
    seq: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str | None] = mapped_column(String(32), default=None)
    rendition: Mapped[str] = mapped_column(String(32), default="")
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    occurred_at: Mapped[dt.datetime] = mapped_column()
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    device: Mapped[str] = mapped_column(String(200), default="")
    #: the random id of the data folder it came from (None: a client older than that)
    workstation: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        UniqueConstraint("member_id", "event_id", name=HISTORY_EVENT_KEY),
        Index("ix_history_member_seq", "member_id", "seq"),
        Index("ix_history_type_occurred", "type", "occurred_at"),
    )


class SignInAttempt(Base):
    """A sign-in that did not succeed, or is being checked, counted for rate limiting by every
    replica. ``key`` is the sha256 of the user name or of the client's address, never the text
    as typed (people type their password in the user field). Rows older than the window are
    deleted."""

    __tablename__ = "signin_attempts"
    id: Mapped[int] = mapped_column(BigKey, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column()

    __table_args__ = (
        Index("ix_signin_attempts_key_at", "key", "at"),
        Index("ix_signin_attempts_at", "at"),
    )


class AuditRecord(Base):
    """An action that changed the hub (``audit``): when (the hub's UTC clock), who (``actor``:
    an operator's OS user and host for ``via`` "cli", an agency account's user name for
    "api"), what (``action``, a short verb) to what (``target``: an item's id, a member's user
    name), and ``detail``: a short JSON object (a reason, the fields corrected), never a
    password, a token or a hash. Written in the action's own transaction."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(BigKey, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    via: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")

    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_target_at", "target", "at"),
    )
