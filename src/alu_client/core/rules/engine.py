"""The engine: every new item of a profile evaluated once, the first matching rule fires
(see the package's note on old items, crash safety and ``enqueue``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..hub import PRIORITIES, Item
from ..library.items import item_from_row as library_item_from_row
from ..store import Store
from ..sync.state import SyncState
from .conditions import matches
from .store import Rule, RuleStore

log = logging.getLogger("alu_client.core.rules")  # the package's logger, as before the split

#: the transfer states that mean "this rendition is already being fetched, or was"
_TAKEN_STATES = ("queued", "active", "paused", "done")
#: items read from the store at a time
_PAGE = 500
#: the ``sync_state`` key of a profile's rules that have items waiting (``rule_problems``)
PROBLEMS_KEY = "rule_problems"


# --- items as stored --------------------------------------------------------------------------


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _reached(row: sqlite3.Row, now: dt.datetime, offset: float) -> dt.datetime:
    """When the item reached this workstation on the hub's clock (``first_seen_at`` is this
    workstation's), ``now`` at the latest: an item new when it arrived stays new while it
    waits for a rule's folder that is away, or for an engine (`alu sync` stored it)."""
    try:
        first_seen = float(row["first_seen_at"])
        if first_seen <= 0:  # (not a time a workstation wrote)
            return now
        reached = dt.datetime.fromtimestamp(first_seen + offset, dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return now
    return min(now, reached)


def item_from_row(row: sqlite3.Row) -> Item:
    """A row of the ``items`` table as a ``hub.Item``: the library's own reading of it (a
    damaged row raises, and the engine marks that item done without action: a rule is not
    tried on stand-in values)."""
    read = library_item_from_row(row)
    if read.damaged:
        raise ValueError(f"item {read.id}'s record in the library is damaged ({read.damaged})")
    return read.item


def bump(priority: str) -> str:
    """One step more urgent: routine → urgent → flash (flash stays flash)."""
    i = PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES) - 1
    return PRIORITIES[max(0, i - 1)]


def _plain(e: Exception) -> str:
    """An exception in one line for a user: an OSError's words and file, else its text."""
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror} ({e.filename})" if e.filename else e.strerror
    return " ".join(str(e).split()) or type(e).__name__


# --- the engine -------------------------------------------------------------------------------

#: ``enqueue(item, rendition, dest_dir, rule) -> transfer id`` (None: nothing was queued).
#: The item's ``priority`` is the priority to queue at (already bumped for a first proxy).
Enqueue = Callable[[Item, str, Path | None, Rule], int | None]
ItemLoader = Callable[[sqlite3.Row], Item]


@dataclass(frozen=True)
class Match:
    """One rendition a rule asked for."""

    item: Item
    rule: Rule
    rendition: str
    #: the new transfer; None when one already existed or nothing could be queued
    transfer_id: int | None
    #: a transfer of this item and rendition was already queued, running, paused or done
    already: bool = False
    #: why nothing was queued ('' when it was, or when ``already``)
    error: str = ""
    #: queueing failed (its folder cannot be written…): the item is left unevaluated, to be
    #: tried again at the next evaluation
    retry: bool = False


