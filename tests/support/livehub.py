"""A real hub on 127.0.0.1 with a random port and a temp data folder, per test.

The fixtures `live_hub` and `clip` are registered in tests/conftest.py for every test folder.

Every hub the tests make gets its database from ``hub_settings`` / ``hub_database_url``: SQLite
in its data folder, or its own database on the session's throwaway PostgreSQL server
(tests/support/postgres.py) when the test runs on PostgreSQL (``ALU_TEST_DATABASE=postgresql``,
``--hub-db=postgresql``, or the ``postgresql`` side of the tests run on both; tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from alu_hub.app import build_hub, create_app
from alu_hub.demo import ensure_member
from alu_hub.hub import Hub
from alu_hub.media import generate_clip
from alu_hub.publish import ItemFields, publish_file
from alu_hub.server import RunningHub, serve_in_thread
from alu_hub.settings import Settings
from tests.support import postgres

if TYPE_CHECKING:
    from alu_client.core.services import Services

#: The databases a hub can get in the tests.
DATABASES = ("sqlite", "postgresql")
_database = "sqlite"


def hub_database() -> str:
    """The database the hubs of the running test get: ``sqlite`` or ``postgresql``."""
    return _database


def use_database(kind: str) -> str:
    """Make the hubs started from now on use ``kind``; returns the previous kind."""
    global _database
    if kind not in DATABASES:
        raise ValueError(f"unknown hub database {kind!r}: one of {', '.join(DATABASES)}")
    previous, _database = _database, kind
    return previous


def hub_database_url(data_dir: Path) -> str:
    """The database URL of the hub whose data folder is ``data_dir``: its SQLite file, or its
    own PostgreSQL database (the same one every time for one folder: replicas, restarts)."""
    if _database == "postgresql":
        return postgres.shared_cluster().database_for(data_dir.resolve())
    return f"sqlite:///{data_dir / 'hub.sqlite3'}"


def hub_settings(data_dir: Path, **settings: object) -> Settings:
    """``Settings`` for a hub in ``data_dir`` on the test's database."""
    if _database != "sqlite" and "database_url" not in settings:
        settings["database_url"] = hub_database_url(data_dir)
    return Settings(data_dir=data_dir, **settings)  # type: ignore[arg-type]


def hub_env(data_dir: Path) -> dict[str, str]:
    """Environment for an ``alu-hub`` process on ``data_dir``: the test's database too."""
    env = dict(os.environ)
    env.pop("ALU_HUB_DATABASE_URL", None)
    if _database != "sqlite":
        env["ALU_HUB_DATABASE_URL"] = hub_database_url(data_dir)
    return env


def database_bytes(hub: Hub) -> bytes:
    """All the hub's database holds, as bytes, to look for what must never be stored: the
    SQLite files (the write-ahead log included), or a ``pg_dump`` of every row."""
    url = hub.db.url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    if url.startswith("postgresql"):
        return postgres.shared_cluster().dump(url)
    raise ValueError(f"no way to read the database {url.split(':', 1)[0]}")


@dataclass
class LiveHub:
    hub: Hub
    server: RunningHub
    tmp: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, path: str) -> str:
        return f"{self.server.url}/api/v1{path}"

    def member(
        self, username: str, password: str = "pw-1234", *, role: str = "member", country: str = "KE"
    ) -> None:
        ensure_member(self.hub, username, password, country=country, role=role)

    def workstation(self, root: Path, username: str, password: str) -> Services:
        """A workstation's core signed in to this hub as ``username`` (a member already made):
        its data, cache, logs and downloads under ``root``, the engine not started."""
        from alu_client.core.credentials import MemorySecrets
        from alu_client.core.paths import Paths
        from alu_client.core.profiles import Profiles, sign_in
        from alu_client.core.services import Services
        from alu_client.core.store import Store

        paths = Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()
        secrets = MemorySecrets()
        store = Store(paths.db_path)
        try:
            sign_in(Profiles(store), secrets, self.url, username, password, allow_http=True)
        finally:
            store.close()
        return Services(paths, secrets)

    def login(self, username: str, password: str = "pw-1234") -> requests.Session:
        """A requests session signed in as ``username`` (created if needed)."""
        self.member(username, password)
        r = requests.post(
            self.api("/session"),
            json={"username": username, "password": password, "device": "pytest"},
            timeout=10,
        )
        r.raise_for_status()
        token = r.json()["token"]
        self.tokens[username] = token
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        return s

    def publish(self, clip: Path, title: str = "Test item", **kw: str) -> str:
        item = publish_file(self.hub, clip, ItemFields(title=title, **kw), kind="push")
        return item.id


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short real H.264 + AAC clip, made once per test session."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    generate_clip(path, seconds=1.0, width=320, height=240, seed=7)
    return path


@pytest.fixture(scope="session")
def other_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another short real clip, other bytes than ``clip``: a member's own footage on a hub
    where ``clip`` is published (the hub refuses a member's upload of bytes already on the
    network as someone else's item)."""
    path = tmp_path_factory.mktemp("media") / "other.mp4"
    generate_clip(path, seconds=1.0, width=320, height=240, seed=8)
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def start_hub(tmp: Path, **settings: object) -> LiveHub:
    s = hub_settings(tmp / "hub", **settings)
    hub = build_hub(s)
    server = serve_in_thread(create_app(s, hub))
    return LiveHub(hub=hub, server=server, tmp=tmp)


@pytest.fixture
def live_hub(tmp_path: Path) -> Iterator[LiveHub]:
    h = start_hub(tmp_path)
    yield h
    h.server.stop()
    h.hub.db.dispose()
    shutil.rmtree(tmp_path / "hub", ignore_errors=True)
