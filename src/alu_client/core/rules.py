"""Auto-download rules: "every flash from East Africa in French, to this folder".

A rule has conditions on the item's fields and an action. An empty condition accepts anything;
every non-empty condition must hold (values within one condition are alternatives). Words and
phrases are looked for in the title, slug and script, whatever the case and accents, at the
start of a word: "élection" finds "ELECTIONS" and "rain" finds "rainfall", but not "training".
Arabic is folded the simple way (diacritics and tatweel dropped, the alef forms أ إ آ ٱ made ا,
ى made ي, ة made ه) and a word may carry the article (ال، وال، بال، لل, …): "انتخابات" finds
"الانْتِخَابَات" and "والإنتخابات".

The engine evaluates every new item of a profile exactly once, in the hub's order (seq): the
first enabled rule that matches, by position, fires; the others are not looked at. What it
enqueues is decided by the rule's action:

- ``broadcast``: the broadcast rendition;
- ``proxy``: the proxy (small, quick to fetch: a newsroom can preview it at once);
- ``proxy_then_broadcast``: the proxy first, one priority step higher than the item's (so it
  overtakes the broadcast files waiting in the queue), then the broadcast at the item's own.

**Old items are not downloaded.** Items published more than ``max_age_hours`` (24 by default)
before the evaluation are marked evaluated without any action: the first sign-in to a hub, or
a workstation back after a week switched off, pulls the back catalogue into the feed and the
library, and the rules must not turn that into hundreds of gigabytes of downloads. Rules act on
what is new.

Crash safety: an item is marked evaluated (``items.rules_done``) right after its downloads are
queued, in separate transactions. If the process dies between the two, the next evaluation
finds the item again, but before queueing anything it looks for a transfer of the same item and
rendition that is queued, running, paused or done, and queues nothing twice.

The engine does not talk to the queue itself: the service injects ``enqueue`` (which calls
``TransferQueue.add_download`` with the rule named in the transfer's options, so that the
history records which rule fetched what).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .hub import PRIORITIES, Item, Rendition
from .store import Store

log = logging.getLogger(__name__)

ACTIONS = ("broadcast", "proxy", "proxy_then_broadcast")
#: the condition fields a rule has, in the order a form shows them
CONDITION_FIELDS = ("categories", "regions", "countries", "languages", "priorities", "words")
#: the transfer states that mean "this rendition is already being fetched, or was"
_TAKEN_STATES = ("queued", "active", "paused", "done")
#: items read from the store at a time
_PAGE = 500


class RuleError(ValueError):
    """A rule cannot be saved as given; ``str()`` says what to change."""


# --- text folding ---------------------------------------------------------------------------

#: letters folded after diacritics are removed (NFKD already splits أ إ آ ؤ ئ into base + mark)
_ARABIC_FOLD = str.maketrans(
    {
        "\u0671": "\u0627",  # ٱ alef wasla → ا
        "\u0672": "\u0627",  # ٲ
        "\u0673": "\u0627",  # ٳ
        "\u0649": "\u064a",  # ى alef maksura → ي
        "\u0629": "\u0647",  # ة ta marbuta → ه
        "\u0640": None,  # ـ tatweel (kashida)
    }
)
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Text as rules compare it: case-folded, without accents or Arabic diacritics, with the
    Arabic letter forms above made one."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.translate(_ARABIC_FOLD).casefold()


def _words(text: str) -> str:
    """The folded words of ``text`` joined by single spaces, with a space in front."""
    return " " + " ".join(_WORD.findall(fold(text)))


#: the Arabic article and the particles written together with it (folded: alef forms are ا)
_ARTICLE = "(?:[وف]?(?:ال|بال|كال|لل))?"


@functools.lru_cache(maxsize=1024)
def _phrase(words: str) -> re.Pattern[str]:
    """A word or phrase to look for in ``_words(text)``: at the start of a word (after the
    Arabic article when there is one), its last word possibly longer ("vote" finds "voters")."""
    return re.compile(" " + _ARTICLE + re.escape(" ".join(_WORD.findall(fold(words)))))


# --- rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conditions:
    """What an item must be for a rule to fire. An empty tuple accepts anything."""

    categories: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    #: two-letter codes (KE, SN)
    countries: tuple[str, ...] = ()
    #: en, fr, ar
    languages: tuple[str, ...] = ()
    #: flash, urgent, routine
    priorities: tuple[str, ...] = ()
    #: words or phrases, any of which in the title, slug or script
    words: tuple[str, ...] = ()

    @classmethod
    def of(cls, **values: Iterable[str] | str) -> Conditions:
        """``Conditions.of(languages=["fr"], words="élection, vote")``: cleaned and checked
        (a single string is split on commas); raises RuleError."""
        unknown = set(values) - set(CONDITION_FIELDS)
        if unknown:
            raise RuleError(
                f"Unknown rule condition {sorted(unknown)[0]!r}; "
                f"the conditions are {', '.join(CONDITION_FIELDS)}."
            )
        kw: dict[str, tuple[str, ...]] = {}
        for name, raw in values.items():
            items: list[Any] = raw.split(",") if isinstance(raw, str) else list(raw)
            cleaned: list[str] = []
            for v in items:
                if not isinstance(v, str):
                    raise RuleError(f"The {name} of a rule are text, not {v!r}.")
                v = " ".join(v.split())
                if name in ("countries",):
                    v = v.upper()
                elif name in ("languages", "priorities"):
                    v = v.lower()
                if v and v not in cleaned:
                    cleaned.append(v)
            kw[name] = tuple(cleaned)
        conditions = cls(**kw)
        conditions.check()
        return conditions

    def check(self) -> None:
        for p in self.priorities:
            if p not in PRIORITIES:
                raise RuleError(f"A priority is flash, urgent or routine, not {p!r}.")
        for c in self.countries:
            if not re.fullmatch(r"[A-Z]{2}", c):
                raise RuleError(f"A country is a two-letter code like KE or SN, not {c!r}.")
        for w in self.words:
            if not _WORD.search(fold(w)):
                raise RuleError(f"{w!r} has no letters or digits to look for.")

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f) for f in CONDITION_FIELDS)

    def to_json(self) -> dict[str, list[str]]:
        return {f: list(getattr(self, f)) for f in CONDITION_FIELDS if getattr(self, f)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Conditions:
        kw: dict[str, tuple[str, ...]] = {}
        for f in CONDITION_FIELDS:
            values = data.get(f)
            if isinstance(values, list | tuple):
                kw[f] = tuple(str(v) for v in values)
        return cls(**kw)


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    enabled: bool
    position: float
    conditions: Conditions
    #: broadcast | proxy | proxy_then_broadcast
    action: str
    #: folder for the downloads; '' = the download folder
    destination: str

    @property
    def dest_dir(self) -> Path | None:
        return Path(self.destination).expanduser() if self.destination else None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Rule:
        try:
            data = json.loads(row["conditions"] or "{}")
        except ValueError:
            data = {}
        return cls(
            id=int(row["id"]),
            name=str(row["name"]),
            enabled=bool(row["enabled"]),
            position=float(row["position"]),
            conditions=Conditions.from_json(data if isinstance(data, dict) else {}),
            action=str(row["action"]),
            destination=str(row["destination"]),
        )


def _same(value: str) -> str:
    """A field's value as compared: folded, spaces collapsed ("East  Africa" is "east africa")."""
    return " ".join(fold(value).split())


