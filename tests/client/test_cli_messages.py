"""What `alu fetch` and `alu tus-put` say where the engine's words were the app's or said too
little: a 401 (no sign-in here: credentials from --header and user:password@), an interrupted
run on a station without a hub profile, a DEST under a file, and a finished upload the server
no longer has."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.client.test_cli import run_alu
from tests.support.tinytus import TinyTus

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


def test_tus_put_run_again_asks_the_server_whether_it_still_has_the_upload(
    tmp_path: Path,
) -> None:
    # "sent already by an earlier run…" and the old address, exit 0, for an upload the server
    # had dropped (a server wiped, restored from a backup, an expiry within the day)
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(300 * 1024))
    home = tmp_path / "home"
    with TinyTus() as server:
        first = run_alu(home, "tus-put", server.endpoint, str(path))
        assert first.returncode == 0, first.stderr
        kept = run_alu(home, "tus-put", server.endpoint, str(path))
        assert kept.returncode == 0 and kept.stdout == first.stdout, kept.stderr
        assert "; not sent again. Its address:" in kept.stderr  # (the server has it)

        server.forget_all()
        again = run_alu(home, "tus-put", server.endpoint, str(path))
        assert again.returncode == 0, again.stderr
        assert again.stderr.strip().splitlines()[0] == (
            "alu: clip.mp4: sent by an earlier run of this command (transfer 1), but the server "
            "no longer has it; it is sent again as a new upload."
        )
        assert again.stdout.strip() not in ("", first.stdout.strip())
        assert server.only_upload() == path.read_bytes()
        assert server.methods().count("POST") == 2

    # the server out of reach: the address kept, as before, and said unchecked
    unreachable = run_alu(home, "tus-put", server.endpoint, str(path))
    assert unreachable.returncode == 0, unreachable.stderr
    assert unreachable.stdout == again.stdout
    assert unreachable.stderr.strip() == (
        "alu: clip.mp4: sent already by an earlier run of this command (transfer 2); not sent "
        "again (whether the server still has it could not be checked). Its address:"
    )
