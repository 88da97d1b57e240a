"""The rules of a hub profile as stored: ``Rule`` and ``RuleStore`` (add, change, order)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..store import Store
from .conditions import Conditions, RuleError
from .merge import FIELDS, Merged, RulesChanged, merge

ACTIONS = ("broadcast", "proxy", "proxy_then_broadcast")


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
        """Change what is given, keep the rest (the conditions kept are not checked again: a
        rule stored before a check existed can still be renamed, moved or turned off)."""
        old = self.get(rule_id)
        new_name = _clean_name(name) if name is not None else old.name
        new_action = action if action is not None else old.action
        _check_action(new_action)
        if conditions is not None:
            conditions.check()
        conds = conditions if conditions is not None else old.conditions
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
        """Move one rule to ``index`` (0 = tried first; past the end = last), the others keeping
        their order: read and written in one transaction, so a rule another program adds or
        removes meanwhile is not in the way."""
        with self.store.write() as c:
            ids = [
                int(r[0])
                for r in c.execute(
                    "SELECT id FROM rules WHERE profile = ? ORDER BY position, id",
                    (self.profile,),
                )
            ]
            if rule_id not in ids:
                raise RuleError(f"There is no rule #{rule_id}.")
            ids.remove(rule_id)
            ids.insert(max(0, index), rule_id)
            c.executemany(
                "UPDATE rules SET position = ? WHERE id = ? AND profile = ?",
                [(n + 1, rid, self.profile) for n, rid in enumerate(ids)],
            )
        return self.all()

    def save_edits(
        self, base: Sequence[Rule], mine: Sequence[Rule], *, check_only: bool = False
    ) -> list[Rule]:
        """Write what the user changed in a copy of the rules (``base`` as read, ``mine`` as
        edited: see ``merge``) over what the store holds now, in one transaction. Raises
        ``RulesChanged`` (nothing written) when another program changed them in a way that
        clashes, RuleError when a changed rule is not valid. ``check_only``: only that."""
        with self.store.write() as c:
            rows = c.execute(
                "SELECT * FROM rules WHERE profile = ? ORDER BY position, id", (self.profile,)
            ).fetchall()
            theirs = [Rule.from_row(r) for r in rows]
            merged = merge(base, mine, theirs)
            if merged.conflicts:
                raise RulesChanged(merged, theirs)
            now = {r.id: r for r in theirs}
            for r in merged.rules:
                old = now.get(r.id)
                if old is None or _values(r) != _values(old):
                    _clean_name(r.name)
                    _check_action(r.action)
                    if old is None or r.conditions != old.conditions:
                        r.conditions.check()
            if not check_only:
                self._write(c, now, merged)
        return self.all()

    def _write(self, c: sqlite3.Connection, now: dict[int, Rule], merged: Merged) -> None:
        kept = {r.id for r in merged.rules}
        c.executemany(
            "DELETE FROM rules WHERE id = ? AND profile = ?",
            [(rid, self.profile) for rid in now if rid not in kept],
        )
        changed = [r for r in merged.rules if r.id in now and _values(r) != _values(now[r.id])]
        # a name may pass from one rule to another: free every changed name first
        c.executemany(
            "UPDATE rules SET name = ? WHERE id = ? AND profile = ?",
            [
                (f"\x01renaming {r.id}", r.id, self.profile)
                for r in changed
                if r.name != now[r.id].name
            ],
        )
        c.executemany(
            "UPDATE rules SET name = ?, conditions = ?, action = ?, destination = ?,"
            " enabled = ? WHERE id = ? AND profile = ?",
            [
                (
                    _clean_name(r.name),
                    json.dumps(r.conditions.to_json(), ensure_ascii=False),
                    r.action,
                    r.destination,
                    int(r.enabled),
                    r.id,
                    self.profile,
                )
                for r in changed
            ],
        )
        ids: list[int] = []
        for n, r in enumerate(merged.rules):
            if r.id > 0:
                ids.append(r.id)
                continue
            cur = c.execute(
                "INSERT INTO rules (profile, name, enabled, position, conditions, action,"
                " destination, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.profile,
                    _clean_name(r.name),
                    int(r.enabled),
                    n + 1,
                    json.dumps(r.conditions.to_json(), ensure_ascii=False),
                    r.action,
                    r.destination,
                    time.time(),
                ),
            )
            ids.append(int(cur.lastrowid or 0))
        c.executemany(
            "UPDATE rules SET position = ? WHERE id = ? AND profile = ?",
            [(n + 1, rid, self.profile) for n, rid in enumerate(ids)],
        )

    def _check_name_free(self, c: sqlite3.Connection, name: str, rule_id: int | None) -> None:
        row = c.execute(
            "SELECT id FROM rules WHERE profile = ? AND name = ?", (self.profile, name)
        ).fetchone()
        if row is not None and int(row[0]) != rule_id:
            raise RuleError(f"A rule named {name!r} already exists; pick another name.")


def _values(rule: Rule) -> tuple[object, ...]:
    return tuple(getattr(rule, f) for f in FIELDS)


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
