"""The operator's member chores beyond adding one (``alu-hub member edit|remove|sessions`` and
``signout --session``), and the sign-ins they end, told apart: a workstation's (the desktop
client's ``POST /api/v1/session``) and an agency account's stats page (its cookie, whose token
row has the device ``STATS_PAGE_DEVICE`` + the browser's user agent).

What a sign-in row records (``models.Token``): its device, when it was made, when it expires,
when it was ended. The hub writes nothing per request, so the time a workstation "last used" a
sign-in is the last history it sent under that device name since the sign-in was made
(``HistoryEvent.received_at``; a workstation sends its history as it works): none for a
sign-in that has sent nothing yet, and for the stats page.

The command-line side (options, opening the hub, the one-line refusals) stays in ``cli``; the
functions here take the opened hub and raise ``Refusal`` with the line to say.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from . import audit
from .devicename import one_line, stored
from .hub import Hub
from .models import HistoryEvent, Item, Member, SignInAttempt, Token, Upload, utcnow
from .signin import user_key

#: The start of the device of a stats-page sign-in (``web.routes.sign_in``).
STATS_PAGE_DEVICE = "stats page · "

#: Upload states that are no work of the member's any more (their bytes are gone or going).
_SPENT_UPLOADS = ("terminated", "expired")


class Refusal(Exception):
    """What the chore cannot do, in one line; ``status`` as ``cli.Refused``'s."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def kind_of(device: str) -> str:
    """``stats page`` or ``workstation``: which sort of sign-in a token row is."""
    return "stats page" if device.startswith(STATS_PAGE_DEVICE) else "workstation"


@dataclass(frozen=True)
class Ended:
    """Sign-ins ended, by sort."""

    workstations: int = 0
    stats_pages: int = 0

    def __bool__(self) -> bool:
        return bool(self.workstations or self.stats_pages)

    def words(self) -> str:
        """``1 workstation sign-in and 1 stats-page session``; "" for none."""
        parts = []
        if self.workstations:
            s = "s" if self.workstations != 1 else ""
            parts.append(f"{self.workstations} workstation sign-in{s}")
        if self.stats_pages:
            s = "s" if self.stats_pages != 1 else ""
            parts.append(f"{self.stats_pages} stats-page session{s}")
        return " and ".join(parts)


def _live(member_id: int, now: dt.datetime) -> Any:
    return (Token.member_id == member_id) & Token.revoked_at.is_(None) & (Token.expires_at > now)


def end_signins(s: Session, member_id: int, token_id: int | None = None) -> Ended:
    """Revoke the member's live sign-ins (or the one ``token_id``): its workstations must sign
    in again, its stats page too (serving processes see it within ``auth.TOKEN_CACHE_S``).
    Those expired already are no one's sign-in: neither revoked nor counted (an operator reads
    the figure as how many workstations a stolen password still reached)."""
    now = utcnow()
    live = _live(member_id, now)
    if token_id is not None:
        live = live & (Token.id == token_id)
    stats_page = Token.device.startswith(STATS_PAGE_DEVICE, autoescape=True)
    counts = []
    for which in (~stats_page, stats_page):
        ended = s.execute(update(Token).where(live, which).values(revoked_at=now))
        counts.append(int(cast(CursorResult[Any], ended).rowcount))
    return Ended(*counts)


def find(s: Session, name: str) -> Member:
    m = s.execute(select(Member).where(Member.username == name)).scalar_one_or_none()
    if m is None:
        raise Refusal(f"there is no member named {name!r} (see alu-hub member list).")
    return m


def no_agency_left(s: Session) -> str:
    """A sentence for the operator when no enabled agency account is left (else ""): nobody
    can then withdraw or correct an item through the API, nor open the stats page."""
    left = s.scalar(select(func.count()).where(Member.role == "agency", Member.active.is_(True)))
    if left:
        return ""
    return (
        " No enabled agency account is left: nobody can withdraw or correct an item through "
        "the API nor open the stats page until one is added (alu-hub member add NAME --role "
        "agency) or enabled."
    )


# --- edit ------------------------------------------------------------------------------------


def edit(
    hub: Hub, name: str, display_name: str | None, country: str | None, actor: audit.Actor
) -> str:
    """Change a member's display name and/or country (checked by the caller for their form,
    here against the member's role); what was changed, in one line. Recorded for ``actor``."""
    with hub.db.session() as s:
        m = find(s, name)
        changes = []
        detail: dict[str, object] = {}
        if display_name is not None and display_name != m.display_name:
            detail["display_name"] = display_name
            changes.append(f"display name {display_name!r} (was {m.display_name!r})")
            m.display_name = display_name
        if country is not None:
            code = country.upper()
            if not code and m.role == "member":
                raise Refusal(
                    f"{m.username} is a member: it needs its country (--country and its "
                    "two-letter code, e.g. KE)."
                )
            if code != m.country:
                detail["country"] = code
                changes.append(f"country {code or '(none)'} (was {m.country or '(none)'})")
                m.country = code
        if not changes:
            return f"Nothing to change: {m.username} has these already."
        audit.record(s, actor, "member_edit", m.username, detail)
        return f"Changed {m.username}: {', '.join(changes)}."


