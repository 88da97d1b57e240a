"""Rules edited in a copy (the Settings dialog's list) merged with what the store holds now.

The dialog reads the rules when it opens and the user may take minutes over it; meanwhile
another program on the same data folder (``alu rules add`` in a terminal, a second window)
may add, change, move or remove rules. Writing the dialog's list as it is would undo all
that. ``merge(base, mine, theirs)`` keeps only what the user changed: ``base`` is what the
dialog read, ``mine`` what it holds now (new rules have ids < 0), ``theirs`` what the store
holds now. Per rule and per field (name, on/off, conditions, action, folder): a field the
user did not change takes the store's value; one the user changed takes the user's, unless
the other program changed it to something else too (a ``Conflict``). A rule the user
removed is removed; one added elsewhere is kept; the order is the store's unless the user
moved rules, in which case the rules the user knows take the user's order in the places
they hold (a rule added elsewhere keeps its place).

Conflicts: a rule the user changed that another program removed (``removed``) or changed
in the same field (``changed``), and a name the user gave that another program gave to
one of its rules meanwhile (``name_taken``). ``RuleStore.save_edits`` writes nothing then
and raises ``RulesChanged`` with the merge, for the dialog to show the rules as they are
now with the user's other changes kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .conditions import RuleError

if TYPE_CHECKING:
    from .store import Rule

#: the fields of a rule a user edits (``id`` and ``position`` are the store's)
FIELDS = ("name", "enabled", "conditions", "action", "destination")

Reason = Literal["removed", "changed", "name_taken"]


@dataclass(frozen=True)
class Conflict:
    #: the rule's name as the user last saw it
    name: str
    reason: Reason


@dataclass(frozen=True)
class Merged:
    #: the rules in the order they will be tried (new ones with ids < 0)
    rules: list[Rule]
    conflicts: list[Conflict]


class RulesChanged(RuleError):
    """Another program changed the rules in a way that clashes with the user's changes;
    nothing was written. ``merged.rules``: the rules to show again (the store's, with the
    user's changes that do not clash); ``current``: the store's rules, the new base."""

    def __init__(self, merged: Merged, current: Sequence[Rule]) -> None:
        names = ", ".join(f"{c.name!r} ({c.reason.replace('_', ' ')})" for c in merged.conflicts)
        super().__init__(f"The rules were changed by another program meanwhile: {names}.")
        self.merged = merged
        self.current = list(current)


def _values(rule: Rule) -> tuple[object, ...]:
    return tuple(getattr(rule, f) for f in FIELDS)


def merge(base: Sequence[Rule], mine: Sequence[Rule], theirs: Sequence[Rule]) -> Merged:
    before = {r.id: r for r in base}
    now = {r.id: r for r in theirs}
    kept: dict[int, Rule] = {}
    conflicts: list[Conflict] = []
    renamed: set[int] = set()
    for r in mine:
        if r.id < 0:
            continue
        old, cur = before.get(r.id), now.get(r.id)
        if cur is None:  # removed elsewhere: only the user's changes to it are lost
            if old is None or _values(r) != _values(old):
                conflicts.append(Conflict(r.name, "removed"))
            continue
        if old is None:  # not read by the dialog (cannot happen): the store's
            kept[r.id] = cur
            continue
        values: dict[str, object] = {}
        clash = False
        for f in FIELDS:
            m, b, t = getattr(r, f), getattr(old, f), getattr(cur, f)
            if m in (b, t):
                values[f] = t
            elif t == b:
                values[f] = m
                if f == "name":
                    renamed.add(r.id)
            else:
                values[f] = t
                clash = True
        if clash:
            conflicts.append(Conflict(r.name, "changed"))
        kept[r.id] = dataclasses.replace(cur, **values)  # type: ignore[arg-type]
    mine_ids = {r.id for r in mine}
    for cur in theirs:
        if cur.id not in before:  # added elsewhere
            kept[cur.id] = cur
        elif cur.id not in mine_ids:  # removed by the user
            kept.pop(cur.id, None)
    new = [r for r in mine if r.id < 0]
    new_ids = [r.id for r in new]

    # the order: the store's, new rules last, unless the user moved rules
    order = [r.id for r in theirs if r.id in kept] + new_ids
    mine_seq = [r.id for r in mine if r.id in kept or r.id < 0]
    base_seq = [r.id for r in base if r.id in kept and r.id in mine_ids] + new_ids
    if mine_seq != base_seq:
        known = set(mine_seq)
        slots = iter(mine_seq)
        order = [next(slots) if rid in known else rid for rid in order]
    by_id = kept | {r.id: r for r in new}
    rules = [by_id[rid] for rid in order]

    # a name the user gave that another program gave too
    names: dict[str, int] = {}
    for r in rules:
        names[r.name] = names.get(r.name, 0) + 1
    for r in rules:
        if names[r.name] > 1 and (r.id < 0 or r.id in renamed):
            conflicts.append(Conflict(r.name, "name_taken"))
    return Merged(rules, conflicts)