def matches(rule: Rule, item: Item) -> bool:
    """True when every non-empty condition of ``rule`` holds for ``item`` (``enabled`` is the
    engine's business, not this function's)."""
    c = rule.conditions

    def one_of(values: tuple[str, ...], value: str) -> bool:
        return not values or _same(value) in {_same(v) for v in values}

    if not one_of(c.categories, item.category):
        return False
    if not one_of(c.regions, item.region):
        return False
    if not one_of(c.countries, item.country):
        return False
    if not one_of(c.languages, item.language):
        return False
    if not one_of(c.priorities, item.priority):
        return False
    if c.words:
        text = _words(f"{item.title}\n{item.slug}\n{item.script}")
        if not any(_phrase(w).search(text) for w in c.words):
            return False
    return True


class RuleStore:
    """The rules of one hub profile, in the order they are tried."""

    def __init__(self, store: Store, profile: str) -> None:
        self.store = store
        self.profile = profile

    def all(self) -> list[Rule]:
        rows = self.store.query(
            "SELECT * FROM rules WHERE profile = ? ORDER BY position, id", (self.profile,)
        )
        return [Rule.from_row(r) for r in rows]

    def get(self, rule_id: int) -> Rule:
        row = self.store.query_one(
            "SELECT * FROM rules WHERE profile = ? AND id = ?", (self.profile, rule_id)
        )
        if row is None:
            raise RuleError(f"There is no rule #{rule_id}.")
        return Rule.from_row(row)

    def by_name(self, name: str) -> Rule:
        row = self.store.query_one(
            "SELECT * FROM rules WHERE profile = ? AND name = ?", (self.profile, name.strip())
        )
        if row is None:
            raise RuleError(f"There is no rule named {name.strip()!r}.")
        return Rule.from_row(row)

    def add(
        self,
        name: str,
        conditions: Conditions | None = None,
        *,
        action: str = "broadcast",
        destination: str | Path = "",
        enabled: bool = True,
    ) -> Rule:
        """A new rule, tried after the existing ones."""
        name = _clean_name(name)
        _check_action(action)
        conds = conditions or Conditions()
        conds.check()
        with self.store.write() as c:
            self._check_name_free(c, name, None)
            pos = c.execute(
                "SELECT COALESCE(MAX(position), 0) + 1 FROM rules WHERE profile = ?",
                (self.profile,),
            ).fetchone()[0]
            cur = c.execute(
                "INSERT INTO rules (profile, name, enabled, position, conditions, action,"
                " destination, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.profile,
                    name,
                    int(enabled),
                    pos,
                    json.dumps(conds.to_json(), ensure_ascii=False),
                    action,
                    str(destination),
                    time.time(),
                ),
            )
            rule_id = int(cur.lastrowid or 0)
        return self.get(rule_id)

    def update(
        self,
        rule_id: int,
        *,
        name: str | None = None,
        conditions: Conditions | None = None,
        action: str | None = None,
        destination: str | Path | None = None,
        enabled: bool | None = None,
    ) -> Rule:
        """Change what is given, keep the rest."""
        old = self.get(rule_id)
        new_name = _clean_name(name) if name is not None else old.name
        new_action = action if action is not None else old.action
        _check_action(new_action)
        conds = conditions if conditions is not None else old.conditions
        conds.check()
        with self.store.write() as c:
            self._check_name_free(c, new_name, rule_id)
            c.execute(
                "UPDATE rules SET name = ?, conditions = ?, action = ?, destination = ?,"
                " enabled = ? WHERE id = ? AND profile = ?",
                (
                    new_name,
                    json.dumps(conds.to_json(), ensure_ascii=False),
                    new_action,
                    str(destination) if destination is not None else old.destination,
                    int(enabled) if enabled is not None else int(old.enabled),
                    rule_id,
                    self.profile,
                ),
            )
        return self.get(rule_id)

    def set_enabled(self, rule_id: int, enabled: bool) -> Rule:
        return self.update(rule_id, enabled=enabled)

    def enable(self, rule_id: int) -> Rule:
        return self.set_enabled(rule_id, True)

    def disable(self, rule_id: int) -> Rule:
        return self.set_enabled(rule_id, False)

    def remove(self, rule_id: int) -> None:
        with self.store.write() as c:
            cur = c.execute(
                "DELETE FROM rules WHERE id = ? AND profile = ?", (rule_id, self.profile)
            )
            if cur.rowcount == 0:
                raise RuleError(f"There is no rule #{rule_id}.")

    def reorder(self, rule_ids: list[int]) -> list[Rule]:
        """Put the rules in this order (all of the profile's rules, each once)."""
        with self.store.write() as c:
            have = {
                int(r[0])
                for r in c.execute("SELECT id FROM rules WHERE profile = ?", (self.profile,))
            }
            if sorted(rule_ids) != sorted(have):
                raise RuleError("A new order must list every rule of the profile exactly once.")
            c.executemany(
                "UPDATE rules SET position = ? WHERE id = ? AND profile = ?",
                [(n + 1, rid, self.profile) for n, rid in enumerate(rule_ids)],
            )
        return self.all()

    def move(self, rule_id: int, index: int) -> list[Rule]:
        """Move one rule to ``index`` (0 = tried first; past the end = last)."""
        ids = [r.id for r in self.all()]
        if rule_id not in ids:
            raise RuleError(f"There is no rule #{rule_id}.")
        ids.remove(rule_id)
        ids.insert(max(0, index), rule_id)
        return self.reorder(ids)

    def _check_name_free(self, c: sqlite3.Connection, name: str, rule_id: int | None) -> None:
        row = c.execute(
            "SELECT id FROM rules WHERE profile = ? AND name = ?", (self.profile, name)
        ).fetchone()
        if row is not None and int(row[0]) != rule_id:
            raise RuleError(f"A rule named {name!r} already exists; pick another name.")


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise RuleError("A rule needs a name.")
    if len(name) > 100:
        raise RuleError("A rule's name is at most 100 characters.")
    return name


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        raise RuleError(f"A rule's action is one of {', '.join(ACTIONS)}, not {action!r}.")


