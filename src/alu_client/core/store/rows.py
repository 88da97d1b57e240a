"""Reading a library row that may be damaged: SQLite keeps any type in any column, so a row
edited by hand or half-written holds text where a number belongs, or JSON that is not.

``RowReader`` gives each value as its column should hold it, or a stand-in, and names the
fields it replaced in ``damaged``: one bad row becomes one record said to be damaged, never an
exception that stops a list, a verb or the app (first done for the transfer queue's rows, see
``Transfer.from_row``). ``warn_damaged`` says it in the log, once per record and process.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
from collections.abc import Collection, Mapping
from typing import Any

log = logging.getLogger(__name__)


class RowReader:
    """The values of one row, each read as its column's type or replaced by a stand-in."""

    def __init__(self, row: Mapping[str, Any] | Any) -> None:
        self.values: dict[str, Any] = dict(row)
        self.bad: list[str] = []

    @property
    def damaged(self) -> str:
        """The fields replaced by stand-ins, comma-separated ('' when the row was sound)."""
        return ", ".join(self.bad)

    def replace(self, name: str, default: Any) -> Any:
        """``default`` for ``name``, which is then said to be damaged."""
        if name not in self.bad:
            self.bad.append(name)
        return default

    def choice(self, name: str, allowed: Collection[Any], default: Any) -> Any:
        """One of ``allowed`` (a state, a priority), else ``default``."""
        value = self.values.get(name)
        return value if value in allowed else self.replace(name, default)

    def number(self, name: str, default: float | None, *, integer: bool = False) -> Any:
        """A number (an int when ``integer``); NULL is kept only where ``default`` is None."""
        value = self.values.get(name)
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.replace(name, default)
        if integer:  # (a REAL column may hold Infinity, which is no count of anything)
            return int(value) if math.isfinite(value) else self.replace(name, default)
        return value

    def integer(self, name: str, default: int) -> int:
        return int(self.number(name, default, integer=True))

    def integer_or_none(self, name: str) -> int | None:
        value: int | None = self.number(name, None, integer=True)
        return value

    def real(self, name: str, default: float) -> float:
        return float(self.number(name, default))

    def real_or_none(self, name: str) -> float | None:
        value = self.number(name, None)
        return None if value is None else float(value)

    def flag(self, name: str, default: bool = False) -> bool:
        """A 0/1 column (a text like 'yes' is no answer: the default, which is the safe one)."""
        value = self.values.get(name)
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        return bool(self.replace(name, default))

    def text(self, name: str, default: str = "") -> str:
        value = self.values.get(name)
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # a number typed in a text column reads as its digits
        return str(self.replace(name, default))

    def text_or_none(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else self.text(name)

    def json_object(self, name: str) -> dict[str, Any]:
        """A JSON object kept as text; NULL or '' is an empty one."""
        try:
            value = json.loads(self.values.get(name) or "{}")
        except (TypeError, ValueError):
            value = None
        if not isinstance(value, dict):
            return dict(self.replace(name, {}))
        return value

    def json_list(self, name: str) -> list[Any]:
        """A JSON array kept as text; NULL or '' is an empty one."""
        try:
            value = json.loads(self.values.get(name) or "[]")
        except (TypeError, ValueError):
            value = None
        if not isinstance(value, list):
            return list(self.replace(name, []))
        return value

    def when_or_none(self, name: str) -> dt.datetime | None:
        """An ISO 8601 time kept as text (UTC when it says no zone); NULL or '' is None."""
        value = self.values.get(name)
        if not value:
            return None
        try:
            t = dt.datetime.fromisoformat(str(value))
        except ValueError:
            self.replace(name, None)
            return None
        return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


_warned: set[tuple[str, str, str]] = set()
_warned_lock = threading.Lock()


def warn_damaged(table: str, key: object, damaged: str, advice: str) -> None:
    """Log that a row of ``table`` (``key`` says which: an id or name, never a secret) could
    not be read in full, and what to do; once per row and fields in a process (lists are read
    again every few seconds)."""
    if not damaged:
        return
    mark = (table, str(key), damaged)
    with _warned_lock:
        if mark in _warned:
            return
        _warned.add(mark)
    log.warning(
        "%s %s: its record in the library is damaged (cannot read %s); %s",
        table,
        key,
        damaged,
        advice,
    )
