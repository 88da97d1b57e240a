"""The `alu` hub verbs end to end, as a user types them, against a real hub on loopback:
sign in, pull the feed, get an item (verified, in the library, searchable in French and Arabic),
put a file (becomes an item others see), the history from a second data folder, queue, doctor,
sign out, and the clear message when no keyring exists."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import http.server
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alu_hub.media import generate_clip
from alu_hub.models import Token
from tests.support.livehub import LiveHub, start_hub
from tests.support.waiting import wait_until

PASSWORD = "pw-cli-hub-1"


def alu(home: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:  # fmt: skip
    full_env = {
        **os.environ,
        "ALU_CLIENT_HOME": str(home),
        "ALU_SECRETS": "insecure-file",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "alu_client.cli", *args],
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def login(home: Path, hub: LiveHub, user: str = "ktn") -> None:
    out = ok(alu(home, "login", hub.url, "--user", user, "--password-stdin", "--allow-http",
                 stdin=PASSWORD + "\n"))  # fmt: skip
    assert f"Signed in to {hub.url}" in out


def feed(home: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(ok(alu(home, "feed", "--json")))
    return data


def test_a_members_day_on_the_command_line(live_hub: LiveHub, clip: Path, tmp_path: Path) -> None:
    live_hub.member("ktn", PASSWORD)
    live_hub.member("rts", PASSWORD, country="SN")
    home = tmp_path / "ktn-desk"
    login(home, live_hub)
    item_id = live_hub.publish(
        clip,
        title="Élections à Dakar : la campagne s'achève",
        language="fr",
        script="Les électeurs sénégalais votent dimanche.",
        shotlist="أَنْصارُ المُرَشَّحِ في شَوارِعِ دَكار",
        restrictions="No access Senegal",
    )

    items = feed(home)
    assert [i["id"] for i in items] == [item_id]
    assert items[0]["files"] == []
    # what the app shows in its detail pane (the CLI said nothing of the restrictions)
    assert items[0]["restrictions"] == "No access Senegal"
    assert items[0]["script"] == "Les électeurs sénégalais votent dimanche."
    listed = ok(alu(home, "feed", "--offline"))
    assert "Restrictions: No access Senegal" in listed

    got = alu(home, "get", item_id)
    out = ok(got)
    assert "usage restrictions: No access Senegal" in got.stderr
    path = Path(out.removesuffix("\n"))  # the path alone
    assert path.parent == home / "downloads"
    assert (
        hashlib.sha256(path.read_bytes()).hexdigest()
        == hashlib.sha256(clip.read_bytes()).hexdigest()
    )
    assert not list(path.parent.glob("*.part"))

    # In the library, found without accents and in Arabic without diacritics.
    for words in (["elections", "dakar"], ["electeurs"], ["انصار", "شوارع"]):
        found = json.loads(ok(alu(home, "library", "search", *words, "--json")))
        assert [i["id"] for i in found] == [item_id], words
        assert found[0]["files"][0]["state"] == "present"
    assert json.loads(ok(alu(home, "library", "search", "football", "--json"))) == []
    # nothing found is said (it printed nothing, read as a command that did nothing)
    none = ok(alu(home, "library", "search", "football"))
    assert none == "No item in the library matches “football”.\n"
    none = ok(alu(home, "library", "search", "dakar", "--language", "ar"))
    assert none == "No item in the library matches “dakar” among the items so filtered.\n"

    # Upload a member item: it becomes an item the others see.
    own = tmp_path / "nairobi_floods.mp4"
    generate_clip(own, seconds=1.0, width=320, height=240, seed=11)
    out = ok(alu(home, "put", str(own), "--title", "Nairobi floods", "--language", "en",
                 "--country", "KE", "--category", "weather"))  # fmt: skip
    assert "published as item" in out
    uploaded_id = out.strip().rsplit(" ", 1)[-1]
    other = tmp_path / "rts-desk"
    login(other, live_hub, "rts")
    seen = {i["id"]: i for i in feed(other)}
    assert seen[uploaded_id]["kind"] == "member_upload"
    assert seen[uploaded_id]["title"] == "Nairobi floods"

    # The history: this desk's download, seen from a second data folder of the same member.
    second = tmp_path / "ktn-laptop"
    login(second, live_hub)
    events = json.loads(ok(alu(second, "history", "--json")))
    kinds = {(e["type"], e["item_id"]) for e in events}
    assert ("download_completed", item_id) in kinds
    assert any(t == "upload_completed" for t, _ in kinds)

    queue = json.loads(ok(alu(home, "queue", "list", "--all", "--json")))
    assert {(t["direction"], t["state"]) for t in queue} == {
        ("download", "done"),
        ("upload", "done"),
    }

    whoami = json.loads(ok(alu(home, "whoami", "--json")))
    assert whoami["username"] == "ktn" and whoami["hub"] == live_hub.url

    doctor = alu(home, "doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "signed in: Signed in as ktn." in doctor.stdout

    ok(alu(home, "logout"))
    after = alu(home, "whoami")
    assert after.returncode == 1
    assert "sign in" in after.stderr.lower()
    assert "Traceback" not in after.stderr

    # Nothing secret in the data folder's database or logs (the token file is the one
    # deliberately insecure store these tests chose).
    for f in home.rglob("*"):
        if f.is_file() and "secrets-NOT-SECURE" not in f.name:
            data = f.read_bytes()
            assert PASSWORD.encode() not in data, f
            for token in live_hub.tokens.values():
                assert token.encode() not in data, f


def test_sync_counts_the_new_items_of_a_large_library(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # the count came from two library counts capped at 10,000: "0 new items" on any library
    # that large, which docs/operations.md tells support to read after a hub restore
    from alu_client.core.library import upsert_items
    from alu_client.core.paths import default_paths
    from alu_client.core.profiles import Profiles
    from alu_client.core.store import Store
    from tests.client.test_library import make_item

    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    store = Store(default_paths({"ALU_CLIENT_HOME": str(home)}).db_path)
    try:
        profile = Profiles(store).active()
        assert profile is not None
        old = [make_item(n, id=f"old{n:06d}") for n in range(1, 10_006)]  # a year and more
        upsert_items(store, profile.name, old)
    finally:
        store.close()
    for n in range(3):
        live_hub.publish(clip, title=f"New push {n}")
    out = ok(alu(home, "sync"))
    assert out.startswith("3 new items;"), out


def test_get_into_a_download_folder_that_is_gone_is_one_line(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    from alu_client.core.paths import default_paths
    from alu_client.core.settings import AppSettings
    from alu_client.core.store import Store

    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    paths = default_paths({"ALU_CLIENT_HOME": str(home)})
    store = Store(paths.db_path)
    try:
        AppSettings(store, paths.downloads_dir).download_dir = tmp_path / "unplugged" / "ALU"
    finally:
        store.close()
    item_id = live_hub.publish(clip, title="Bamako rains")
    got = alu(home, "get", item_id)
    assert got.returncode == 1, got.stderr
    assert "\nalu: The download folder " in got.stderr and "Traceback" not in got.stderr


def test_get_prints_the_files_path_alone_on_stdout(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # `f=$(alu get ID)` in a script (README): stdout was "PATH (502.7 KB, sha256 verified)"
    # or "PATH (already downloaded)", no path at all; how the file came is said on stderr
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    item_id = live_hub.publish(clip, title="Lagos port", restrictions="No access Nigeria")
    runs = [
        (["--proxy"], "sha256 verified"),
        ([], "sha256 verified"),
        (["--proxy"], "already downloaded; nothing was fetched"),
        ([], "already downloaded; nothing was fetched"),
    ]
    paths: dict[bool, Path] = {}
    for args, how in runs:
        got = alu(home, "get", item_id, *args)
        assert got.returncode == 0, got.stderr
        path = Path(got.stdout.removesuffix("\n"))
        assert got.stdout == f"{path}\n" and path.is_absolute() and path.is_file(), got.stdout
        assert path.parent == home / "downloads"
        assert path.name.endswith(".proxy.mp4") == bool(args)
        assert paths.setdefault(bool(args), path) == path  # the same file the second time
        said = [line for line in got.stderr.splitlines() if "ALU_SECRETS" not in line]
        assert said[0].startswith(f"alu: {path.name}: ") and said[0].endswith(how), said
        assert said[1:] == ["alu: usage restrictions: No access Nigeria"], said
    assert paths[False].read_bytes() == clip.read_bytes()
    # another data folder beside that download folder (made anew, or another workstation's
    # on a shared folder): the file there is checked and taken, and said so ("2.0 MB,
    # sha256 verified" read as a download)
    other = tmp_path / "desk-2"
    login(other, live_hub)
    got = alu(other, "get", item_id, "--dest", str(home / "downloads"))
    assert got.returncode == 0, got.stderr
    assert got.stdout == f"{paths[False]}\n"
    assert "sha256 verified, already in the folder, nothing fetched" in got.stderr, got.stderr


def test_get_and_put_draw_no_progress_after_their_result_on_a_terminal(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # the progress line was drawn again after the result ("…  100.0%  2.0 MB  done", no line
    # end: the shell's prompt began on it)
    from tests.support.terminal import run_on_terminal

    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    item_id = live_hub.publish(clip, title="Lagos port", restrictions="No access Nigeria")
    env = {**os.environ, "ALU_CLIENT_HOME": str(home), "ALU_SECRETS": "insecure-file"}
    cli = [sys.executable, "-m", "alu_client.cli"]
    status, out = run_on_terminal([*cli, "get", item_id], env)
    assert status == 0, out
    assert out.endswith("\nalu: usage restrictions: No access Nigeria\n"), repr(out[-300:])
    own = tmp_path / "own.mp4"
    generate_clip(own, seconds=1.0, width=320, height=240, seed=12)
    put = ["put", str(own), "--title", "Floods", "--language", "en", "--country", "KE"]
    status, out = run_on_terminal([*cli, *put], env)
    assert status == 0, out
    last = out.split("\n")[-2]
    assert last.startswith("own.mp4: uploaded") and out.endswith(last + "\n"), repr(out[-300:])


#: ``alu`` with feed pages of 2 items (a catch-up of many pages with a handful of items)
PAGES_OF_2 = (
    "import sys\n"
    "from alu_client.core.services import Services\n"
    "made = Services.feed_sync\n"
    "Services.feed_sync = lambda self, **kw: made(self, **{'page_size': 2, **kw})\n"
    "from alu_client.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_a_long_catch_up_draws_its_progress_on_a_terminal_and_nothing_when_piped(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # a first `alu sync` on a year's feed: 335 pages, 15–21 s of a blank terminal
    from tests.support.terminal import run_on_terminal

    live_hub.member("ktn", PASSWORD)
    for n in range(5):
        live_hub.publish(clip, title=f"Item {n}")
    cli = [sys.executable, "-c", PAGES_OF_2]
    home = tmp_path / "desk"
    login(home, live_hub)
    env = {**os.environ, "ALU_CLIENT_HOME": str(home), "ALU_SECRETS": "insecure-file"}
    status, out = run_on_terminal([*cli, "sync"], env)
    assert status == 0, out
    drawn = "\rCatching up with the feed: 2 items so far…\rCatching up with the feed: 4 items"
    assert drawn in out, repr(out)
    wiped = "\r" + " " * len("Catching up with the feed: 4 items so far…") + "\r"
    assert wiped + "5 new items;" in out, repr(out)  # (the result on a clean line)

    piped = tmp_path / "piped"
    login(piped, live_hub)
    r = subprocess.run(
        [*cli, "sync"], env={**env, "ALU_CLIENT_HOME": str(piped)}, capture_output=True,
        text=True, timeout=180,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("5 new items;"), r.stdout
    assert "Catching up" not in r.stderr + r.stdout and "\r" not in r.stderr + r.stdout


def test_a_catch_up_interrupted_on_a_terminal_ends_its_line_and_resumes_next_time(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    from tests.support.terminal import run_on_terminal

    live_hub.member("ktn", PASSWORD)
    for n in range(5):
        live_hub.publish(clip, title=f"Item {n}")
    ctrl_c_at_the_third_page = PAGES_OF_2.replace(
        "from alu_client.cli import main\n",
        "from alu_client.core.hub import HubClient\n"
        "asked = HubClient.items\n"
        "def items(self, *a, **kw):\n"
        "    self.pages = getattr(self, 'pages', 0) + 1\n"
        "    if self.pages == 3:\n"
        "        raise KeyboardInterrupt\n"
        "    return asked(self, *a, **kw)\n"
        "HubClient.items = items\n"
        "from alu_client.cli import main\n",
    )
    home = tmp_path / "desk"
    login(home, live_hub)
    env = {**os.environ, "ALU_CLIENT_HOME": str(home), "ALU_SECRETS": "insecure-file"}
    status, out = run_on_terminal([sys.executable, "-c", ctrl_c_at_the_third_page, "sync"], env)
    assert status == 130, out
    wiped = "\r" + " " * len("Catching up with the feed: 4 items so far…") + "\r"
    assert out.endswith(wiped + "alu: interrupted\n"), repr(out)
    assert ok(alu(home, "sync")).startswith("1 new items;")  # (the 4 taken are kept)


def test_no_keyring_gives_a_clear_message(live_hub: LiveHub, tmp_path: Path) -> None:
    live_hub.member("ktn", PASSWORD)
    env = {"ALU_SECRETS": "", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    r = alu(tmp_path / "desk", "login", live_hub.url, "--user", "ktn", "--password-stdin",
            "--allow-http", stdin=PASSWORD + "\n", env=env)  # fmt: skip
    assert r.returncode == 1
    assert "keyring" in r.stderr.lower()
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 3
    # said before the hub is asked: each failed login left a live 30-day session on the hub,
    # which `alu-hub member signout` counted as a workstation signed in (review)
    with live_hub.hub.db.session() as s:
        assert s.scalars(select(Token)).all() == []
    # what to do on a station without a desktop session, run by `alu` alone: the option it
    # names (it named ALU_SECRETS=insecure-file, which README calls "for tests and demos",
    # and --accept-plain-secrets was refused with no keyring at all)
    assert "sign in with `alu login … --accept-plain-secrets`" in r.stderr
    assert "ALU_SECRETS" not in r.stderr
    r = alu(tmp_path / "desk", "login", live_hub.url, "--user", "ktn", "--password-stdin",
            "--allow-http", "--accept-plain-secrets", stdin=PASSWORD + "\n", env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    kept = tmp_path / "desk" / "data" / "secrets-NOT-SECURE.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 or os.name != "posix"
    assert PASSWORD not in kept.read_text()
    # the next commands use it without the option, as the app does once it was accepted
    who = alu(tmp_path / "desk", "whoami", env=env)
    assert who.returncode == 0 and who.stdout.startswith("ktn "), who.stderr
    doctor = alu(tmp_path / "desk", "doctor", env=env)
    assert "FAIL  sign-in storage" not in doctor.stdout + doctor.stderr
    assert "Sign-ins are kept in plain text" in doctor.stdout + doctor.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["feed"], "sign in"),
        (["get", "abc"], "sign in"),
        (["put", __file__, "--language", "sw"], "sign in"),
        (["queue", "pause"], "needs a transfer id"),
        (["rules", "add"], "sign in"),
        (["queue", "cancel", "99"], "there is no transfer 99"),
    ],
)
def test_clear_one_line_errors(args: list[str], message: str, tmp_path: Path) -> None:
    r = alu(tmp_path / "desk", *args)
    assert r.returncode in (1, 2)
    assert message in r.stderr.lower()
    assert "Traceback" not in r.stderr


def test_wrong_password_is_said_plainly(live_hub: LiveHub, tmp_path: Path) -> None:
    live_hub.member("ktn", PASSWORD)
    r = alu(tmp_path / "desk", "login", live_hub.url, "--user", "ktn", "--password-stdin",
            "--allow-http", stdin="wrong\n")  # fmt: skip
    assert r.returncode == 1
    assert "refused the user name or password" in r.stderr
    r = alu(tmp_path / "desk", "login", live_hub.url, "--user", "ktn", "--password-stdin",
            stdin=PASSWORD + "\n")  # fmt: skip
    assert r.returncode == 2 and "plain HTTP" in r.stderr
    assert "Here: sign in again with --allow-http." in r.stderr  # the flag, not an app setting


def test_an_unverified_certificate_names_the_flag_that_helps(
    tls_hub: tuple[str, Path], live_hub: LiveHub, tmp_path: Path
) -> None:
    url, cert = tls_hub
    live_hub.member("ktn", PASSWORD)
    login = ("login", url, "--user", "ktn", "--password-stdin")
    r = alu(tmp_path / "desk", *login, stdin=PASSWORD + "\n")
    assert r.returncode == 1
    assert "could not be verified" in r.stderr
    assert "(self-signed certificate)" in r.stderr  # OpenSSL's reason, said
    assert "Here: sign in again with --ca-bundle FILE." in r.stderr
    errors = [line for line in r.stderr.splitlines() if "WARNING" not in line]  # ALU_SECRETS's
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    r = alu(tmp_path / "desk", *login, "--ca-bundle", str(cert), stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr


def test_an_https_address_answered_in_plain_http_is_said_as_such(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    """A hub's plain-HTTP port given as https://: no certificate is involved (it blamed one and
    advised --ca-bundle)."""
    live_hub.member("ktn", PASSWORD)
    url = live_hub.url.replace("http://", "https://", 1)
    r = alu(tmp_path / "desk", "login", url, "--user", "ktn", "--password-stdin",
            stdin=PASSWORD + "\n")  # fmt: skip
    assert r.returncode == 1
    assert "did not answer in TLS (https)" in r.stderr and "port one for plain http" in r.stderr
    assert "certificate" not in r.stderr and "--ca-bundle" not in r.stderr, r.stderr


class _Busy(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_login_to_a_server_that_fails_says_no_retry_it_does_not_make(tmp_path: Path) -> None:
    # python's http.server answers a POST with 501: "busy or failing (HTTP 501); trying again
    # later", and the command ended at once; no hub answers 501, and nothing tries again
    quiet = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    for handler, said in (
        (quiet, "does not take this request (HTTP 501), as a hub would; check the hub address."),
        (_Busy, "is busy or failing (HTTP 503); try again later."),
    ):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            r = alu(tmp_path / "desk", "login", url, "--user", "ktn", "--password-stdin",
                    "--allow-http", stdin=PASSWORD + "\n")  # fmt: skip
        finally:
            server.shutdown()
            server.server_close()
        assert r.returncode == 1
        assert r.stderr.strip().splitlines()[-1].endswith(said), r.stderr
        assert "trying again" not in r.stderr


def test_whoami_json_stays_json_when_the_hub_is_down(live_hub: LiveHub, tmp_path: Path) -> None:
    """A script parses it whatever the hub does (it printed a sentence when offline)."""
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    up = json.loads(ok(alu(home, "whoami", "--json")))
    assert up["online"] is True and up["username"] == "ktn"
    live_hub.server.stop()
    down = json.loads(ok(alu(home, "whoami", "--json")))
    assert down["online"] is False and down["username"] == "ktn" and down["hub"] == live_hub.url
    assert down["error"]


def test_a_file_gone_from_the_library_is_marked_in_a_search(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # it was listed as an item never downloaded: a librarian looking for a clip they had was
    # not told it was lost
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    item_id = live_hub.publish(clip, title="Kisumu floods")
    path = Path(ok(alu(home, "get", item_id)).strip())
    path.unlink()
    ok(alu(home, "library", "check"))
    found = ok(alu(home, "library", "search", "kisumu")).splitlines()
    assert found[0].startswith("✗ ") and "Kisumu floods" in found[0], found
    assert found[1].startswith(f"      Missing: {path} (") and found[1].endswith(
        f"alu get {item_id} fetches it again"
    ), found


def test_a_download_folder_unplugged_is_said_so_by_library_check(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # "moved or deleted outside ALU Desk. Put it back there, or download it again", for each
    # file of a drive that was only unplugged
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    usb = tmp_path / "usb" / "ALU"
    item_id = live_hub.publish(clip, title="Kisumu floods")
    path = Path(ok(alu(home, "get", item_id, "--dest", str(usb))).strip())
    shutil.rmtree(usb)
    said = ok(alu(home, "library", "check"))
    assert f"{path}: its folder is not there any more (a drive unplugged, or a share away?)" in said
    assert "Plug it in or bring the share back, then run alu library check again" in said
    assert "moved or deleted" not in said
    # checked again, the drive still away: still said (it was "0 missing")
    again = ok(alu(home, "library", "check"))
    assert f"{path}: its folder is not there any more" in again
    assert again.endswith("1 files checked, 1 missing (1 of them already before), 0 found again.\n")


def test_an_empty_feed_is_said(live_hub: LiveHub, tmp_path: Path) -> None:
    # it printed nothing, exit 0: read as a command that did nothing
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    assert ok(alu(home, "feed")) == "The feed is empty.\n"
    assert ok(alu(home, "feed", "--new")) == "No unread item.\n"
    assert json.loads(ok(alu(home, "feed", "--json"))) == []


def test_logout_while_the_hub_is_away_says_the_sign_in_lives_on_there(tmp_path: Path) -> None:
    # "its session expires by itself" — in 30 days: someone handing over a workstation during
    # an outage believed the sign-in ended, and any copy of the token still worked
    hub = start_hub(tmp_path / "away")
    try:
        hub.member("ktn", PASSWORD)
        home = tmp_path / "desk"
        login(home, hub)
    finally:
        hub.server.stop()
        hub.hub.db.dispose()
    out = ok(alu(home, "logout"))
    assert "Signed out here, but the hub could not be told" in out
    assert "stays valid on the hub until it expires" in out
    assert "alu-hub member signout ktn" in out
    assert ok(alu(home, "logout")).strip() == "Not signed in here; nothing was signed out."


def test_logout_of_a_profile_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    r = alu(tmp_path / "desk", "logout", "--profile", "nope")
    assert r.returncode == 1
    assert "No hub profile is named 'nope'" in r.stderr and "Traceback" not in r.stderr


def test_doctor_runs_its_checks_on_a_damaged_library(tmp_path: Path) -> None:
    """The library check said what was wrong only when the library could be opened: a damaged
    one stopped doctor at once, with none of the other checks."""
    home = tmp_path / "desk"
    ok(alu(home, "queue"))  # the library exists
    db = home / "data" / "library.sqlite3"
    assert db.exists()
    db.write_bytes(b"this is not a database" * 100)
    r = alu(home, "doctor", "--timeout", "2")
    assert r.returncode == 1, r.stderr
    assert "FAIL  library" in r.stdout
    assert "disk space (data folder)" in r.stdout and "is writable" in r.stdout


def test_get_into_a_dest_that_is_a_file_names_it(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    item = live_hub.publish(clip, title="Dest check")
    a_file = tmp_path / "a-file"
    a_file.write_text("mine")
    r = alu(home, "get", item, "--dest", str(a_file))
    assert r.returncode == 2
    assert "is a file" in r.stderr and "data folder" not in r.stderr
    assert a_file.read_text() == "mine"


def test_put_run_again_after_its_end_does_not_publish_the_file_twice(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    # a `put` killed once its end was recorded (before it said "published"), run again as its
    # advice says, published the item a second time; so did the same command after a success
    live_hub.member("ktn", PASSWORD)
    live_hub.member("rts", PASSWORD, country="SN")
    home = tmp_path / "ktn-desk"
    login(home, live_hub)
    own = tmp_path / "floods.mp4"
    generate_clip(own, seconds=1.0, width=320, height=240, seed=21)
    put = ["put", str(own), "--title", "Floods", "--language", "en", "--country", "KE"]
    first = ok(alu(home, *put))
    assert "published as item" in first
    again = alu(home, *put)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first  # the same item
    assert "sent already with these details by an earlier run" in again.stderr
    other = tmp_path / "rts-desk"
    login(other, live_hub, "rts")
    assert [i["title"] for i in feed(other) if i["kind"] == "member_upload"] == ["Floods"]
    # other details asked for: another item, as asked
    renamed = ok(alu(home, *put[:3], "Floods, day 2", *put[4:]))
    assert "published as item" in renamed and renamed != first
    titles = sorted(i["title"] for i in feed(other) if i["kind"] == "member_upload")
    assert titles == ["Floods", "Floods, day 2"]


def test_put_of_a_file_that_is_no_video_refuses_it_before_sending_anything(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    # a crashed recorder's preallocated file named .mp4: all of it was sent (hours on a
    # member's uplink) before the hub said it was no video; the app's form probes it first
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "ktn-desk"
    login(home, live_hub)
    sparse = tmp_path / "REC0007.mp4"
    with open(sparse, "wb") as f:
        f.truncate(200_000_000)
    r = alu(home, "put", str(sparse), "--title", "Floods", "--language", "en")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "REC0007.mp4 is not a video file we can read" in r.stderr
    assert "nothing was sent" in r.stderr
    assert "Traceback" not in r.stderr
    assert json.loads(ok(alu(home, "queue", "list", "--all", "--json"))) == []


def test_a_login_at_a_new_address_of_the_same_account_says_where_its_past_is(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    # the hub moved (another port, another name): `alu login` at the new address made a new
    # profile without a word, with an empty library, while the old one kept the queue and
    # the history not yet sent (a download never counted, a file fetched again as "(2)")
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "ktn-desk"
    login(home, live_hub)
    old_name = json.loads(ok(alu(home, "whoami", "--json")))["profile"]
    moved = live_hub.url.replace("127.0.0.1", "localhost")
    new = alu(home, "login", moved, "--user", "ktn", "--password-stdin", "--allow-http",
              stdin=PASSWORD + "\n")  # fmt: skip
    assert new.returncode == 0, new.stderr
    assert f"profile {old_name} ({live_hub.url}), the same account at another address" in (
        new.stderr
    )
    assert f"sign in with --name {old_name} instead" in new.stderr
    again = alu(home, "login", moved, "--user", "ktn", "--password-stdin", "--allow-http",
                "--name", old_name, stdin=PASSWORD + "\n")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "note" not in again.stderr
    me = json.loads(ok(alu(home, "whoami", "--json")))
    assert (me["profile"], me["hub"]) == (old_name, moved)


def test_a_profile_moved_to_the_hubs_new_address_downloads_what_its_library_knew(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # the library kept the rendition addresses the hub gave at its old address: after
    # `alu login NEW --name PROFILE`, `get` of an item seen before went to the old address,
    # without the sign-in (it goes to the profile's address only): HTTP 401, "Sign in again"
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "ktn-desk"
    login(home, live_hub)
    item_id = live_hub.publish(clip, title="Kisumu market fire")
    assert [i["id"] for i in feed(home)] == [item_id]
    name = json.loads(ok(alu(home, "whoami", "--json")))["profile"]
    moved = live_hub.url.replace("127.0.0.1", "localhost")
    ok(alu(home, "login", moved, "--user", "ktn", "--password-stdin", "--allow-http",
           "--name", name, stdin=PASSWORD + "\n"))  # fmt: skip
    got = alu(home, "get", item_id)
    path = Path(ok(got).removesuffix("\n"))
    assert path.read_bytes() == clip.read_bytes()


def test_a_profile_is_not_taken_over_by_another_account(live_hub: LiveHub, tmp_path: Path) -> None:
    # `alu login --user rts --name <ktn's profile>` signed rts in on ktn's profile: the
    # downloads and uploads ktn had not reported yet were then counted for rts
    live_hub.member("ktn", PASSWORD)
    live_hub.member("rts", PASSWORD, country="SN")
    home = tmp_path / "desk"
    login(home, live_hub)
    name = json.loads(ok(alu(home, "whoami", "--json")))["profile"]
    other = alu(home, "login", live_hub.url, "--user", "rts", "--password-stdin",
                "--allow-http", "--name", name, stdin=PASSWORD + "\n")  # fmt: skip
    assert other.returncode == 2, other.stderr
    assert f"Profile {name} is the account ktn's" in other.stderr
    assert "Sign in as rts without --name" in other.stderr
    me = json.loads(ok(alu(home, "whoami", "--json")))
    assert (me["profile"], me["username"]) == (name, "ktn")


def test_the_same_clip_put_from_two_workstations_is_one_item(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    # two workstations of one newsroom watching one shared hot folder (or `alu put` on one,
    # the same file in a hot folder on the other) each published it: twice in every member's
    # feed and in the agency's upload counts
    live_hub.member("ktn", PASSWORD)
    own = tmp_path / "mombasa.mp4"
    generate_clip(own, seconds=1.0, width=320, height=240, seed=31)
    put = ["put", str(own), "--title", "Mombasa port strike", "--language", "en"]
    desks = [tmp_path / "desk-1", tmp_path / "desk-2"]
    for home in desks:
        login(home, live_hub)
    first, second = (ok(alu(home, *put)) for home in desks)
    assert "published as item" in first
    assert first == second  # the same item
    other = ok(alu(desks[1], *put[:3], "Mombasa port strike, day 2", *put[4:]))
    assert other != first  # other details: another item, as asked
    titles = sorted(i["title"] for i in feed(desks[0]) if i["kind"] == "member_upload")
    assert titles == ["Mombasa port strike", "Mombasa port strike, day 2"]


def test_a_profile_is_not_moved_while_an_engine_works_on_its_queue(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    # the app (or `alu watch run`) uploading while the profile moved: its upload wrote its
    # old URLs back over the moved ones, and the clip could be published twice after all
    from alu_client.core.lockfile import EngineLock
    from alu_client.core.paths import default_paths

    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "ktn-desk"
    login(home, live_hub)
    name = json.loads(ok(alu(home, "whoami", "--json")))["profile"]
    moved = live_hub.url.replace("127.0.0.1", "localhost")
    move = ["login", moved, "--user", "ktn", "--password-stdin", "--allow-http", "--name", name]
    lock = EngineLock(default_paths({"ALU_CLIENT_HOME": str(home)}).engine_lock).acquire()
    try:
        refused = alu(home, *move, stdin=PASSWORD + "\n")
    finally:
        lock.release()
    assert refused.returncode == 1, refused.stderr
    assert "close the app (or stop alu watch run)" in refused.stderr
    assert json.loads(ok(alu(home, "whoami", "--json")))["hub"] == live_hub.url
    ok(alu(home, *move, stdin=PASSWORD + "\n"))
    assert json.loads(ok(alu(home, "whoami", "--json")))["hub"] == moved


def test_put_of_a_file_already_on_the_network_is_refused_with_what_it_is(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # a downloaded agency clip on a share (another workstation's download folder) put as the
    # member's own: the hub published it to every member without its restrictions
    live_hub.member("ktn", PASSWORD)
    live_hub.member("rts", PASSWORD, country="SN")
    agency = live_hub.publish(clip, "Sudan: talks in Juba", restrictions="No access Sudan")
    home, other = tmp_path / "ktn-desk", tmp_path / "rts-desk"
    login(home, live_hub)
    login(other, live_hub, "rts")
    nas = tmp_path / "nas"
    nas.mkdir()
    ok(alu(other, "get", agency, "--dest", str(nas)))
    (got,) = nas.glob("*.mp4")
    date = next(i for i in feed(home) if i["id"] == agency)["published_at"][:10]
    r = alu(home, "put", str(got), "--title", "Power deal", "--language", "en")
    assert r.returncode != 0, (r.stdout, r.stderr)
    said = (
        f"This file is already on the network: it is the agency's “Sudan: talks in Juba” "
        f"(published {date}). It was not published again."
    )
    # the app's words, not "The hub refused the upload: …" around the hub's
    assert f"{got.name}: {said}" in r.stderr and "Traceback" not in r.stderr
    # another member's upload, put by a member
    own = tmp_path / "floods.mp4"
    generate_clip(own, seconds=1.0, width=320, height=240, seed=41)
    assert "published as item" in ok(alu(home, "put", str(own), "--title", "Floods"))
    r = alu(other, "put", str(own), "--title", "Floods too")
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert "floods.mp4: This file is already on the network: it is “Floods”, sent by " in r.stderr
    assert [i["title"] for i in feed(other) if i["kind"] == "member_upload"] == ["Floods"]


def test_a_move_to_another_hub_is_not_made_and_said(live_hub: LiveHub, tmp_path: Path) -> None:
    """`alu login OTHER --name PROFILE` to an unrelated hub moved the profile's queue and
    history there: the hub's identity differs, so it is signed in to as another hub."""
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    name = json.loads(ok(alu(home, "whoami", "--json")))["profile"]
    other = start_hub(tmp_path / "other")
    try:
        other.member("ktn", PASSWORD)
        out = alu(home, "login", other.url, "--user", "ktn", "--password-stdin",
                  "--allow-http", "--name", name, stdin=PASSWORD + "\n")  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "this is another hub (its identity differs)" in out.stderr
        me = json.loads(ok(alu(home, "whoami", "--json")))
        assert me["profile"] != name
    finally:
        other.server.stop()
        other.hub.db.dispose()