# --- items as stored --------------------------------------------------------------------------


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def item_from_row(row: sqlite3.Row | Mapping[str, Any]) -> Item:
    """A row of the ``items`` table as a ``hub.Item`` (raises ValueError on a damaged row)."""
    d = dict(row)
    raw = json.loads(d.get("renditions") or "[]")
    renditions = tuple(
        Rendition(
            name=str(r.get("name", "")),
            url=str(r.get("url", "")),
            filename=str(r.get("filename") or ""),
            size=int(r.get("size") or 0),
            sha256=str(r.get("sha256") or "").lower(),
            mime=str(r.get("mime") or ""),
            width=int(r.get("width") or 0),
            height=int(r.get("height") or 0),
        )
        for r in (raw if isinstance(raw, list) else [])
        if isinstance(r, dict) and r.get("name") and r.get("url")
    )
    p = d.get("priority", 2)
    priority = PRIORITIES[p] if isinstance(p, int) and 0 <= p < len(PRIORITIES) else str(p)
    if priority not in PRIORITIES:
        priority = "routine"
    published = _when(d.get("published_at"))
    if published is None:
        raise ValueError(f"item {d.get('id')!r} has no publication time")
    return Item(
        id=str(d["id"]),
        seq=int(d["seq"]),
        kind=str(d.get("kind") or "push"),
        title=str(d.get("title") or ""),
        slug=str(d.get("slug") or ""),
        dateline=str(d.get("dateline") or ""),
        recorded_at=_when(d.get("recorded_at")),
        published_at=published,
        category=str(d.get("category") or ""),
        region=str(d.get("region") or ""),
        country=str(d.get("country") or ""),
        language=str(d.get("language") or ""),
        priority=priority,
        restrictions=str(d.get("restrictions") or ""),
        script=str(d.get("script") or ""),
        shotlist=str(d.get("shotlist") or ""),
        duration=float(d.get("duration") or 0),
        source_member=str(d.get("source_member") or ""),
        thumbnail_url=str(d.get("thumbnail_url") or ""),
        renditions=renditions,
    )


