"""Search text: one normalisation for what is indexed and what is asked, and a safe FTS5 query.

The same ``normalize`` runs on an item's text before it goes into ``items_fts`` and on the
user's words before they are matched, so a search with or without accents, Arabic harakat,
another alef form or the Arabic article finds the same items. The FTS table is contentless: the
terms of an item are removed by recomputing them from the stored row, so ``normalize`` must
stay deterministic (a change to it needs the index rebuilt: a migration of the store that
remakes it, as step 6 does, or ``rebuild_fts``).
"""

from __future__ import annotations

import re
import unicodedata

# Combining marks (U+0300–U+036F) left by NFKD: the accents of é, ç, ô… (FTS5's
# remove_diacritics would fold Latin ones too; doing it here covers the query and the index alike).
_COMBINING = re.compile(r"[\u0300-\u036F]+")
# The ligatures NFKD leaves whole: French writes "sœur" and "soeur", "cœur" and "coeur" (and
# "ex æquo", "ex aequo") for the same word.
_LIGATURES = (("œ", "oe"), ("æ", "ae"))
# Arabic-Indic (٠-٩) and Eastern Arabic-Indic, Persian and Urdu (۰-۹) digits: "٢٠٢٦" is 2026.
_ARABIC_DIGITS = re.compile("[\u0660-\u0669\u06f0-\u06f9]")
_ARABIC = re.compile(r"[\u0600-\u06FF]")
# Arabic tashkeel/harakat (fathatan … sukun, maddah and hamza marks, subscript alef), the
# superscript (dagger) alef and the tatweel. NFKD has already split أ إ آ (and ؤ ئ) into a
# letter and a hamza/maddah mark of this range, so removing the marks folds those forms.
_ARABIC_MARKS = re.compile(r"[\u064B-\u065F\u0670\u0640]+")
_ARABIC_LETTERS = (
    ("ٱ", "ا"),  # alef wasla
    ("أ", "ا"),  # (composed forms, in case)
    ("إ", "ا"),
    ("آ", "ا"),
    ("ة", "ه"),  # ta marbuta
    ("ى", "ي"),  # alef maqsura
)
# The Arabic article and the particles written together with it, at the start of a word:
# ال and و/ف/ب/ك + ال (وال، فال، بال، كال، وبال…), and لل (ل + ال), and و/ف + لل; taken off when
# at least three letters remain (الانتخابات، والانتخابات، للانتخابات → انتخابات; الف, والد, لله
# stay), repeated when the rest begins with the article again, so folding twice changes nothing.
_ARTICLE_FORMS = r"(?:[وف]?(?:[بك]?ال|لل))+"
_ARTICLE = re.compile(rf"(?<!\w){_ARTICLE_FORMS}(?=[^\W\d_]{{3}})")
#: a last word this long or longer is matched as a prefix (one letter would match most of the
#: library: "a*"); ``items_fts`` keeps prefix indexes of 2 and 3 characters for these
PREFIX_MIN = 2
# What a query word is made of: letters and digits (FTS5's unicode61 splits on the rest).
_WORD = re.compile(r"[^\W_]+")


def normalize(text: str) -> str:
    """Casefolded text without Latin diacritics, Arabic harakat or tatweel, with the ligatures
    œ and æ written oe and ae, Arabic-Indic digits as 0-9, Arabic letter forms folded (أ إ آ ٱ
    → ا, ة → ه, ى → ي) and the Arabic article and its proclitics (ال، وال، بال، لل, …) taken
    off the words that carry them. Idempotent. (Plain str methods and
    simple regexes, not ``str.translate``: this runs over every script stored, 100,000s of
    them.) A change here needs the stored index rebuilt: a migration of the store does it."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    if folded.isascii():
        return folded
    folded = _COMBINING.sub("", folded)
    for ligature, letters in _LIGATURES:
        if ligature in folded:
            folded = folded.replace(ligature, letters)
    if _ARABIC.search(folded):
        folded = _ARABIC_DIGITS.sub(_digit, folded)
        folded = _ARABIC_MARKS.sub("", folded)
        for form, letter in _ARABIC_LETTERS:
            if form in folded:
                folded = folded.replace(form, letter)
        return _ARTICLE.sub("", unicodedata.normalize("NFC", folded))
    return unicodedata.normalize("NFC", folded)


def _digit(m: re.Match[str]) -> str:
    return str(unicodedata.digit(m.group()))


def words(text: str, *, strict: bool = False) -> list[str]:
    """The normalised words of a user's search text, in order. ``strict``: split further at
    any character that was not yet a letter or digit in Unicode 3.2 (SQLite's tokenizer knows
    Unicode 6.1, Python a newer one: a word Python sees as one may be two tokens to SQLite)."""
    found: list[str] = _WORD.findall(normalize(text))
    if strict:
        old = unicodedata.ucd_3_2_0
        found = [
            piece
            for w in found
            for piece in "".join(c if old.category(c)[0] in "LN" else " " for c in w).split()
        ]
    return found


def fts_query(text: str, *, strict: bool = False) -> str | None:
    """An FTS5 MATCH expression for what a user typed: every word must appear (any column),
    the last one as a prefix when it has two letters or more (the user may still be typing
    it). Each word is a quoted string, so quotes, ``*``, ``NEAR``, ``AND``, ``-`` or
    parentheses are only ever text. None when the text holds no word at all. (The index keeps
    no positions, ``detail=none``: a quoted string must be one token, which ``words`` makes
    sure of, ``strict`` even more so.)"""
    found = words(text, strict=strict)
    if not found:
        return None
    quoted = [f'"{w}"' for w in found]
    if len(found[-1]) >= PREFIX_MIN:
        quoted[-1] += "*"
        # a word still being typed after the article (البر… of البرلمان): it keeps its article
        # until three letters follow, and the index holds the word without it (برلمان)
        article = _TYPED_ARTICLE.match(found[-1])
        rest = found[-1][article.end() :] if article else ""
        if len(rest) >= PREFIX_MIN:
            quoted[-1] = f'({quoted[-1]} OR "{rest}"*)'
    return " ".join(quoted)


#: the article (and its proclitics) at the start of a word typed so far (see ``_ARTICLE``)
_TYPED_ARTICLE = re.compile(_ARTICLE_FORMS)