def test_whoami_json_says_nobody_is_signed_in(tmp_path: Path) -> None:
    """A monitoring script parses it in this case too: stdout was empty."""
    r = alu(tmp_path / "desk", "whoami", "--json")
    assert r.returncode == 1
    said = json.loads(r.stdout)
    assert said["signed_in"] is False and said["online"] is False
    assert "sign in first" in said["error"]


def test_listings_say_when_empty_and_when_cut(
    live_hub: LiveHub, clip: Path, other_clip: Path, tmp_path: Path
) -> None:
    """`history`, `rules list` and `watch list` printed nothing when there was nothing (a
    support person could not tell "none" from "did not run"); `--limit` cut a listing
    without a word, which --json now says on stderr, its stdout still the list."""
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    assert ok(alu(home, "history", "--offline")) == "The history is empty.\n"
    assert ok(alu(home, "rules", "list")) == "There are no auto-download rules.\n"
    assert ok(alu(home, "watch", "list")) == "There are no hot folders.\n"
    assert json.loads(ok(alu(home, "history", "--offline", "--json"))) == []
    assert json.loads(ok(alu(home, "rules", "list", "--json"))) == []

    first = live_hub.publish(clip, title="السودان: وصول اللقاحات", language="ar")
    second = live_hub.publish(other_clip, title="Dakar votes")
    r = alu(home, "feed", "--limit", "1", "--json")
    assert [i["id"] for i in json.loads(ok(r))] == [second]
    assert "alu: more items than the 1 listed; --limit N shows up to 500." in r.stderr
    r = alu(home, "feed", "--offline", "--limit", "2")
    assert ok(r).count("\n") == 2 and "more items" not in r.stderr
    r = alu(home, "library", "search", "--limit", "1")
    assert second in ok(r) and "more items match than the 1 listed" in r.stderr

    for item_id in (first, second):
        ok(alu(home, "get", item_id))
    r = alu(home, "history", "--offline", "--limit", "1", "--json")
    events = json.loads(ok(r))
    assert len(events) == 1 and "alu: more events than the 1 listed" in r.stderr
    r = alu(home, "history", "--offline", "--json")
    assert "السودان: وصول اللقاحات" in ok(r)  # UTF-8, as feed --json, not \u escapes
    assert "more events" not in r.stderr

    # a cron line's `--max-age-days $DAYS` with -1 or 0 deleted every downloaded file
    files = sorted((home / "downloads").iterdir())
    assert len(files) == 2
    for days in ("-1", "0", "nan"):
        r = alu(home, "library", "clean", "--max-age-days", days)
        assert r.returncode == 2 and "--max-age-days" in r.stderr, r.stderr
    assert sorted((home / "downloads").iterdir()) == files


