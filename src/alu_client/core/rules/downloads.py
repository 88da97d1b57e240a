"""A rule's downloads: those it queued that have not finished (to cancel them with the rule).

A rule's download names it in the transfer's options: ``rule_id`` (since this was written)
and ``rule`` (its name, as the history records it). A download queued before ``rule_id``
was kept is found by the name.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..store import Store
from ..store.transfers import PROFILE_SQL, Transfer
from .store import Rule

#: a download in one of these states has not finished: it would still be fetched (a failed one
#: at a retry)
UNFINISHED = ("queued", "active", "paused", "failed")


def queued_by(t: Transfer, rule: Rule) -> bool:
    """Whether download ``t`` was queued by ``rule`` (its id, else its name)."""
    rule_id = t.options.get("rule_id")
    if isinstance(rule_id, int) and not isinstance(rule_id, bool):
        return rule_id == rule.id
    return t.options.get("rule") == rule.name


def unfinished_downloads(store: Store, profile: str, rules: Iterable[Rule]) -> dict[int, list[int]]:
    """The downloads of ``profile`` not finished, by the id of the rule (among ``rules``) that
    queued them; a rule with none is not a key."""
    wanted = list(rules)
    if not wanted:
        return {}
    rows = store.query(
        "SELECT * FROM transfers WHERE direction = 'download'"  # noqa: S608 - constant SQL only
        f" AND state IN ({','.join('?' * len(UNFINISHED))}) AND {PROFILE_SQL} = ? ORDER BY id",
        (*UNFINISHED, profile),
    )
    out: dict[int, list[int]] = {}
    for row in rows:
        t = Transfer.from_row(row)
        for rule in wanted:
            if queued_by(t, rule):
                out.setdefault(rule.id, []).append(t.id)
                break
    return out


def rule_downloads(store: Store, profile: str, rule: Rule) -> list[int]:
    """The ids of the downloads ``rule`` queued that have not finished, oldest first."""
    return unfinished_downloads(store, profile, [rule]).get(rule.id, [])
