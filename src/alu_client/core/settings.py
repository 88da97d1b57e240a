"""The workstation's preferences, in the store's ``settings`` table (one value per key, JSON).

Typed properties with defaults; a value that cannot be read (edited by hand, written by a newer
version) falls back to its default rather than stopping the app. Nothing secret lives here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .store import Store, peek
from .transfers.rates import MIN_RATE_BPS
from .transfers.schedule import Schedule
from .uploads import LANGUAGES as ITEM_LANGUAGES

LANGUAGES = ("system", "en", "fr", "ar")


def saved_language(db_path: Path) -> str:
    """The language chosen in Settings, read from the library file without opening it as a
    store (before an update's migration has run: its progress is said in that language)."""
    raw = peek(db_path, "SELECT value FROM settings WHERE key = 'app.language'")
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    return value if isinstance(value, str) and value in LANGUAGES else "system"


class AppSettings:
    def __init__(self, store: Store, default_downloads: Path) -> None:
        self.store = store
        self.default_downloads = default_downloads

    # --- raw ----------------------------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        row = self.store.query_one("SELECT value FROM settings WHERE key = ?", (f"app.{key}",))
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except ValueError:
            return default

    def set(self, key: str, value: Any) -> None:
        with self.store.write() as c:
            c.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (f"app.{key}", json.dumps(value)),
            )

    def _typed(self, key: str, kind: type, default: Any) -> Any:
        value = self.get(key, default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        return value if isinstance(value, kind) else default

    # --- typed --------------------------------------------------------------------------------

    @property
    def language(self) -> str:
        value = self._typed("language", str, "system")
        return str(value) if value in LANGUAGES else "system"

    @language.setter
    def language(self, value: str) -> None:
        if value not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        self.set("language", value)

    @property
    def rule_words_notice(self) -> bool:
        """Whether Settings › Auto-download is still to say that the words of the rules saved
        before the update that made them whole words (store migration 16) match whole words
        now, and a trailing * a prefix; set by that update, cleared once the notice is seen."""
        return bool(self._typed("rule_words_notice", bool, False))

    @rule_words_notice.setter
    def rule_words_notice(self, value: bool) -> None:
        self.set("rule_words_notice", bool(value))

    @property
    def download_dir(self) -> Path:
        value = self._typed("download_dir", str, "")
        return Path(value) if value else self.default_downloads

    @download_dir.setter
    def download_dir(self, value: Path) -> None:
        self.set("download_dir", str(value))

    @property
    def max_downloads(self) -> int:
        return max(1, min(8, int(self._typed("max_downloads", int, 2))))

    @max_downloads.setter
    def max_downloads(self, value: int) -> None:
        self.set("max_downloads", max(1, min(8, int(value))))

    @property
    def max_uploads(self) -> int:
        return max(1, min(4, int(self._typed("max_uploads", int, 1))))

    @max_uploads.setter
    def max_uploads(self, value: int) -> None:
        self.set("max_uploads", max(1, min(4, int(value))))

    def _rate(self, key: str) -> float | None:
        """A bandwidth limit in bytes per second, None for unlimited. One under the floor the
        CLI and Settings accept (``MIN_RATE_BPS``) cannot be read either: none of them wrote
        it (a hand edit, a damaged value), and applied as it is, 1e-300 moved a first block
        and then nothing for ever, with no reason given."""
        value = self._typed(key, float, None)
        return value if value is not None and value >= MIN_RATE_BPS else None

    @property
    def limit_down(self) -> float | None:
        """Bytes per second; None = unlimited."""
        return self._rate("limit_down")

    @limit_down.setter
    def limit_down(self, value: float | None) -> None:
        self.set("limit_down", value)

    @property
    def limit_up(self) -> float | None:
        return self._rate("limit_up")

    @limit_up.setter
    def limit_up(self, value: float | None) -> None:
        self.set("limit_up", value)

    @property
    def schedule(self) -> Schedule | None:
        value = self.get("schedule")
        if not value:
            return None
        try:
            return Schedule.from_json(value)
        except (ValueError, TypeError, KeyError):
            return None

    @schedule.setter
    def schedule(self, value: Schedule | None) -> None:
        self.set("schedule", value.to_json() if value is not None else None)

    @property
    def close_to_tray(self) -> bool:
        return bool(self._typed("close_to_tray", bool, True))

    @close_to_tray.setter
    def close_to_tray(self, value: bool) -> None:
        self.set("close_to_tray", bool(value))

    @property
    def start_at_login(self) -> bool:
        return bool(self._typed("start_at_login", bool, False))

    @start_at_login.setter
    def start_at_login(self, value: bool) -> None:
        self.set("start_at_login", bool(value))

    @property
    def notify(self) -> bool:
        """Notifications for flash/urgent pushes and finished or failed transfers."""
        return bool(self._typed("notify", bool, True))

    @notify.setter
    def notify(self, value: bool) -> None:
        self.set("notify", bool(value))

    @property
    def upload_language(self) -> str:
        """The language of the items last sent from the upload form ('' before the first):
        the next form starts in it."""
        value = self._typed("upload_language", str, "")
        return str(value) if value in ITEM_LANGUAGES else ""

    @upload_language.setter
    def upload_language(self, value: str) -> None:
        if value not in ITEM_LANGUAGES:
            raise ValueError(f"an item's language is one of {', '.join(ITEM_LANGUAGES)}")
        self.set("upload_language", value)