def test_put_checks_the_recording_date_on_the_hubs_clock(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # on the workstation's clock: today's footage refused "in the future … the camera's clock"
    # on a clock two days slow; a clock a year fast queued a date the hub then refused
    from alu_client.core.paths import default_paths
    from alu_client.core.profiles import Profiles
    from alu_client.core.store import Store
    from alu_client.core.sync import SyncState

    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)

    def kept_offset(days: int) -> None:  # as the feed sync keeps it
        store = Store(default_paths({"ALU_CLIENT_HOME": str(home)}).db_path)
        try:
            profile = Profiles(store).active()
            assert profile is not None
            SyncState(store, profile.name).set_clock_offset(days * 86400.0)
        finally:
            store.close()

    now = dt.datetime.now(dt.UTC)
    kept_offset(-365)  # this clock a year fast: its "now" is a year ahead of the hub's
    put = ["put", str(clip), "--title", "Clock a year fast", "--recorded-at"]
    fast = alu(home, *put, now.strftime("%Y-%m-%dT%H:%M"))
    assert fast.returncode == 2, fast.stderr
    assert "The recording date is in the future (hub time " in fast.stderr
    assert "this computer's clock is 365 days ahead of the hub's" in fast.stderr
    assert "camera" not in fast.stderr
    kept_offset(2)  # two days slow: footage shot now (by the hub's clock) is taken
    slow = alu(home, *put, (now + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    assert slow.returncode == 0, slow.stderr


def test_put_right_after_login_learns_the_hubs_clock_before_refusing_a_date(
    live_hub: LiveHub, clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no feed sync had kept the hub's clock yet: footage shot now, on a workstation two days
    # slow, was refused as "in the future … the camera's clock"
    import alu_hub.models
    from tests.support.badservers import HubFront

    two_days = dt.timedelta(days=2)
    monkeypatch.setattr(alu_hub.models, "clock_offset", two_days)  # the hub two days ahead
    front = HubFront(live_hub.server.port)
    front.date_offset = two_days.total_seconds()
    try:
        live_hub.member("ktn", PASSWORD)
        home = tmp_path / "desk"
        ok(alu(home, "login", front.url, "--user", "ktn", "--password-stdin", "--allow-http",
               stdin=PASSWORD + "\n"))  # fmt: skip
        shot = (dt.datetime.now(dt.UTC) + two_days).strftime("%Y-%m-%dT%H:%M")
        put = alu(home, "put", str(clip), "--title", "Shot now", "--recorded-at", shot)
        assert put.returncode == 0, put.stderr
    finally:
        front.stop()


def test_get_by_the_beginning_of_an_id_syncs_the_feed_first(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # right after `alu login` the library is empty: the beginning of an id was sent to the hub
    # as an id (404 "There is no item with this id"), as README promises it is taken
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    item_id = live_hub.publish(clip, title="Kampala traffic")
    got = alu(home, "get", "--proxy", item_id[:8])
    assert got.returncode == 0, got.stderr
    assert Path(got.stdout.strip()).is_file() and "sha256 verified" in got.stderr
    # the hub not answering: said so, and what to do, not "no item with this id"
    other = live_hub.publish(clip, title="Kampala traffic, later")
    live_hub.server.stop()
    offline = alu(home, "get", "--proxy", other[:8])
    assert offline.returncode == 1 and offline.stdout == ""
    assert (
        f"alu: No item of the library has an id beginning with '{other[:8]}', and the feed "
        "could not be synced to look for it:"
    ) in offline.stderr
    assert "Type the whole id, or try again when the hub answers." in offline.stderr


def test_get_takes_the_beginning_of_an_id(live_hub: LiveHub, clip: Path, tmp_path: Path) -> None:
    # `alu feed` shows 32-character ids: typing them whole was the only way to get an item
    from alu_client.core.library import upsert_items
    from alu_client.core.paths import default_paths
    from alu_client.core.profiles import Profiles
    from alu_client.core.store import Store
    from tests.client.test_library import make_item

    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    item_id = live_hub.publish(clip, title="Kampala traffic")
    ok(alu(home, "feed"))  # the library learns of it
    got = alu(home, "get", "--proxy", item_id[:8].upper())
    assert got.returncode == 0, got.stderr
    path = Path(got.stdout.strip())
    assert path.is_file() and "sha256 verified" in got.stderr

    store = Store(default_paths({"ALU_CLIENT_HOME": str(home)}).db_path)
    try:
        profile = Profiles(store).active()
        assert profile is not None
        twins = [make_item(n, id=f"feed{n:028d}") for n in (1, 2)]
        upsert_items(store, profile.name, twins)
    finally:
        store.close()
    # two ids begin so: nothing fetched, both named, and what to do
    two = alu(home, "get", "feed0")
    assert two.returncode == 2, two.stderr
    assert f"'feed0' begins the ids of {twins[0].id}, {twins[1].id}: type more" in two.stderr
    assert two.stdout == ""
    # too short to be taken as a beginning: said so, with what to type (it was sent to the hub,
    # which said "There is no item with this id", exit 1 — though many ids begin so)
    short = alu(home, "get", item_id[:3])
    assert short.returncode == 2 and short.stdout == ""
    assert (
        f"alu: {item_id[:3]!r} is too short to name an item: type its whole id or its first 4 "
        "characters or more (`alu feed` shows the ids)."
    ) in short.stderr


def _member_uploads(home: Path) -> list[str]:
    return sorted(i["title"] for i in feed(home) if i["kind"] == "member_upload")


def _desk_with_hot_folder(live_hub: LiveHub, tmp_path: Path, settle: str) -> tuple[Path, Path]:
    """A member's data folder signed in, with a hot folder (language en): (home, hot)."""
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    hot = tmp_path / "hot"
    hot.mkdir()
    ok(alu(home, "watch", "add", str(hot), "--default", "language=en", "--settle", settle))
    return home, hot


def _watch_until_sent(home: Path, sent: Path) -> None:
    """`alu watch run` until the hot folder has moved its file to ``sent``."""
    engine = subprocess.Popen(
        [sys.executable, "-m", "alu_client.cli", "watch", "run"],
        env={**os.environ, "ALU_CLIENT_HOME": str(home), "ALU_SECRETS": "insecure-file"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: sent.exists() or engine.poll() is not None, 60, interval=0.2,
                   what=f"{sent.name} moved to sent/")  # fmt: skip
    finally:
        engine.send_signal(signal.SIGINT)
        _out, err = engine.communicate(timeout=60)
    assert sent.exists(), err


def test_a_clip_put_from_a_hot_folder_is_not_sent_again_by_the_hot_folder(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    # `alu put hot/c7.mp4`, then `alu watch run`: two items ("Put first" and "c7") of the
    # same bytes, which crossed the link twice
    home, hot = _desk_with_hot_folder(live_hub, tmp_path, settle="0.3")
    clip = hot / "c7.mp4"
    generate_clip(clip, seconds=1.0, width=320, height=240, seed=71)
    assert "published as item" in ok(alu(home, "put", str(clip), "--title", "Put first"))

    _watch_until_sent(home, hot / "sent" / "c7.mp4")
    assert _member_uploads(home) == ["Put first"]
    assert "(1 sent, 0 errors)" in ok(alu(home, "watch", "list"))

    # the other way: `put` of the clip the hot folder moved sends it, as asked, and says so
    r = alu(home, "put", str(hot / "sent" / "c7.mp4"), "--title", "Put again")
    assert "published as item" in ok(r)
    assert "c7.mp4: the same content was already sent from this workstation as “Put first”" in (
        r.stderr
    )
    # what to do while it can still be done ("If one item is enough: `alu queue cancel 3`"
    # was of no use once the put had ended)
    assert "press Ctrl+C now and run `alu queue cancel " in r.stderr
    assert _member_uploads(home) == ["Put again", "Put first"]


def test_a_clip_put_while_watch_run_watches_its_folder_is_one_item(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    # `alu put hot/c6.mp4` handing its job to the running `alu watch run`: items "Put by hand"
    # and "c6" (the hot folder took the file once it settled, the put still on its way or sent)
    home, hot = _desk_with_hot_folder(live_hub, tmp_path, settle="4")
    engine = subprocess.Popen(
        [sys.executable, "-m", "alu_client.cli", "watch", "run"],
        env={**os.environ, "ALU_CLIENT_HOME": str(home), "ALU_SECRETS": "insecure-file"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert engine.stdout is not None and "engine running" in engine.stdout.readline()
        clip = hot / "c6.mp4"
        generate_clip(clip, seconds=1.0, width=320, height=240, seed=61)
        r = alu(home, "put", str(clip), "--title", "Put by hand")
        assert "published as item" in ok(r)
        sent = hot / "sent" / "c6.mp4"
        wait_until(lambda: sent.exists() or engine.poll() is not None, 60, interval=0.2,
                   what="c6.mp4 moved to sent/")  # fmt: skip
    finally:
        engine.send_signal(signal.SIGINT)
        _out, err = engine.communicate(timeout=60)
    assert sent.exists(), err
    assert len(_member_uploads(home)) == 1


def test_watch_run_keeps_the_log_the_app_keeps(
    live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # a station without a screen: `alu watch run` wrote no log (its problems went to stderr
    # only, where a service manager may keep nothing), though README sends support to it
    live_hub.member("ktn", PASSWORD)
    home = tmp_path / "desk"
    login(home, live_hub)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    ok(alu(home, "rules", "add", "blocked", "--all", "--dest", str(a_file / "clips")))
    live_hub.publish(clip, title="Floods in Kisumu")
    ran = alu(home, "watch", "run", "--seconds", "4")
    assert ran.returncode == 0, ran.stderr
    said = "rule 'blocked': the folder"
    assert said in ran.stderr  # (stderr says what it said before)
    log = (home / "logs" / "alu-client.log").read_text(encoding="utf-8")
    assert said in log and "ERROR" in log
    assert (home / "logs" / "crash.log").exists()
