"""What `alu fetch` and `alu tus-put` say where the engine's words were the app's or said too
little: a 401 (no sign-in here: credentials from --header and user:password@), an interrupted
run on a station without a hub profile, a DEST under a file, and a finished upload the server
no longer has."""

from __future__ import annotations

import json
from pathlib import Path

from tests.client.test_cli import run_alu

ASKED = (
    "The server asks for credentials (HTTP 401): pass them with --header 'Authorization: …' "
    "or user:password@ in the address."
)
REFUSED = (
    "The server did not accept the credentials given (HTTP 401); check the --header or the "
    "user:password in the address."
)


def test_fetch_under_a_file_is_refused_before_anything_is_queued(tmp_path: Path) -> None:
    # "inner: The file cannot be saved there (File exists)", exit 1, and a failed transfer
    # left in the queue for input that never was one
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "small.bin").write_bytes(b"x")
    home = tmp_path / "home"
    for dest in ("out/small.bin/inner", "out/small.bin/sub/inner"):
        r = run_alu(home, "fetch", "http://127.0.0.1:9/small.bin", str(tmp_path / dest))
        assert r.returncode == 2
        assert r.stderr.strip() == (
            f"alu: {tmp_path / 'out' / 'small.bin'} is a file, not a folder; choose another DEST."
        )
    listed = run_alu(home, "queue", "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stdout
