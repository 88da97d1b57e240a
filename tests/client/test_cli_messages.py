"""What `alu fetch` and `alu tus-put` say where the engine's words were the app's or said too
little: a 401 (no sign-in here: credentials from --header and user:password@), an interrupted
run on a station without a hub profile, a DEST under a file, and a finished upload the server
no longer has."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response

from alu_client.core.profiles import Profile, Profiles
from alu_client.core.store import Store
from alu_hub.server import serve_in_thread
from tests.client.test_cli import run_alu
from tests.client.test_crash import alu
from tests.support.tinytus import Bends, TinyTus
from tests.support.waiting import wait_until

ASKED = (
    "The server asks for credentials (HTTP 401): pass them with --header 'Authorization: …' "
    "or user:password@ in the address."
)
REFUSED = (
    "The server did not accept the credentials given (HTTP 401); check the --header or the "
    "user:password in the address."
)


@pytest.fixture
def basic_server():  # type: ignore[no-untyped-def]
    """A file behind Basic (bob:pw123) or an X-Api-Key (k1), as a private mirror."""
    app = FastAPI()

    @app.api_route("/f.bin", methods=["GET", "HEAD"])
    def serve(request: Request) -> Response:
        if request.headers.get("x-api-key") == "k1":
            return Response(b"x")
        return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="x"'})

    server = serve_in_thread(app)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("userinfo", "extra", "said"),
    [
        # "Check the credentials given": none were
        ("", [], ASKED),
        # "sign in again, then retry": there is no sign-in to make
        ("bob:wrong@", [], REFUSED),
        ("", ["--header", "Authorization: Bearer wrong"], REFUSED),
        ("", ["--header", "X-Api-Key: wrong"], REFUSED),
    ],
)
def test_fetch_says_a_401_in_terms_of_the_credentials_it_takes(
    tmp_path: Path, basic_server: str, userinfo: str, extra: list[str], said: str
) -> None:
    url = basic_server.replace("://", f"://{userinfo}") + "/f.bin"
    r = run_alu(tmp_path / "home", "fetch", url, str(tmp_path / "f.bin"), *extra)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == f"alu: f.bin: {said}", r.stderr


@pytest.mark.parametrize(
    ("extra", "said"),
    [([], ASKED), (["--header", "Authorization: Bearer wrong"], REFUSED)],
)
def test_tus_put_says_a_401_in_terms_of_the_credentials_it_takes(
    tmp_path: Path, extra: list[str], said: str
) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(64 * 1024))
    with TinyTus(Bends(auth="Bearer right")) as server:
        r = run_alu(tmp_path / "home", "tus-put", server.endpoint, str(path), *extra)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == f"alu: clip.mp4: {said}", r.stderr


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


def _bytes_done(home: Path) -> int:
    listed = run_alu(home, "queue", "list", "--json")
    return sum(int(t["bytes_done"]) for t in json.loads(listed.stdout or "[]"))


def _interrupted_put_says(home: Path, endpoint: str, path: Path) -> str:
    before = _bytes_done(home)
    put = alu(home, "tus-put", endpoint, str(path), "--limit", "200KB", "--chunk-size", "256K")
    try:
        wait_until(
            lambda: put.poll() is not None or _bytes_done(home) > before, 30, what="bytes out"
        )
    finally:
        put.send_signal(signal.SIGINT)
    _, err = put.communicate(timeout=20)
    assert put.returncode == 130, err
    return err.strip().splitlines()[-1]


def test_an_interrupted_run_names_the_app_only_where_a_hub_profile_is(tmp_path: Path) -> None:
    # "the app or alu watch run may finish it": on a station never signed in to a hub,
    # `alu watch run` refuses to start ("Not signed in to any hub yet")
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    home = tmp_path / "home"
    with TinyTus() as server:
        assert _interrupted_put_says(home, server.endpoint, path) == (
            "alu: Interrupted; run the same command again to resume. Transfer 1 stays queued; "
            "alu queue cancel 1 drops it."
        )
        store = Store(home / "data" / "library.sqlite3")
        try:
            Profiles(store).save(Profile("ann@hub", "https://hub.alu.africa", "ann"))
        finally:
            store.close()
        assert _interrupted_put_says(home, server.endpoint, path) == (
            "alu: Interrupted; run the same command again to resume. Transfer 1 stays queued: "
            "the app or alu watch run may finish it (without this command's --header and "
            "--limit); alu queue cancel 1 drops it."
        )


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
