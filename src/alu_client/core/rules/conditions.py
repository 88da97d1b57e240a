"""What a rule asks of an item: text folding (French accents, Arabic letter forms and
article), ``Conditions`` and ``matches``. See the package's note for how words are looked for."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..hub import PRIORITIES, Item
from ..library.text import normalize

if TYPE_CHECKING:
    from .store import Rule

#: the condition fields a rule has, in the order a form shows them
CONDITION_FIELDS = ("categories", "regions", "countries", "languages", "priorities", "words")


class RuleError(ValueError):
    """A rule cannot be saved as given; ``str()`` says what to change."""


#: the languages the hub's items are in (its publish form offers these): a rule's language
#: condition holds these codes
LANGUAGES = ("en", "fr", "ar")
#: how a language may be typed (the code, the English, French or Arabic name, the ISO 639-2
#: code), as ``fold`` makes it: "French", "français", "الفرنسية", "fra" are all fr
_LANGUAGE_NAMES = {
    "en": ("en", "english", "anglais", "eng", "إنجليزية", "إنجليزي", "إنكليزية", "إنكليزي"),
    "fr": ("fr", "french", "français", "fra", "fre", "فرنسية", "فرنسي"),
    "ar": ("ar", "arabic", "arabe", "ara", "عربية", "عربي"),
}


def language_code(value: str) -> str | None:
    """The code of a language as a user may type it ("French", "Français", "العربية", "EN"),
    or None when it is not one of ``LANGUAGES``."""
    folded = " ".join(_WORD.findall(fold(value)))
    for code, names in _LANGUAGE_NAMES.items():
        if folded in {fold(n) for n in names}:
            return code
    return None


# --- text folding ---------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Text as rules compare it: the library's search normalisation (case, Latin accents,
    Arabic diacritics, tatweel, letter forms and article folded), so a rule's words match what
    a search for them finds."""
    return normalize(text)


#: what asks for a prefix: a ``*`` at the end of a rule's word or phrase ("vote*")
PREFIX_MARK = "*"


def _words(text: str) -> str:
    """The folded words of ``text`` joined by single spaces, with a space in front and after."""
    return " " + " ".join(_WORD.findall(fold(text))) + " "


def is_prefix(words: str) -> bool:
    """A rule's word or phrase that asks for a prefix: it ends with ``*``."""
    return words.rstrip().endswith(PREFIX_MARK)


@functools.lru_cache(maxsize=1024)
def _phrase(words: str) -> re.Pattern[str]:
    """A word or phrase to look for in ``_words(text)``: whole words ("UN" does not find "une"
    or "under", "AU" not "autorités"), the last one possibly longer when it ends with ``*``
    ("vote*" finds "voters"). The Arabic article is folded off both sides (see ``normalize``):
    "الانتخابات" finds "للانتخابات" and "انتخابات", as a search does."""
    end = "" if is_prefix(words) else " "
    return re.compile(" " + re.escape(" ".join(_WORD.findall(fold(words)))) + end)


#: a saved word of a rule made before words were whole (store migration 16) keeps its prefix
#: when its last word has at least this many letters and it is not typed in capitals
LEGACY_PREFIX_MIN = 4


def legacy_word(words: str) -> str:
    """A rule's word or phrase saved when every word was a prefix ("rain" found "rainfall"),
    as it is written now: ``rain*``, keeping that meaning; but an acronym (typed in capitals:
    "UN", "ECOWAS") or a last word of fewer than ``LEGACY_PREFIX_MIN`` letters ("un", "au") is
    a whole word from now on, which takes fewer items, never more (it took "une", "under" and
    "autorités")."""
    found = _WORD.findall(fold(words))
    if not found or is_prefix(words):
        return words
    letters = [c for c in words if c.isalpha()]
    acronym = bool(letters) and all(c.isupper() for c in letters)
    # Arabic has no capitals, and its short words take suffixes a reader means (نفط finds
    # النفطية): kept prefixes. The short words that took "une" and "under" were Latin.
    arabic = any(_is_arabic(c) for c in letters)
    if not arabic and (acronym or len(found[-1]) < LEGACY_PREFIX_MIN):
        return words
    return words.rstrip() + PREFIX_MARK


def _is_arabic(c: str) -> bool:
    """A letter of the Arabic script (its blocks, presentation forms included)."""
    n = ord(c)
    return (
        0x0600 <= n <= 0x06FF
        or 0x0750 <= n <= 0x077F
        or 0x08A0 <= n <= 0x08FF
        or 0xFB50 <= n <= 0xFDFF
        or 0xFE70 <= n <= 0xFEFF
    )


def legacy_conditions(text: str) -> str:
    """A rule's saved conditions (JSON) with its words as ``legacy_word`` writes them; what
    cannot be read is given back as it is (the rule says so when it is tried)."""
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return text
    if not isinstance(data, dict) or not isinstance(data.get("words"), list):
        return text
    data["words"] = [legacy_word(w) if isinstance(w, str) else w for w in data["words"]]
    return json.dumps(data, ensure_ascii=False)


def split_values(texts: Iterable[str] | str) -> list[str]:
    """The values a user wrote, as a rule reads them: each text split on commas, spaces
    collapsed, empty ones left out ("coup, putsch" is two words). The app's rule form and
    `alu rules add --words/--category/…` both read what was typed with this."""
    if isinstance(texts, str):
        texts = [texts]
    return [v for text in texts for v in (" ".join(p.split()) for p in text.split(",")) if v]


# --- conditions -------------------------------------------------------------------------------


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
        """``Conditions.of(languages=["fr"], words="élection, vote")``: cleaned and checked;
        a value is a text or a list of them, each split on commas (``split_values``): the app's
        form and the CLI read the same typing the same way. Raises RuleError."""
        unknown = set(values) - set(CONDITION_FIELDS)
        if unknown:
            raise RuleError(
                f"Unknown rule condition {sorted(unknown)[0]!r}; "
                f"the conditions are {', '.join(CONDITION_FIELDS)}."
            )
        kw: dict[str, tuple[str, ...]] = {}
        for name, raw in values.items():
            texts: list[Any] = [raw] if isinstance(raw, str) else list(raw)
            for v in texts:
                if not isinstance(v, str):
                    raise RuleError(f"The {name} of a rule are text, not {v!r}.")
            cleaned: list[str] = []
            for v in split_values(texts):
                if name in ("countries",):
                    v = v.upper()
                elif name == "languages":
                    v = language_code(v) or v.lower()
                elif name == "priorities":
                    v = v.lower()
                if v and v not in cleaned:
                    cleaned.append(v)
            kw[name] = tuple(cleaned)
        conditions = cls(**kw)
        conditions.check()
        return conditions

    def check(self) -> None:
        for lang in self.languages:
            if lang not in LANGUAGES:
                raise RuleError(
                    f"A language is en (English), fr (French) or ar (Arabic), not {lang!r}."
                )
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
    def unknown_languages(self) -> tuple[str, ...]:
        """The languages of a rule stored before they were checked ("xx", "german") that no
        item has: a rule with one of them and no other language matches nothing."""
        return tuple(v for v in self.languages if v not in LANGUAGES)

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
        # a language stored by name before languages were checked ("french": it matched no
        # item) is read as its code; one that is no language the hub uses stays as it is
        # (``unknown_languages``): it must not turn into "any language"
        langs = [language_code(v) or v for v in kw.get("languages", ())]
        kw["languages"] = tuple(dict.fromkeys(langs))
        return cls(**kw)


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
