"""A real hub on 127.0.0.1 with a random port and a temp data folder, per test.

The fixtures `live_hub` and `clip` are registered in tests/conftest.py for every test folder.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from alu_hub.app import build_hub, create_app
from alu_hub.demo import ensure_member
from alu_hub.hub import Hub
from alu_hub.media import generate_clip
from alu_hub.publish import ItemFields, publish_file
from alu_hub.server import RunningHub, serve_in_thread
from alu_hub.settings import Settings


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


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def start_hub(tmp: Path, **settings: object) -> LiveHub:
    s = Settings(data_dir=tmp / "hub", **settings)  # type: ignore[arg-type]
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