# --- remove ----------------------------------------------------------------------------------


def remove(hub: Hub, name: str, actor: audit.Actor) -> str:
    """Delete an account that never did anything (made by mistake, a typo in its name), with
    its sign-ins; refused, with the way to go, for one that did. Recorded for ``actor`` (the
    record outlives the account)."""
    with hub.db.session() as s:
        m = find(s, name)
        items = s.scalar(select(func.count()).where(Item.source_member_id == m.id)) or 0
        uploads = (
            s.scalar(
                select(func.count()).where(
                    Upload.member_id == m.id, Upload.state.not_in(_SPENT_UPLOADS)
                )
            )
            or 0
        )
        events = s.scalar(select(func.count()).where(HistoryEvent.member_id == m.id)) or 0
        done = [
            f"{n} {what}{'s' if n != 1 else ''}"
            for n, what in ((items, "item"), (uploads, "upload"), (events, "history event"))
            if n
        ]
        if done:
            raise Refusal(
                f"{m.username} has {', '.join(done)} on this hub: it cannot be removed (the "
                f"feed and the statistics keep what it did). To stop it signing in: "
                f"alu-hub member disable {m.username}",
            )
        ended = end_signins(s, m.id)
        s.execute(delete(Token).where(Token.member_id == m.id))
        s.execute(delete(Upload).where(Upload.member_id == m.id))
        s.execute(delete(SignInAttempt).where(SignInAttempt.key == user_key(m.username)))
        role, username = m.role, m.username
        s.delete(m)
        audit.record(
            s,
            actor,
            "member_remove",
            username,
            {"role": role, "workstation_signins_ended": ended.workstations},
        )
        alone = no_agency_left(s) if role == "agency" else ""
    said = f"Removed {role} {username}"
    if ended:
        said += f"; {ended.words()} ended"
    return said + "." + alone


# --- sessions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    id: int
    kind: str
    device: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "device": self.device,
            "created_at": _iso(self.created_at),
            "last_used_at": _iso(self.last_used_at) if self.last_used_at else None,
            "expires_at": _iso(self.expires_at),
        }


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def signins(hub: Hub, name: str) -> tuple[str, list[SignIn]]:
    """The member's user name and its live sign-ins, oldest first."""
    now = utcnow()
    with hub.db.session() as s:
        m = find(s, name)
        rows = list(s.scalars(select(Token).where(_live(m.id, now)).order_by(Token.id)))
        out = []
        for t in rows:
            kind = kind_of(t.device)
            last = None
            if kind == "workstation":
                last = s.scalar(
                    select(func.max(HistoryEvent.received_at)).where(
                        HistoryEvent.member_id == m.id,
                        # a sign-in stored before names were cleaned: its events since are
                        HistoryEvent.device.in_({t.device, stored(t.device)}),
                        HistoryEvent.received_at >= t.created_at,
                    )
                )
            device = t.device.removeprefix(STATS_PAGE_DEVICE) if kind != "workstation" else t.device
            # as the workstation named itself: nothing that would steer the terminal
            device = one_line(device)
            out.append(SignIn(t.id, kind, device, t.created_at, last, t.expires_at))
        return m.username, out


def _when(t: dt.datetime | None) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if t is not None else "-"


def sessions_text(username: str, rows: Sequence[SignIn], as_json: bool) -> str:
    if as_json:
        return json.dumps({"member": username, "sessions": [r.as_json() for r in rows]}, indent=2)
    if not rows:
        return f"{username} has no live sign-in."
    wide_id = max(4, *(len(str(r.id)) + 2 for r in rows))
    wide_dev = max(8, *(len(r.device) + 2 for r in rows))
    lines = [
        f"{'id':<{wide_id}}{'kind':<13}{'device':<{wide_dev}}{'created (UTC)':<18}"
        f"{'last used':<18}expires"
    ]
    for r in rows:
        lines.append(
            f"{r.id:<{wide_id}}{r.kind:<13}{r.device or '-':<{wide_dev}}"
            f"{_when(r.created_at):<18}{_when(r.last_used_at):<18}{_when(r.expires_at)}"
        )
    return "\n".join(lines)
