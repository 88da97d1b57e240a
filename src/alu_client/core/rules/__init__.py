"""Auto-download rules: "every flash from East Africa in French, to this folder".

A rule has conditions on the item's fields and an action. An empty condition accepts anything;
every non-empty condition must hold (values within one condition are alternatives). Words and
phrases are looked for in the title, slug and script, whatever the case and accents (œ is oe,
٢٠٢٦ is 2026), as whole words: "élection" finds "ÉLECTION" but not "élections", "UN" not "une"
or "under"; a ``*`` at the end asks for the words that begin so: "rain*" finds "rainfall", but
not "training". (Rules saved before words were whole keep their meaning, written with the
``*``, but for acronyms and words under four letters: store migration 16.)
Arabic is folded the simple way (diacritics and tatweel dropped, the alef forms أ إ آ ٱ made ا,
ى made ي, ة made ه) and the article (ال، وال، بال، لل, …) is taken off the words of the rule
and of the item alike, as the library's search does: "انتخابات" and "الانتخابات" both find
"الانْتِخَابَات", "والإنتخابات", "للانتخابات" and "انتخابات الرئاسة".

The engine evaluates every new item of a profile exactly once, in the hub's order (seq): the
first enabled rule that matches, by position, fires; the others are not looked at. What it
enqueues is decided by the rule's action:

- ``broadcast``: the broadcast rendition;
- ``proxy``: the proxy (small, quick to fetch: a newsroom can preview it at once);
- ``proxy_then_broadcast``: the proxy first, one priority step higher than the item's (so it
  overtakes the broadcast files waiting in the queue), then the broadcast at the item's own.

**Old items are not downloaded.** Items published more than ``max_age_hours`` (24 by default)
before they reached this workstation (``items.first_seen_at``, or the evaluation if sooner),
on the hub's clock (``hub_clock_offset``: the hub's ``Date`` kept by the feed sync), are
marked evaluated without any action: the first sign-in to a hub, or
a workstation back after a week switched off, pulls the back catalogue into the feed and the
library, and the rules must not turn that into hundreds of gigabytes of downloads. Rules act on
what is new.

**The member's own uploads are not downloaded back.** A rule has no condition on who sent an
item: it matches the agency's pushes and the other members' uploads alike. The items the
profile's member uploaded itself — from this workstation (the upload's sha256) or from another
of its workstations (``Item.sent_by``) — are marked evaluated without any action, whatever the
rules say: its footage is already where it was sent from.

**An item whose downloads cannot be queued is not lost.** When a rule's folder cannot be made
or written (a share not mounted or read-only, a plain file in the way), the item is left
unevaluated and tried again at the next evaluation (new items from the feed, the next start)
until the folder can be written, however long that takes (it was new when it arrived); the
reason is said in one line per rule, and kept (``rule_problems``) for the app and `alu rules
list`; the other items and rules go on.

Crash safety: an item is marked evaluated (``items.rules_done``) right after its downloads are
queued, in separate transactions. If the process dies between the two, the next evaluation
finds the item again, but before queueing anything it looks for a transfer of the same item and
rendition that is queued, running, paused or done, and queues nothing twice.

The engine does not talk to the queue itself: the service injects ``enqueue`` (which calls
``TransferQueue.add_download`` with the rule named in the transfer's options, so that the
history records which rule fetched what).

The package: ``conditions`` (text folding, ``Conditions``, ``matches``), ``store`` (``Rule``,
``RuleStore``: the rules of a profile in the database), ``merge`` (a copy of the rules edited
while another program changed them, written back keeping both), ``engine`` (``RuleEngine``,
``Match``, ``item_from_row``, ``bump``).
"""

from __future__ import annotations

import logging

from .conditions import (
    CONDITION_FIELDS,
    LANGUAGES,
    Conditions,
    RuleError,
    fold,
    language_code,
    matches,
    split_values,
)
from .engine import (
    Enqueue,
    ItemLoader,
    Match,
    RuleEngine,
    RuleProblem,
    bump,
    hub_clock_offset,
    item_from_row,
    rule_problems,
)
from .merge import Conflict, Merged, RulesChanged, merge
from .store import ACTIONS, Rule, RuleStore

log = logging.getLogger(__name__)

__all__ = [
    "ACTIONS",
    "CONDITION_FIELDS",
    "LANGUAGES",
    "Conditions",
    "Conflict",
    "Enqueue",
    "ItemLoader",
    "Match",
    "Merged",
    "Rule",
    "RuleEngine",
    "RuleError",
    "RuleProblem",
    "RuleStore",
    "RulesChanged",
    "bump",
    "fold",
    "hub_clock_offset",
    "item_from_row",
    "language_code",
    "matches",
    "merge",
    "rule_problems",
    "split_values",
]
