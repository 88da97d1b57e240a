"""The one owner of the client's platform paths.

platformdirs for app name ``alu-client``; ``ALU_CLIENT_HOME=DIR`` puts everything under DIR
(tests, portable installs, a second profile on one workstation).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "alu-client"


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    cache_dir: Path
    log_dir: Path
    downloads_dir: Path

    @property
    def db_path(self) -> Path:
        return self.data_dir / "library.sqlite3"

    @property
    def engine_lock(self) -> Path:
        return self.data_dir / "engine.lock"

    @property
    def thumbnails_dir(self) -> Path:
        return self.cache_dir / "thumbnails"

    def ensure(self) -> Paths:
        for d in (self.data_dir, self.cache_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self


def default_paths(env: dict[str, str] | None = None) -> Paths:
    env = dict(os.environ) if env is None else env
    home = env.get("ALU_CLIENT_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(root / "data", root / "cache", root / "logs", root / "downloads")
    videos = Path(platformdirs.user_videos_dir())
    return Paths(
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        downloads_dir=videos / "ALU",
    )