def bump(priority: str) -> str:
    """One step more urgent: routine → urgent → flash (flash stays flash)."""
    i = PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES) - 1
    return PRIORITIES[max(0, i - 1)]


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


class RuleEngine:
    def __init__(self, store: Store, profile: str, enqueue: Enqueue) -> None:
        self.store = store
        self.profile = profile
        self.enqueue = enqueue
        self.rules = RuleStore(store, profile)
        self._lock = threading.Lock()

    def evaluate_pending(
        self,
        items_loader: ItemLoader = item_from_row,
        *,
        now: dt.datetime | None = None,
        max_age_hours: float | None = 24,
    ) -> list[Match]:
        """Evaluate every item of the profile not evaluated yet, in seq order, once each.

        Items published more than ``max_age_hours`` before ``now`` (None: no limit) are only
        marked: see the module's note on old items."""
        now = now or dt.datetime.now(dt.UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.UTC)
        cutoff = now - dt.timedelta(hours=max_age_hours) if max_age_hours is not None else None
        out: list[Match] = []
        with self._lock:
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
                    except Exception:
                        log.exception("item %s cannot be read; rules skip it", row["id"])
                        quiet.append(pk)
                        continue
                    if cutoff is not None and item.published_at < cutoff:
                        quiet.append(pk)
                        continue
                    rule = next((r for r in rules if matches(r, item)), None)
                    if rule is None:
                        quiet.append(pk)
                        continue
                    out += self._fire(rule, item)
                    self._mark([pk])
                self._mark(quiet)
        return out

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
                log.exception("rule %r: queueing %s of %s failed", rule.name, rendition, item.id)
                out.append(Match(item, rule, rendition, None, error=str(e) or type(e).__name__))
                continue
            out.append(Match(item, rule, rendition, tid, error="" if tid else "not queued"))
            log.info("rule %r: %s of %s queued (transfer %s)", rule.name, rendition, item.id, tid)
        return out

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
