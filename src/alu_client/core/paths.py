"""The one owner of the client's platform paths.

platformdirs for app name ``alu-client``; ``ALU_CLIENT_HOME=DIR`` puts everything under DIR
(tests, portable installs, a second profile on one workstation).

The data, cache and log folders are private (0700, ``core.private``): the library holds signed
links, upload URLs, embargoed scripts and the history. Made so, and those an earlier version
made with the umask tightened at start; under ``ALU_CLIENT_HOME`` existing ones only when DIR
holds nothing but ALU Desk's folders: DIR may be a folder of the user's (their home, a shared
disk) whose ``data`` or ``logs`` are theirs. DIR itself, and the downloads folder, keep the
modes they have or the umask gives them: they are the user's (a colleague may read the
footage). The library's own files are made private wherever they are (``store.db``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .fstype import UnsuitableDataFolder
from .private import private_dir

APP_NAME = "alu-client"
#: what ALU Desk puts in the ``ALU_CLIENT_HOME`` folder
HOME_FOLDERS = frozenset({"data", "cache", "logs", "downloads"})


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    cache_dir: Path
    log_dir: Path
    downloads_dir: Path
    #: the ``ALU_CLIENT_HOME`` folder, None when the folders are the platform's (ours alone)
    home: Path | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "library.sqlite3"

    @property
    def too_deep(self) -> bool:
        """Whether the library's path is longer than SQLite takes (its side files included):
        then nothing is made in the data folder, and opening the library says why."""
        from .store.problems import library_too_deep

        return library_too_deep(self.db_path)

    @property
    def engine_lock(self) -> Path:
        return self.data_dir / "engine.lock"

    @property
    def thumbnails_dir(self) -> Path:
        return self.cache_dir / "thumbnails"

    def ensure(self) -> Paths:
        """The data, cache and log folders made (private when surely ours), unless the data
        folder is too deep for the library (``too_deep``). Raises
        ``UnsuitableDataFolder`` ("hub") before anything is made when ``ALU_CLIENT_HOME`` is
        an ALU hub's data folder: taken for a new, empty profile, it was filled silently and
        the user saw an empty queue and library."""
        if self.home is not None and _a_hubs_folder(self.home):
            raise UnsuitableDataFolder(self.home, "hub")
        if self.too_deep:  # (refused at the library's opening, "nothing in it was changed":
            return self  # its folders and an empty library.sqlite3 were made before)
        tighten = self.home is None or _only_ours(self.home)
        for d in (self.data_dir, self.cache_dir, self.log_dir):
            private_dir(d, tighten=tighten)
        return self


#: what an ALU hub's data folder (``alu-hub … --data DIR``) holds
HUB_MARKERS = ("hub.sqlite3", "hub-setup.json")


def _a_hubs_folder(home: Path) -> bool:
    """Whether the ``ALU_CLIENT_HOME`` folder is an ALU hub's data folder (and holds no
    library of a workstation's: one made there before is left to work)."""
    if (home / "data" / "library.sqlite3").exists():
        return False
    return any((home / name).is_file() for name in HUB_MARKERS)


def _only_ours(home: Path) -> bool:
    """Whether the ``ALU_CLIENT_HOME`` folder holds nothing but what ALU Desk puts there (or
    does not exist yet): then its data, cache and logs folders are surely ours."""
    try:
        return set(os.listdir(home)) <= HOME_FOLDERS
    except FileNotFoundError:
        return True
    except OSError:
        return False


def default_paths(env: dict[str, str] | None = None) -> Paths:
    env = dict(os.environ) if env is None else env
    home = env.get("ALU_CLIENT_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(root / "data", root / "cache", root / "logs", root / "downloads", root)
    videos = Path(platformdirs.user_videos_dir())
    return Paths(
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        downloads_dir=videos / "ALU",
    )
