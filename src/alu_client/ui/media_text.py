"""What the probe found wrong with a file, in the user's language.

``core.media`` has no Qt and words its ``MediaError`` in English, the file's name first
("clip.mp4 is empty (0 bytes)."). Each sentence it can say is a template here, marked for Qt
Linguist with ``{name}`` and ``{reason}``; ``media_problem`` finds the template a message was
made from and fills the translated one (the name isolated, a system reason through
``os_text``). A message no template matches is shown as it is. ``tests/gui/test_media_text.py``
checks that every ``MediaError`` of ``core.media`` has a template.
"""

from __future__ import annotations

import re
from functools import cache

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from . import formats
from .os_text import os_text

CONTEXT = "MediaProblem"

_MARKED = (
    QT_TRANSLATE_NOOP("MediaProblem", "{name} was not found."),
    QT_TRANSLATE_NOOP("MediaProblem", "{name} could not be opened ({reason})."),
    QT_TRANSLATE_NOOP("MediaProblem", "{name} is a folder, not a video file."),
    QT_TRANSLATE_NOOP("MediaProblem", "{name} is empty (0 bytes)."),
    QT_TRANSLATE_NOOP("MediaProblem", "{name} is not a video file we can read ({reason})."),
    QT_TRANSLATE_NOOP("MediaProblem", "{name} has no picture or sound in it."),
    QT_TRANSLATE_NOOP("MediaProblem", "{name} is a still picture, not a video file."),
    QT_TRANSLATE_NOOP("MediaProblem", "{name} has sound but no picture: it is not a video file."),
    QT_TRANSLATE_NOOP(
        "MediaProblem",
        "{name} is incomplete: it stops before the end of its video (was the copy cut short?).",
    ),
    QT_TRANSLATE_NOOP("MediaProblem", "{name} could not be decoded ({reason})."),
    QT_TRANSLATE_NOOP("MediaProblem", "{name} has no picture to make a thumbnail from."),
    QT_TRANSLATE_NOOP("MediaProblem", "the picture could not be encoded as JPEG."),
)

#: QT_TRANSLATE_NOOP hands its text back as it is (typed ``object`` by PySide6)
TEMPLATES: tuple[str, ...] = tuple(str(text) for text in _MARKED)


@cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in TEMPLATES:
        pattern = (
            re.escape(template)
            .replace(re.escape("{name}"), r"(?P<name>.+?)")
            .replace(re.escape("{reason}"), r"(?P<reason>.+)")
        )
        out.append((re.compile(pattern), template))
    return out


def match(message: str) -> str | None:
    """The template ``message`` was made from, or None."""
    for pattern, template in _patterns():
        if pattern.fullmatch(message):
            return template
    return None


def media_problem(message: str) -> str:
    """``message`` (a ``MediaError``'s text) in the user's language, naming the file once."""
    for pattern, template in _patterns():
        found = pattern.fullmatch(message)
        if found is None:
            continue
        parts = found.groupdict()
        values = {"name": formats.isolated(parts["name"])}
        if "reason" in parts:
            values["reason"] = os_text(parts["reason"])
        return QCoreApplication.translate(CONTEXT, template).format(**values)
    return message