@dataclass(frozen=True)
class RuleProblem:
    """A rule that matched items it could not queue: its folder cannot be made or written (a
    share not mounted or read-only). The items wait, unevaluated, and are queued once it can
    (or evaluated again without it when the rule is removed or turned off)."""

    rule_id: int
    rule: str
    folder: str
    #: why, in one line (the system's words and the folder)
    error: str
    #: how many items wait for it
    waiting: int
    #: the first waiting item's title (or id)
    first: str = ""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> RuleProblem | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                rule_id=int(data["rule_id"]),
                rule=str(data["rule"]),
                folder=str(data.get("folder", "")),
                error=str(data.get("error", "")),
                waiting=int(data.get("waiting", 0)),
                first=str(data.get("first", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def rule_problems(store: Store, profile: str) -> list[RuleProblem]:
    """The rules of ``profile`` that have items waiting for their folder, as the last
    evaluation found them (any process's: the app, `alu watch run`, `alu sync`)."""
    try:
        data = json.loads(SyncState(store, profile).get(PROBLEMS_KEY, "[]") or "[]")
    except ValueError:
        return []
    found = [RuleProblem.from_json(d) for d in data] if isinstance(data, list) else []
    return [p for p in found if p is not None]


_DAY = dt.timedelta(days=1)


def hub_clock_offset(store: Store, profile: str) -> float:
    """The hub's clock minus this workstation's (seconds): as the hub's ``Date`` last said
    (kept by the feed sync); never measured, at least as far ahead as the newest item the hub
    published (a clock behind is no reason to take the back catalogue for new)."""
    measured = SyncState(store, profile).clock_offset
    if measured is not None:
        return measured
    # the newest item that has another within a day before it: one item dated ahead by
    # mistake (a year out) made every other item a year old, and no rule took anything until
    # the hub's Date was heard (a hub that publishes rarely: its newest, as before)
    rows = store.query(
        "SELECT published_at FROM items WHERE profile = ? ORDER BY published_at DESC LIMIT 5",
        (profile,),
    )
    times = [t for row in rows if (t := _when(row[0])) is not None]
    if not times:
        return 0.0
    newest = next(
        (t for t, before in itertools.pairwise(times) if t - before <= _DAY),
        times[0],
    )
    return max(0.0, newest.timestamp() - time.time())


class RuleEngine:
    """``member``: the profile's user name; the items it uploaded (from any of its
    workstations) are never downloaded back by a rule (see ``_own_upload``)."""

    def __init__(self, store: Store, profile: str, enqueue: Enqueue, member: str = "") -> None:
        self.store = store
        self.profile = profile
        self.enqueue = enqueue
        self.member = member
        self.rules = RuleStore(store, profile)
        self._lock = threading.Lock()
        #: rules that could not be tried in this evaluation (said once each)
        self._broken: set[int] = set()

    def evaluate_pending(
        self,
        items_loader: ItemLoader = item_from_row,
        *,
        now: dt.datetime | None = None,
        max_age_hours: float | None = 24,
    ) -> list[Match]:
        """Evaluate every item of the profile not evaluated yet, in seq order, once each.

        Items published more than ``max_age_hours`` (None: no limit) before they reached this
        workstation (``first_seen_at``), or before ``now``, whichever is sooner, are only
        marked: see the package's note on old items. Both are the hub's time (``now`` given:
        taken as such; else this workstation's clock corrected by ``hub_clock_offset``)."""
        offset = hub_clock_offset(self.store, self.profile)
        if now is None:
            now = dt.datetime.fromtimestamp(time.time() + offset, dt.UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.UTC)
        age = dt.timedelta(hours=max_age_hours) if max_age_hours is not None else None
        out: list[Match] = []
        #: rule id → (the rule, why, the items it could not queue): said once per rule below
        failed: dict[int, tuple[Rule, str, list[Item]]] = {}
        with self._lock:
            self._broken.clear()
            rules = [r for r in self.rules.all() if r.enabled]
            cursor = (-1, -1)
            while True:
                rows = self.store.query(
                    "SELECT * FROM items WHERE profile = ? AND rules_done = 0"
                    " AND (seq > ? OR (seq = ? AND pk > ?)) ORDER BY seq, pk LIMIT ?",
                    (self.profile, cursor[0], cursor[0], cursor[1], _PAGE),
                )
                if not rows:
                    break
                cursor = (int(rows[-1]["seq"]), int(rows[-1]["pk"]))
                quiet: list[int] = []  # evaluated without any download: marked in one go
                for row in rows:
                    pk = int(row["pk"])
                    try:
                        item = items_loader(row)
                    except ValueError as e:  # damaged in the file: one line, no traceback
                        log.warning("rules skip item %s: %s", row["id"], e)
                        quiet.append(pk)
                        continue
                    except Exception:
                        log.exception("item %s cannot be read; rules skip it", row["id"])
                        quiet.append(pk)
                        continue
                    if item.withdrawn:  # the agency withdrew it: never downloaded
                        quiet.append(pk)
                        continue
                    if age is not None and item.published_at < _reached(row, now, offset) - age:
                        quiet.append(pk)
                        continue
                    if self._sent_from_here(item) or item.sent_by(self.member):
                        # its file is here (uploaded from here), or on another workstation of
                        # the member that sent it: the member's own footage is not fetched back
                        quiet.append(pk)
                        continue
                    rule = self._first_match(rules, item)
                    if rule is None:
                        quiet.append(pk)
                        continue
                    fired = self._fire(rule, item)
                    out += fired
                    waiting = [m for m in fired if m.retry]
                    if waiting:
                        # left unevaluated: tried again at the next evaluation (new items, the
                        # next start), when the folder can be written again
                        failed.setdefault(rule.id, (rule, waiting[0].error, []))[2].append(item)
                        continue
                    self._mark([pk])
                self._mark(quiet)
            problems = [
                RuleProblem(
                    rule.id,
                    rule.name,
                    str(rule.dest_dir or ""),
                    error,
                    len(items),
                    items[0].title or items[0].id,
                )
                for rule, error, items in failed.values()
            ]
            self._keep_problems(problems)
        for p in problems:
            what = repr(p.first) + (f" and {p.waiting - 1} more" if p.waiting > 1 else "")
            log.error(
                "rule %r: %s; %s not queued, kept and tried again at the next evaluation",
                p.rule,
                p.error,
                what,
            )
        return out

    def _keep_problems(self, problems: list[RuleProblem]) -> None:
        """Write the rules whose items wait where the app and `alu rules list` read them
        (``rule_problems``), when they changed."""
        if rule_problems(self.store, self.profile) == problems:
            return
        text = json.dumps([p.to_json() for p in problems], ensure_ascii=False)
        SyncState(self.store, self.profile).set(PROBLEMS_KEY, text)

    def _first_match(self, rules: list[Rule], item: Item) -> Rule | None:
        """The first rule that matches ``item``; a rule that cannot be tried (a damaged
        condition) is passed over, said once per evaluation, and the others are tried."""
        for r in rules:
            try:
                if matches(r, item):
                    return r
            except Exception as e:
                log.debug("rule %r cannot be tried", r.name, exc_info=True)
                if r.id not in self._broken:
                    self._broken.add(r.id)
                    log.error("rule %r cannot be tried (%s); the others are", r.name, e)
        return None

    def _fire(self, rule: Rule, item: Item) -> list[Match]:
        if rule.action == "proxy_then_broadcast":
            plan = [("proxy", dataclasses.replace(item, priority=bump(item.priority)))]
            plan.append(("broadcast", item))
        else:
            plan = [(rule.action, item)]
        out: list[Match] = []
        for rendition, as_queued in plan:
            if item.rendition(rendition) is None:
                out.append(Match(item, rule, rendition, None, error="no such rendition"))
                continue
            if self._already(item.id, rendition):
                out.append(Match(item, rule, rendition, None, already=True))
                continue
            try:
                tid = self.enqueue(as_queued, rendition, rule.dest_dir, rule)
            except Exception as e:
                # (a folder that cannot be written, a store busy): one line, said by the caller
                log.debug("rule %r: queueing %s of %s failed", rule.name, rendition, item.id,
                          exc_info=True)  # fmt: skip
                out.append(Match(item, rule, rendition, None, error=_plain(e), retry=True))
                continue
            out.append(Match(item, rule, rendition, tid, error="" if tid else "not queued"))
            log.info("rule %r: %s of %s queued (transfer %s)", rule.name, rendition, item.id, tid)
        return out

    def _sent_from_here(self, item: Item) -> bool:
        """The item is a file this data folder uploaded (the broadcast file's sha256 is that
        of an upload done here): a rule matching it downloaded back, over a slow link, the clip
        a hot folder had just sent."""
        broadcast = item.rendition("broadcast")
        if broadcast is None or not broadcast.sha256:
            return False
        row = self.store.query_one(
            "SELECT 1 FROM transfers WHERE direction = 'upload' AND state = 'done'"
            " AND lower(sha256) = ? LIMIT 1",
            (broadcast.sha256.lower(),),
        )
        return row is not None

    def _already(self, item_id: str, rendition: str) -> bool:
        """A transfer of this item and rendition exists that is not failed or canceled (for this
        profile, or for none named: a download queued by hand)."""
        row = self.store.query_one(
            "SELECT 1 FROM transfers WHERE direction = 'download' AND item_id = ?"
            " AND rendition = ? AND state IN (?, ?, ?, ?)"
            " AND COALESCE(json_extract(options, '$.profile'), ?) = ? LIMIT 1",
            (item_id, rendition, *_TAKEN_STATES, self.profile, self.profile),
        )
        return row is not None

    def _mark(self, pks: list[int]) -> None:
        if not pks:
            return
        with self.store.write() as c:
            c.executemany(
                "UPDATE items SET rules_done = 1 WHERE pk = ? AND profile = ?",
                [(pk, self.profile) for pk in pks],
            )
