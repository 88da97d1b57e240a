"""History: what happened to transfers, written here first (the outbox), then sent to the hub;
and the member's events from its other workstations, pulled back.

- ``record_event`` writes an outbox row inside the caller's transaction (the transfer's end
  and its event commit together or not at all); ``transfer_outcome_hook`` does it for every
  finished transfer.
- ``HistorySync.push`` sends the outbox oldest first (by insertion order, never by clock), in
  batches, and marks rows sent only once the hub said 200. A failed send changes nothing;
  sending twice is harmless, the hub keeps each event id once.
- ``HistorySync.pull`` fetches the member's events after the history cursor (the hub's seq)
  and stores the unknown ones, moving the cursor in the same transaction.

An event never carries a secret: no upload URL, no token, no local path (file names only).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from ..hub import AuthError, HistoryPage, HubClient, HubError, RemoteEvent
from ..store import Store
from ..store.rows import RowReader, warn_damaged
from ..store.transfers import OutcomeHook, Transfer
from ..transfers.base import REFUSED_SIGN_IN
from ..workstation import workstation_id
from .state import CLOCK_OFFSET, HISTORY_SEQ, SyncState

log = logging.getLogger(__name__)

#: what the hub accepts as an event type
EVENT_TYPE = re.compile(r"^[a-z][a-z_]{2,31}$")
#: events per POST (the hub takes up to 1000)
PUSH_BATCH = 500
#: the hub refuses a detail over 4 KiB (measured as Python's json.dumps, ASCII-escaped)
MAX_DETAIL_CHARS = 4000
MAX_DETAIL_KEYS = 32
MAX_TEXT = 500
#: statuses by which the hub refuses the content of a batch (not the sender, not the link)
REFUSED_STATUSES = (400, 413, 422)
#: ... unless the hub says the sender is at fault, not an event: ``clock_off`` (the
#: workstation's clock is more than 100 years off) refuses every batch until it is set right
SENDER_CODES = frozenset({"clock_off"})

#: a hub whose history ends before our cursor (restored from a backup) gets this
#: workstation's events sent in this long again (seconds: 30 days; backups are daily)
RESEND_AFTER_RESTORE_S = 30 * 86400.0
#: ... and its history is read again from this many numbers before its end (the numbers are
#: the hub's, for all members: some 3,000 a day at the agency's size)
REREAD_AFTER_RESTORE = 50_000

#: the detail key of this workstation's events recorded for the hub a profile had before
#: another hub replaced it at its address (``profiles.forget_replaced_hub``): "sent" (the old
#: hub had it) or "unsent" (never sent, and not sent to the new hub: it never had the item).
#: Neither is sent to the new hub, even when it says it went back (``_hub_went_back``)
OLD_HUB = "old_hub"

_OUTCOMES = {"done": "completed", "failed": "failed", "canceled": "canceled"}
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S*")

ClientProvider = Callable[[], HubClient | None]

#: a clock set by less than this between an event and its sending is left alone (seconds):
#: a virtual machine's boot clock stops while its host sleeps, and the wall clock is set
#: forward at the wake-up — taken for a clock set right, an event recorded before a night's
#: sleep would move by the night. A clock far off (a dead battery: months, years) is set by
#: more than a week; a week's sleep or less keeps the event where the clock put it
CLOCK_SET_MIN_S = 7 * 86400.0
#: the hub leaves the times of a batch sent by a clock this close to its own as they are
#: (seconds; ``alu_hub.api.CLOCK_RIGHT_WITHIN``): this workstation's events are shifted as much
CLOCK_RIGHT_WITHIN_S = 120.0
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_UPTIME = Path("/proc/uptime")


def clock_now() -> tuple[float, str, float | None]:
    """(wall time, this boot's id, seconds since boot including sleep) — the last two where
    the system tells them (Linux), else ("", None). The hub corrects event times by how far
    this workstation's clock is off *when it sends*; an event recorded before the clock was
    set right (a dead battery, then the time fixed as `alu doctor` advises) would be moved by
    the whole correction. The boot clock is never set: an event of this boot is sent at
    ``now - (boot clock now - boot clock then)``, on the clock as it is when sent."""
    wall = time.time()
    try:
        boot = _BOOT_ID.read_text(encoding="ascii").strip()
        # the kernel's own count (sleep included), read as text: tools that fake the clocks
        # for a program (faketime) shift its boot clock with its wall clock, not this file
        uptime = float(_UPTIME.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):  # not Linux
        return wall, "", None
    return wall, boot, uptime


_List = list  # HistorySync.list shadows the builtin in its class


@dataclass(frozen=True)
class HistoryEvent:
    """One row of the local history (an outcome of this workstation or pulled from the hub)."""

    id: str
    profile: str
    type: str
    item_id: str | None
    rendition: str
    bytes: int
    started_at: float | None
    ended_at: float | None
    device: str
    detail: dict[str, Any]
    transfer_id: int | None
    origin: str  # 'here' | 'hub'
    hub_seq: int | None
    sent_at: float | None

    @property
    def pending(self) -> bool:
        """Still in the outbox: recorded here, not yet accepted by the hub."""
        return self.origin == "here" and self.sent_at is None

    @property
    def kept_from_new_hub(self) -> bool:
        """Recorded for the hub that was at the profile's address before another replaced it,
        and never sent: kept here only (``OLD_HUB``)."""
        return self.origin == "here" and self.detail.get(OLD_HUB) == "unsent"

    @property
    def refused(self) -> str:
        """The hub's reason when it refused this event for good ('' otherwise)."""
        return str(self.detail.get("hub_refused", ""))

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> HistoryEvent:
        """The row as an event; a value edited or damaged in the file is replaced by a
        stand-in (no bytes, no time) and logged: one bad event never stops the list."""
        event, damaged = _read(row)
        warn_damaged(
            "history event",
            event.id,
            damaged,
            "it is listed with what could be read, and is not sent to the hub.",
        )
        return event


def _read(row: sqlite3.Row) -> tuple[HistoryEvent, str]:
    """The row as an event, and which of its fields could not be read ('' for none). Its
    times are the hub's clock's, as the agency's report counts it (``hub_shift``)."""
    r = RowReader(row)
    shift = row["hub_shift"] if isinstance(row["hub_shift"], float | int) else 0.0
    event = HistoryEvent(
        id=r.text("id"),
        profile=r.text("profile"),
        type=r.text("type"),
        item_id=r.text_or_none("item_id"),
        rendition=r.text("rendition"),
        bytes=r.integer("bytes", 0),
        started_at=_shifted(r.real_or_none("started_at"), shift),
        ended_at=_shifted(r.real_or_none("ended_at"), shift),
        device=r.text("device"),
        detail=r.json_object("detail"),
        transfer_id=r.integer_or_none("transfer_id"),
        origin=r.choice("origin", ("here", "hub"), "here"),
        hub_seq=r.integer_or_none("hub_seq"),
        sent_at=r.real_or_none("sent_at"),
    )
    return event, r.damaged


def _shifted(when: float | None, shift: float) -> float | None:
    return None if when is None else when + shift


# --- recording -----------------------------------------------------------------------------------


def _text(value: str | None, limit: int) -> str:
    return (value or "")[:limit]


def clean_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    """A detail the hub will take: JSON values, at most 32 keys, under 4 KiB, no None."""
    out: dict[str, Any] = {}
    for key, value in (detail or {}).items():
        if value is None or len(out) >= MAX_DETAIL_KEYS:
            continue
        if isinstance(value, str):
            value = value[:MAX_TEXT]
        elif not isinstance(value, bool | int | float | list | dict):
            value = str(value)[:MAX_TEXT]
        out[str(key)[:64]] = json.loads(json.dumps(value, default=str))
    while out and len(json.dumps(out)) > MAX_DETAIL_CHARS:
        # Shorten the longest value first; drop it if it is not text.
        key = max(out, key=lambda k: len(json.dumps(out[k])))
        value = out[key]
        if isinstance(value, str) and len(value) > 40:
            out[key] = value[: len(value) // 2]
        else:
            del out[key]
    return out


def record_event(
    conn: sqlite3.Connection,
    profile: str,
    type: str,
    *,
    item_id: str | None = None,
    rendition: str = "",
    bytes: int = 0,
    started_at: float | None = None,
    ended_at: float | None = None,
    device: str = "",
    detail: dict[str, Any] | None = None,
    transfer_id: int | None = None,
) -> str:
    """Put an event in the outbox, on the caller's open transaction; returns its id (UUID4).

    The event is checked against what the hub accepts now, so one bad event can never block
    the outbox later."""
    if not EVENT_TYPE.match(type):
        raise ValueError(f"{type!r} is not a history event type (a-z and _, 3 to 32 characters)")
    event_id = str(uuid.uuid4())
    wall, boot, boot_clock = clock_now()
    offset = conn.execute(
        "SELECT value FROM sync_state WHERE profile = ? AND key = ?", (profile, CLOCK_OFFSET)
    ).fetchone()
    ended = wall if ended_at is None else ended_at
    conn.execute(
        "INSERT INTO history (id, profile, type, item_id, rendition, bytes, started_at, ended_at,"
        " device, detail, transfer_id, origin, boot, boot_clock, hub_shift)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'here', ?, ?, ?)",
        (
            event_id,
            profile,
            type,
            item_id[:32] if item_id else None,
            _text(rendition, 32),
            max(0, int(bytes)),
            started_at,
            ended,
            _text(device, 200),
            json.dumps(clean_detail(detail)),
            transfer_id,
            boot,
            # the boot clock when the event ended, on the wall clock's word of how long ago
            None if boot_clock is None else boot_clock - max(0.0, wall - ended),
            hub_shift(offset[0] if offset is not None else None),
        ),
    )
    return event_id


def hub_shift(offset: Any) -> float:
    """How far the hub moves an event of this workstation's, by the kept clock offset (the
    hub's clock minus this one's, as text; None: never measured): as the hub corrects it when
    the event is sent, so the history lists it on the day the agency's report counts it."""
    try:
        seconds = float(offset)
    except (TypeError, ValueError):
        return 0.0
    return seconds if abs(seconds) > CLOCK_RIGHT_WITHIN_S else 0.0


def _safe_error(message: str) -> str:
    """The transfer's error as the user saw it, without anything that looks like a URL."""
    return _URL.sub("(address hidden)", message)[:MAX_TEXT]


def event_for_transfer(t: Transfer) -> tuple[str, dict[str, Any]] | None:
    """(type, fields) of the event that records how ``t`` ended; None if it has not ended."""
    outcome = _OUTCOMES.get(t.state)
    if outcome is None or t.direction not in ("download", "upload"):
        return None
    if t.state == "failed" and t.last_error.startswith(REFUSED_SIGN_IN):
        # signed out, or a session that ended: this workstation's state, not a download the
        # member tried and the hub could not serve (the agency's report listed it "Tried,
        # never completed"); the transfer stays failed here, tried again at the next sign-in
        return None
    ended = t.finished_at if t.finished_at is not None else time.time()
    # how long it ran on the monotonic clock (its runs summed), never the wall clock's
    # difference: a clock set during a 19 s download made it a day, or nothing
    seconds = max(0.0, t.run_seconds)
    # Run in one go: it began that long before it ended, on the clock it ended by (a clock set
    # meanwhile made it end before it began, or a day after). Paused, retried: its first
    # start, unless a clock set back puts that after its end.
    first = t.started_at if t.started_at is not None else t.created_at
    started = ended - seconds if t.attempts == 1 and seconds > 0 else min(first, ended - seconds)
    moved = t.bytes_done
    if t.state == "done":
        moved = t.bytes_done or t.size or 0
    # a download that found the item's file already in the folder (checked, taken as it is):
    # the member has it, but nothing came over the link — no speed (one of 75 MB/s was shown)
    found = t.direction == "download" and t.result.get("found_in_folder") is True
    # The local side of a transfer is a path on this workstation: only its file name leaves it.
    # The other side is a URL (an upload URL is a secret): it never leaves at all.
    local = t.destination if t.direction == "download" else t.source
    item_id = t.item_id or t.result.get("item_id")
    detail = {
        "label": t.label,
        "file": PurePath(local).name if local else None,
        "seconds": round(seconds, 3),
        "avg_bps": round(moved / seconds, 1) if seconds > 0 and moved and not found else None,
        "found_in_folder": found or None,
        "rule": t.options.get("rule"),
        "error": _safe_error(t.last_error) if t.last_error else None,
        "restarted": t.result.get("restarted") or None,
        "rendition": t.rendition,
        "attempts": t.attempts or None,
    }
    fields: dict[str, Any] = {
        "item_id": item_id if isinstance(item_id, str) else None,
        "rendition": t.rendition or "",
        "bytes": moved,
        "started_at": started,
        "ended_at": ended,
        "detail": detail,
        "transfer_id": t.id,
    }
    return f"{t.direction}_{outcome}", fields


def transfer_outcome_hook(
    profile_of: Callable[[Transfer], str | None],
    device: str,
    *,
    on_recorded: Callable[[], None] | None = None,
) -> OutcomeHook:
    """An outcome hook for ``TransferStore.outcome_hooks``: every download or upload that ends
    (done, failed, canceled) puts ``download_completed``, ``upload_failed``, … in the outbox
    of its profile, in the transaction that ends it. Transfers of no profile (``profile_of``
    returns None: a plain ``alu fetch``) are not reported. ``on_recorded`` is called after
    each event is put there, still inside the transaction (``Store.after_commit`` tells others
    once it is committed)."""

    def hook(conn: sqlite3.Connection, t: Transfer) -> None:
        profile = profile_of(t)
        if profile is None:
            return
        made = event_for_transfer(t)
        if made is None:
            return
        type_, fields = made
        record_event(conn, profile, type_, device=device, **fields)
        if on_recorded is not None:
            on_recorded()

    return hook


# --- sync with the hub ---------------------------------------------------------------------------


def _iso(epoch: float | None) -> str | None:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat() if epoch is not None else None


def _epoch(when: dt.datetime | None) -> float | None:
    return when.timestamp() if when is not None else None


def _clock_set_since(row: sqlite3.Row, now: tuple[float, str, float | None]) -> float:
    """How far the wall clock was set since ``row`` was recorded in this boot (0: not known,
    or by less than ``CLOCK_SET_MIN_S``)."""
    wall, boot, boot_clock = now
    then = row["boot_clock"]
    if not boot or row["boot"] != boot or then is None or boot_clock is None or not row["ended_at"]:
        return 0.0
    if boot_clock < then:  # counted from 0 again (a container's own uptime): not one boot
        return 0.0
    shift = (wall - (boot_clock - then)) - row["ended_at"]
    return shift if abs(shift) >= CLOCK_SET_MIN_S else 0.0


def _payload(
    row: sqlite3.Row, now: tuple[float, str, float | None] | None = None, workstation: str = ""
) -> dict[str, Any]:
    try:
        detail = json.loads(row["detail"] or "{}")
    except ValueError:
        detail = {}
    shift = _clock_set_since(row, now) if now is not None else 0.0
    started, ended = row["started_at"], row["ended_at"]
    return {
        "id": row["id"],
        "type": row["type"],
        "item_id": row["item_id"],
        "rendition": row["rendition"],
        "bytes": row["bytes"],
        "started_at": _iso(started + shift if started is not None else None),
        "ended_at": _iso(ended + shift if ended is not None else None),
        "device": row["device"],
        # the events of the outbox are this workstation's: the hub counts workstations by it
        **({"workstation": workstation} if workstation else {}),
        "detail": detail if isinstance(detail, dict) else {},
    }


def _places(page: HistoryPage) -> list[tuple[int, str]]:
    """(seq, id) of every event of ``page``, the malformed ones skipped too."""
    return [(e.seq, e.id) for e in page.events] + [(s.seq, s.id) for s in page.skipped]


class HistorySync:
    """The history of one profile: the outbox up, the member's events down, the list to show.

    ``client`` is a signed-in HubClient or a function returning the current one (None when
    signed out). ``push`` and ``pull`` raise ``HubError`` when the hub cannot be used; what was
    done before the error is kept, what was not is left as it was. ``on_change`` is called
    (on the caller's thread, after the commit) each time they changed the stored history:
    events sent or refused, events pulled, the outbox filled again for a restored hub."""

    def __init__(
        self,
        store: Store,
        profile: str,
        client: HubClient | ClientProvider,
        *,
        state: SyncState | None = None,
        batch: int = PUSH_BATCH,
        page_size: int = 500,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.profile = profile
        self.on_change = on_change
        self._client = client
        self.state = state or SyncState(store, profile)
        self.batch = max(1, min(batch, 1000))
        self.page_size = max(1, min(page_size, 1000))
        self._lock = threading.Lock()  # one push or pull at a time
        #: told (on the sync thread) when the hub's history no longer has where this
        #: workstation left it (``_hub_went_back``): the app says so
        self.on_went_back: Callable[[], None] | None = None
        #: the malformed events the pull went on past, by id: why each was (said once in the log)
        self.skipped: dict[str, str] = {}

    def client(self) -> HubClient:
        c = self._client if isinstance(self._client, HubClient) else self._client()
        if c is None:
            raise AuthError("Not signed in to this hub; sign in first.")
        return c

    def _changed(self) -> None:
        """Tell ``on_change`` (its failure is logged: the sync goes on)."""
        if self.on_change is None:
            return
        try:
            self.on_change()
        except Exception:
            log.exception("a history listener failed")

    # --- up --------------------------------------------------------------------------------------

    def pending(self) -> int:
        """How many events wait in the outbox."""
        row = self.store.query_one(
            "SELECT COUNT(*) FROM history WHERE profile = ? AND origin = 'here'"
            " AND sent_at IS NULL",
            (self.profile,),
        )
        return int(row[0]) if row else 0

    def push(self) -> int:
        """Send the outbox, oldest first; returns how many events the hub now has."""
        with self._lock:
            client = self.client()
            sent = 0
            last_rowid = 0
            while True:
                rows = self.store.query(
                    "SELECT rowid, * FROM history WHERE profile = ? AND origin = 'here'"
                    " AND sent_at IS NULL AND rowid > ? ORDER BY rowid LIMIT ?",
                    (self.profile, last_rowid, self.batch),
                )
                if not rows:
                    return sent
                last_rowid = int(rows[-1]["rowid"])
                whole = []
                for row in rows:
                    # (a detail that cannot be read is sent empty, as before: it is words)
                    damaged = ", ".join(f for f in _read(row)[1].split(", ") if f != "detail")
                    if damaged:  # stand-ins would be counted as figures: set aside, said why
                        reason = f"its record in the library is damaged (cannot read {damaged})"
                        log.warning("history event %s not sent: %s", row["id"], reason)
                        self._refused(row, reason)
                    else:
                        whole.append(row)
                if whole:
                    sent += self._send(client, whole)

    def _send(self, client: HubClient, rows: _List[sqlite3.Row]) -> int:
        try:
            clock = clock_now()
            here = workstation_id(self.store)
            client.post_history(
                [_payload(r, clock, here) for r in rows],
                dt.datetime.fromtimestamp(clock[0], dt.UTC),
            )
        except HubError as e:
            if e.status not in REFUSED_STATUSES or e.code in SENDER_CODES:
                # the link, the hub, the account or this workstation's clock: try again
                # later, nothing changed (the events wait in the outbox)
                raise
            if len(rows) > 1:
                # Something in this batch is refused: find it, send the rest.
                half = len(rows) // 2
                return self._send(client, rows[:half]) + self._send(client, rows[half:])
            log.warning("history event %s refused by the hub: %s", rows[0]["id"], e)
            self._refused(rows[0], str(e))
            return 0
        now = time.time()
        with self.store.write() as c:
            c.executemany(
                "UPDATE history SET sent_at = ? WHERE profile = ? AND id = ? AND sent_at IS NULL",
                [(now, self.profile, r["id"]) for r in rows],
            )
            self.state.touch(now, c)
        self._changed()
        return len(rows)

    def _refused(self, row: sqlite3.Row, reason: str) -> None:
        """The hub will never take this event: out of the outbox, with the reason kept, so it
        does not hold back the events after it."""
        detail = _read(row)[0].detail
        detail["hub_refused"] = reason[:MAX_TEXT]
        with self.store.write() as c:
            c.execute(
                "UPDATE history SET sent_at = ?, detail = ?"
                " WHERE profile = ? AND id = ? AND sent_at IS NULL",
                (time.time(), json.dumps(detail), self.profile, row["id"]),
            )
        self._changed()

    # --- down ------------------------------------------------------------------------------------

    def pull(self) -> int:
        """Fetch the member's events after the cursor; returns how many were new here.

        The first page starts at the event the cursor stands on, when it is known here: the
        hub must still have it there. A hub restored from a backup numbers its events again
        from the backup's last (and passes our numbers as soon as any workstation of any member
        sends one): then this workstation's events it may have lost go again
        (``_hub_went_back``). An empty page's ``last`` tells it too when the event is not
        known here."""
        with self._lock:
            client = self.client()
            added = 0
            rewound = checked = False
            while True:
                after = self.state.history_seq
                known = None if checked or after <= 0 else self._event_at(after)
                checked = True
                if known is not None:
                    # (one more for the event the cursor stands on; the hub takes 1000 at most)
                    page = client.history(after=after - 1, limit=min(self.page_size + 1, 1000))
                    head = min(_places(page), default=None)  # (a malformed one skipped too)
                    went_back = head != (after, known)
                else:
                    page = client.history(after=after, limit=self.page_size)
                    went_back = not _places(page) and page.last is not None and page.last < after
                if went_back and not rewound:
                    rewound = True  # once per pull: a hub saying so every time cannot loop us
                    end = after if page.last is None else min(page.last, after)
                    self._hub_went_back(after, end)
                    continue
                events = [e for e in page.events if e.seq > after]
                # one event no workstation can keep must not hold back every later one
                passed = [s for s in page.skipped if s.seq > after]
                if not events and not passed:
                    self.state.touch()
                    return added
                for s in passed:
                    if s.id not in self.skipped:
                        log.warning(
                            "history sync: skipped event %r (seq %d): %s", s.id, s.seq, s.reason
                        )
                    self.skipped[s.id] = s.reason
                seq, newest = max([(e.seq, e.id) for e in events] + [(s.seq, s.id) for s in passed])
                with self.store.write() as c:
                    for e in events:
                        added += self._store_remote(c, e)
                    self.state.advance_history(seq, c)
                    self.state.mark(HISTORY_SEQ, seq, newest, c)
                    self.state.touch(conn=c)
                # (new events, or ours coming back: no longer waiting to be sent)
                self._changed()
                if not page.more:
                    return added

    def _event_at(self, seq: int) -> str | None:
        """The id of the event the cursor was moved onto at ``seq`` (else, for a cursor moved
        before that was kept, the newest stored here with that number), or None."""
        known = self.state.at(HISTORY_SEQ, seq)
        if known is not None:
            return known
        row = self.store.query_one(
            "SELECT id FROM history WHERE profile = ? AND hub_seq = ? ORDER BY rowid DESC LIMIT 1",
            (self.profile, seq),
        )
        return str(row[0]) if row is not None else None

    def _hub_went_back(self, after: int, last: int) -> None:
        """The hub's history ends before our cursor: restored from a backup, it lost the events
        stored after the backup, and numbers new ones again from there (other workstations'
        events may have come since: where the backup ended is not said). Send our own events
        again that it may have lost — those it had numbered after its end, those sent but never
        seen coming back, and those sent in the last ``RESEND_AFTER_RESTORE_S`` (the hub keeps
        each event id once: a copy it still has is a duplicate, not counted twice); refused
        ones stay as they are. Read its history again from ``REREAD_AFTER_RESTORE`` numbers
        before its end (events already here are stored once)."""
        start = max(0, last - REREAD_AFTER_RESTORE)
        with self.store.write() as c:
            again = c.execute(
                "UPDATE history SET sent_at = NULL, hub_seq = NULL"
                " WHERE profile = ? AND origin = 'here' AND sent_at IS NOT NULL"
                " AND (hub_seq IS NULL OR hub_seq > ? OR sent_at > ?)"
                " AND (CASE WHEN json_valid(detail) THEN json_extract(detail, '$.hub_refused')"
                " END) IS NULL"
                # (the hub before this one at the address: none of its events go to this one)
                " AND (CASE WHEN json_valid(detail) THEN json_extract(detail, '$.old_hub')"
                " END) IS NULL",
                (self.profile, last, time.time() - RESEND_AFTER_RESTORE_S),
            ).rowcount
            self.state.rewind_history(start, c)
        if again:
            self._changed()
        log.warning(
            "the hub's history no longer has event %d of this workstation's (restored from a "
            "backup?): reading it again from %d; %d event(s) of this workstation to send again",
            after,
            start,
            again,
        )
        if self.on_went_back is not None:
            self.on_went_back()

    def _store_remote(self, c: sqlite3.Connection, e: RemoteEvent) -> int:
        ended = _epoch(e.ended_at) or _epoch(e.occurred_at)
        cur = c.execute(
            "INSERT OR IGNORE INTO history (id, profile, type, item_id, rendition, bytes,"
            " started_at, ended_at, device, detail, origin, hub_seq)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'hub', ?)",
            (
                e.id,
                self.profile,
                e.type,
                e.item_id,
                e.rendition,
                e.bytes,
                _epoch(e.started_at),
                ended,
                e.device,
                json.dumps(e.detail),
                e.seq,
            ),
        )
        if cur.rowcount:
            return 1
        # One of ours coming back: now we know the hub's order for it, and that the hub has it
        # (a send whose answer was lost leaves it in the outbox until here), and the time the
        # hub gave it (its report's): kept as a shift, the row's times stay this clock's (they
        # are what is sent again to a hub restored from a backup, which corrects them again)
        c.execute(
            "UPDATE history SET hub_seq = ?, sent_at = COALESCE(sent_at, ?),"
            " hub_shift = CASE WHEN ? IS NULL OR ended_at IS NULL THEN hub_shift"
            " ELSE round(? - ended_at, 3) END"
            " WHERE id = ? AND profile = ? AND origin = 'here'",
            (e.seq, time.time(), ended, ended, e.id, self.profile),
        )
        return 0

    # --- the list --------------------------------------------------------------------------------

    def list(self, limit: int = 100, before: str | None = None) -> _List[HistoryEvent]:
        """Events of both origins, newest first (by end time on the hub's clock, then as
        recorded here).
        ``before``: the id of the last event of the previous page."""
        sql = "SELECT * FROM history WHERE profile = ?"
        params: _List[Any] = [self.profile]
        if before is not None:
            row = self.store.query_one(
                "SELECT rowid, ended_at + hub_shift AS at FROM history"
                " WHERE id = ? AND profile = ?",
                (before, self.profile),
            )
            if row is None:
                return []
            # Descending order puts events without an end time last.
            if row["at"] is None:
                sql += " AND ended_at IS NULL AND rowid < ?"
                params.append(row["rowid"])
            else:
                sql += (
                    " AND (ended_at + hub_shift < ? OR (ended_at + hub_shift = ? AND rowid < ?)"
                    " OR ended_at IS NULL)"
                )
                params += [row["at"], row["at"], row["rowid"]]
        # (the hub's time: as the agency's report orders them, ``ix_history_hub_time``)
        sql += " ORDER BY ended_at + hub_shift DESC, rowid DESC LIMIT ?"
        params.append(max(0, limit))
        return [HistoryEvent.from_row(r) for r in self.store.query(sql, params)]

    def mark(self) -> int:
        """Where the history stands now, for ``since``: every event stored after this call
        comes after the mark (the rows' insertion order; events are never deleted)."""
        row = self.store.query_one("SELECT MAX(rowid) FROM history")
        return int(row[0]) if row is not None and row[0] is not None else 0

    def since(self, mark: int, limit: int = 1000) -> tuple[_List[HistoryEvent], int]:
        """The events stored after ``mark`` (recorded here or pulled, in the order they were
        stored, at most ``limit``) and the mark after the last of them (``mark`` if none)."""
        rows = self.store.query(
            "SELECT rowid, * FROM history WHERE rowid > ? AND profile = ? ORDER BY rowid LIMIT ?",
            (mark, self.profile, max(0, limit)),
        )
        last = int(rows[-1]["rowid"]) if rows else mark
        return [HistoryEvent.from_row(r) for r in rows], last

    def sent_among(self, ids: Sequence[str]) -> _List[HistoryEvent]:
        """The events of ``ids`` (outbox events, as last read) no longer in the outbox: sent,
        or refused by the hub."""
        out: _List[HistoryEvent] = []
        ids = _List(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            out += [
                HistoryEvent.from_row(r)
                for r in self.store.query(
                    f"SELECT * FROM history WHERE profile = ? AND id IN ({marks})"  # noqa: S608 - ?s
                    " AND sent_at IS NOT NULL",
                    (self.profile, *chunk),
                )
            ]
        return out
