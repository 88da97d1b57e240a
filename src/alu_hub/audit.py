"""The audit trail: who changed the hub, how, and when (the ``audit`` table, migration 0009).

Every action that changes the hub writes one record with ``record`` in the action's own
session, so that it commits with the action or not at all: the operator's commands
(``cli_actor``: the OS user and the host) and the agency's API calls (``api_actor``: the agency
account). A record's ``detail`` is a short JSON object of what an operator asks afterwards (a
reason, the fields corrected, how many sign-ins ended): never a password, a token or a hash,
and ``record`` refuses keys that name one.

It is a record, not a proof: whoever may write to the hub's database may change it, and the
CLI's user name is what the environment says (``getpass.getuser``).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditRecord, Item, Member, utcnow

#: The actions recorded (``record`` refuses others: a name nobody can filter on is a mistake).
ACTIONS = (
    "publish",
    "item_withdraw",
    "item_correct",
    "member_add",
    "member_edit",
    "member_remove",
    "member_password",
    "member_disable",
    "member_enable",
    "member_signout",
    "member_unlock",
)
#: What a detail's key may not name: a secret has no place in the trail.
_SECRET_WORDS = ("password", "token", "hash", "secret", "key")
#: The longest text of a detail's value kept (a withdrawal's reason is at most 2,000).
DETAIL_TEXT_LIMIT = 2000


@dataclass(frozen=True)
class Actor:
    """Who acts: ``via`` "cli" (``name``: user@host) or "api" (``name``: the account)."""

    via: str
    name: str


def cli_actor() -> Actor:
    """The operator running this command: the OS user (and the one ``sudo`` was run by) at
    this host."""
    try:
        user = getpass.getuser()
    except Exception:  # (no USER/LOGNAME and no passwd entry: a container's bare uid)
        user = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
    sudo = os.environ.get("SUDO_USER", "")
    if sudo and sudo != user:
        user = f"{user} (sudo by {sudo})"
    host = socket.gethostname() or "unknown host"
    return Actor("cli", f"{user}@{host}"[:200])


def api_actor(member: Member) -> Actor:
    """An agency account acting through the API."""
    return Actor("api", member.username[:200])


def record(
    s: Session,
    actor: Actor,
    action: str,
    target: str,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Add the record of ``action`` on ``target`` to ``s``, the session of the action itself:
    it commits with it, or rolls back with it."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to audit.ACTIONS")
    detail = dict(detail or {})
    for k in detail:
        if any(word in k.lower() for word in _SECRET_WORDS):
            raise ValueError(f"audit detail {k!r} may name a secret: it is never recorded")
    text = {
        k: _text(v)[:DETAIL_TEXT_LIMIT] if isinstance(v, str) else v
        for k, v in sorted(detail.items())
    }
    s.add(
        AuditRecord(
            at=utcnow(),
            via=actor.via,
            actor=actor.name[:200],
            action=action,
            target=target[:200],
            detail=json.dumps(text, ensure_ascii=False, separators=(",", ":")),
        )
    )


def _text(value: str) -> str:
    """``value`` as UTF-8 can hold it: a file name that is not UTF-8 (``os.fsdecode``'s
    surrogates, "caf\udce9.mp4") with U+FFFD for its bytes, as its rendition's name is kept
    (the database refused the record, and with it the publish)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


def recorded_publish(
    also: Callable[[Session, Item], None] | None, actor: Actor, filename: str, force: bool
) -> Callable[[Session, Item], None]:
    """A publish's ``also`` (``publish.commit``) that runs ``also`` and then records the
    publication, in the transaction that puts the item in the feed."""

    def both(s: Session, item: Item) -> None:
        if also is not None:
            also(s, item)
        detail = {"seq": item.seq, "title": item.title, "file": filename, "force": force}
        record(s, actor, "publish", item.id, detail)

    return both


def records(
    s: Session,
    start: dt.datetime,
    end: dt.datetime,
    *,
    action: str | None = None,
    targets: tuple[str, ...] = (),
) -> list[AuditRecord]:
    """The records of ``[start, end)``, newest first; of one action, of these targets."""
    q = select(AuditRecord).where(AuditRecord.at >= start, AuditRecord.at < end)
    if action:
        q = q.where(AuditRecord.action == action)
    if targets:
        q = q.where(AuditRecord.target.in_(targets))
    return list(s.scalars(q.order_by(AuditRecord.at.desc(), AuditRecord.id.desc())))
