"""`alu fetch` and `alu tus-put` start without what they do not use: a script may run one for
every file, and the hub client, the library, the keyring and the hot folders' watchdog cost
~60 ms of each start (issue 3's loopback benchmark times `alu fetch` whole)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

#: modules a transfer verb has no use for (the hub verbs' and the app's)
NOT_FOR_TRANSFERS = (
    "alu_client.cli.account_verbs",
    "alu_client.cli.item_verbs",
    "alu_client.cli.item_lines",
    "alu_client.cli.queue_verbs",
    "alu_client.cli.library_verbs",
    "alu_client.cli.rules_verbs",
    "alu_client.cli.watch_verbs",
    "alu_client.core.hub",
    "alu_client.core.credentials",
    "alu_client.core.services",
    "alu_client.core.library",
    "alu_client.core.watch",
    "alu_client.core.sync",
    "keyring",
    "watchdog",
)

#: runs `alu` in a fresh interpreter, then prints the modules it had loaded
RUN_AND_LIST = """
import json, sys
from alu_client.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """A plain HTTP server (the standard library's) on 127.0.0.1 serving ``tmp_path/www``."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "clip.bin").write_bytes(os.urandom(300_000))
    handler = functools.partial(_Quiet, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def alu_listing(home: Path, *args: str) -> tuple[int, list[str]]:
    env = {**os.environ, "ALU_CLIENT_HOME": str(home)}
    r = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    said = json.loads(r.stdout.strip().splitlines()[-1])
    return int(said["status"]), list(said["modules"])


def test_fetch_loads_neither_the_hub_client_nor_the_library_nor_the_keyring(
    served: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    # the data folder's first run (it makes the store) and a later one
    for name in ("first.bin", "a.bin"):
        status, modules = alu_listing(home, "fetch", f"{served}/clip.bin", str(tmp_path / name))
        assert status == 0
        assert (tmp_path / name).read_bytes() == (tmp_path / "www" / "clip.bin").read_bytes()
        loaded = [m for m in modules if m.split(".")[0] in ("alu_client", "keyring", "watchdog")]
        unused = [m for m in loaded if m.startswith(NOT_FOR_TRANSFERS)]
        assert unused == [], (name, unused)
        assert "alu_client.core.transfers.download" in modules  # (what it did use is listed)


def run_alu(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alu_client.cli", *args],
        env={**os.environ, "ALU_CLIENT_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [["--help"], ["-v", "--help"], ["fetc", "x"]],
    ids=["help", "verbose help", "a verb mistyped"],
)
def test_a_command_line_naming_no_transfer_verb_knows_every_verb(
    tmp_path: Path, args: list[str]
) -> None:
    r = run_alu(tmp_path / "home", *args)
    said = r.stdout + r.stderr
    for verb in ("fetch", "tus-put", "login", "feed", "queue", "library", "rules", "watch"):
        assert verb in said, said


def test_verbose_before_a_transfer_verb_is_still_a_transfer_verb(tmp_path: Path) -> None:
    r = run_alu(tmp_path / "home", "-v", "tus-put", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: alu tus-put"), r.stderr
