"""A rendition being sent when its item is withdrawn stops within seconds, whichever process
withdrew it (``download_guard``); a download the withdrawal does not concern goes on to its end."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from alu_hub.changes import correct, withdraw
from alu_hub.hub import Hub
from alu_hub.models import Rendition
from tests.support.waiting import wait_until

from .conftest import LiveHub
from .test_cli_item_changes import hub_cli

pytestmark = pytest.mark.timeout(180)


def _other_process(live: LiveHub) -> Hub:
    """The hub as another process (a replica, a worker) sees it: its own services on the same
    database and files."""
    from alu_hub.app import build_hub

    return build_hub(live.hub.settings, upgrade=False)


def _enlarge(live: LiveHub, item_id: str, size: int) -> Path:
    """Make the item's broadcast file ``size`` bytes long (sparse: zeros past the clip)."""
    with live.hub.db.session() as s:
        key = s.query(Rendition.storage_key).filter_by(item_id=item_id, name="broadcast").scalar()
    path = live.hub.storage.local_path(key)
    assert path is not None
    os.truncate(path, size)
    return path


class SlowDownload:
    """A GET read slowly over a small receive window (as over a slow link), on a thread."""

    def __init__(self, live: LiveHub, path: str, token: str, extra: str = "") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        self.sock.connect((live.server.host, live.server.port))
        self.sock.sendall(
            f"GET /api/v1{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"{extra}\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            got = self.sock.recv(1024)
            assert got, head
            head += got
        self.head, _, first = head.partition(b"\r\n\r\n")
        length = [
            line.split(b":", 1)[1]
            for line in self.head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ]
        self.length = int(length[0])
        self.received = len(first)
        self.ended_at: float | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while self.received < self.length:
                got = self.sock.recv(64 * 1024)
                if not got:
                    break
                self.received += len(got)
                time.sleep(0.02)  # at most ~3 MB/s
        except OSError:  # reset: ended too
            pass
        self.ended_at = time.monotonic()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(5)


@pytest.mark.parametrize("ranged", [False, True], ids=["whole", "range"])
def test_a_download_under_way_stops_soon_after_another_process_withdraws_the_item(
    live_hub: LiveHub, clip: Path, ranged: bool
) -> None:
    item_id = live_hub.publish(clip, title="Floods")
    size = 1 << 30  # ~6 minutes at the reader's pace
    _enlarge(live_hub, item_id, size)
    member = live_hub.login("ktn")
    path = f"/items/{item_id}/renditions/broadcast"
    download = SlowDownload(
        live_hub, path, live_hub.tokens["ktn"], "Range: bytes=1000-\r\n" if ranged else ""
    )
    try:
        assert download.head.startswith(b"HTTP/1.1 206" if ranged else b"HTTP/1.1 200")
        wait_until(lambda: download.received > 1 << 20, what="the download under way")
        other = _other_process(live_hub)  # its own services: nothing of this process's
        try:
            withdraw(other, item_id, "Embargo broken")
        finally:
            other.db.dispose()
        withdrawn = time.monotonic()
        wait_until(lambda: download.ended_at is not None, timeout=15, what="the download to stop")
        assert download.ended_at is not None
        assert download.ended_at - withdrawn < 8
        assert download.received < download.length
    finally:
        download.close()
    # the client resumes: told why
    again = member.get(
        live_hub.api(path), headers={"Range": f"bytes={download.received}-"}, timeout=10
    )
    assert again.status_code == 410
    assert again.json()["error"]["code"] == "item_withdrawn"


def test_the_operator_s_withdrawal_stops_a_download_under_way(
    live_hub: LiveHub, clip: Path
) -> None:
    item_id = live_hub.publish(clip, title="Floods")
    _enlarge(live_hub, item_id, 1 << 30)
    live_hub.login("ktn")
    download = SlowDownload(
        live_hub, f"/items/{item_id}/renditions/broadcast", live_hub.tokens["ktn"]
    )
    try:
        wait_until(lambda: download.received > 1 << 20, what="the download under way")
        r = hub_cli(live_hub, "items", "withdraw", "1", "--reason", "Embargo broken")
        assert r.returncode == 0, r.stderr
        done = time.monotonic()
        wait_until(lambda: download.ended_at is not None, timeout=15, what="the download to stop")
        assert download.ended_at is not None and download.ended_at - done < 8
        assert download.received < download.length
    finally:
        download.close()


def test_a_download_goes_on_to_its_end_through_another_item_s_change(
    live_hub: LiveHub, clip: Path
) -> None:
    item_id = live_hub.publish(clip, title="Floods")
    path = _enlarge(live_hub, item_id, 24 << 20)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    member = live_hub.login("ktn")
    digest = hashlib.sha256()
    corrected = False
    with member.get(
        live_hub.api(f"/items/{item_id}/renditions/broadcast"), stream=True, timeout=30
    ) as r:
        assert r.status_code == 200
        started = time.monotonic()
        for chunk in r.iter_content(1 << 20):
            digest.update(chunk)
            if not corrected:  # the changes' counter moves while it is sent: the item is not
                other = _other_process(live_hub)  # withdrawn, it goes on
                try:
                    correct(other, item_id, {"title": "Floods in Kisumu"}, "Place in the title")
                finally:
                    other.db.dispose()
                corrected = True
            time.sleep(0.2)  # ~5 s in all: past two checks
    assert time.monotonic() - started > 4
    assert digest.hexdigest() == expected
