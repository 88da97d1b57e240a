"""`alu fetch` / `alu tus-put` as a user runs them: clear one-line errors, quiet off a terminal,
one engine per data folder."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from alu_client.cli.common import credentials_out_of
from alu_client.cli.options import LIST_MAX, list_limit
from alu_client.core.transfers.origins import PROBE_ENV
from alu_hub.files import file_response
from alu_hub.server import RunningHub, serve_in_thread
from tests.client.test_crash import alu
from tests.support.faultproxy import FaultProxy
from tests.support.rawanswer import RawAnswer
from tests.support.tinytus import Bends, TinyTus
from tests.support.waiting import assert_kept_nowhere, wait_until


def run_alu(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALU_CLIENT_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "alu_client.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fetch", "ftp://example/x", "out"], "http:// or https://"),
        # "Something went wrong in ALU Desk (ValueError)" after three attempts, or a traceback
        (["fetch", "http://127.0.0.1:99999/x", "out"], "the URL given is not a valid address"),
        (["fetch", "http://[::1/x", "out"], "the URL given is not a valid address"),
        (["tus-put", "http://127.0.0.1:99999/up/", __file__], "endpoint given is not a valid"),
        # requests connects to port 1, where the --header credentials went
        (["fetch", "http://127.0.0.1:1\\@127.0.0.1:9/x", "out"], "not a valid address"),
        (["fetch", "http://127.0.0.1:9/x", "out", "--sha256", "abc"], "64 hexadecimal"),
        (["fetch", "http://127.0.0.1:9/x", "out", "--header", "NoColon"], "Name: value"),
        (["fetch", "http://127.0.0.1:9/x", "out", "--header", "Bad Name: x"], "Name: value"),
        # `$(… | base64)` wraps at 76 columns: "could not be reached" for ever, nothing sent
        (
            ["fetch", "http://127.0.0.1:9/x", "out", "--header", "Authorization: Basic QU\nJD"],
            "--header Authorization: the value is on more than one line",
        ),
        # "Something went wrong in ALU Desk (UnicodeEncodeError)" after three attempts
        (["fetch", "http://127.0.0.1:9/x", "out", "--header", "X-City: 東京"], "ASCII"),
        (["tus-put", "http://127.0.0.1:9/up/", __file__, "--header", "X: a\rb"], "one line"),
        # 2000 connections opened at once
        (["fetch", "http://127.0.0.1:9/x", "out", "--segments", "2000"], "16 or fewer"),
        (["tus-put", "http://127.0.0.1:9/up/", __file__, "--parallel", "64"], "16 or fewer"),
        (["fetch", "http://127.0.0.1:9/x", "out", "--limit", "fast"], "fast"),
        (["tus-put", "http://127.0.0.1:9/up/", "/does/not/exist"], "is not a file"),
        (["tus-put", "http://127.0.0.1:9/up/", __file__, "--metadata", "novalue"], "key=value"),
        (["tus-put", "http://127.0.0.1:9/up/", __file__, "--chunk-size", "lots"], "not a size"),
        # these gave a traceback (OverflowError) or the raw "cannot convert float NaN"
        (["tus-put", "http://127.0.0.1:9/up/", __file__, "--chunk-size", "inf"], "not a size"),
        (["tus-put", "http://127.0.0.1:9/up/", __file__, "--chunk-size", "nan"], "not a size"),
        # 0 or -3 streams were taken and ignored
        (["fetch", "http://127.0.0.1:9/x", "out", "--segments", "0"], "1 or more"),
        (["tus-put", "http://127.0.0.1:9/up/", __file__, "--parallel", "-2"], "1 or more"),
        # a name the file system cannot hold was blamed on the data folder
        (["fetch", "http://127.0.0.1:9/x", "o" * 300], "choose another DEST"),
        # what argparse finds: one line too, naming the verb's --help (not the usage first)
        (["fetch", "http://127.0.0.1:9/x", "out", "--segments", "17"], "see alu fetch --help"),
        (["tus-put", "http://127.0.0.1:9/up/", __file__, "--parallel", "17"], "16 or fewer"),
        (["fetch", "http://127.0.0.1:9/x"], "required: dest; see alu fetch --help"),
        (["fetch", "http://127.0.0.1:9/x", "out", "--segments"], "expected one argument"),
        (["fetch", "http://127.0.0.1:9/x", "out", "--sha"], "see alu fetch --help"),
        (["queue", "pause", "two"], "invalid int value: 'two'; see alu queue --help"),
        (["fech", "http://127.0.0.1:9/x", "out"], "invalid choice: 'fech'"),
        ([], "required: command; see alu --help"),
        # a cron line's -1 or 0 days deleted every downloaded file; nan and inf were taken
        (["library", "clean", "--max-age-days", "-1"], "'-1': give a number of days above 0"),
        (["library", "clean", "--max-age-days", "0"], "'0': give a number of days above 0"),
        (["library", "clean", "--max-age-days", "nan"], "'nan' is not a number of days"),
        (["library", "clean", "--max-age-days", "inf"], "'inf' is not a number of days"),
        (["library", "clean", "--max-age-days", "-inf"], "'-inf' is not a number of days"),
        # "expected one argument": argparse took -5G for an option
        (["library", "clean", "--max-total", "-5G"], "--max-total '-5G' is too small"),
        # the raw "Timeout value out of range", naming no option
        (["doctor", "--timeout", "-1"], "--timeout: '-1': give a number of seconds above 0"),
        (["doctor", "--timeout", "nan"], "'nan' is not a number of seconds"),
        (["doctor", "--timeout", "1e300"], "give 600 seconds or fewer"),
        # --limit 0 and -1 listed one item; 1000 was cut to 500 without a word
        (["feed", "--limit", "0"], "--limit: '0': give 1 or more; see alu feed --help"),
        (["feed", "--limit", "-1"], "'-1': give 1 or more"),
        (["library", "search", "--limit", "-1"], "'-1': give 1 or more"),
        (["history", "--limit", "-5"], "'-5': give 1 or more; see alu history --help"),
        # --seconds 0 ran for ever
        (["watch", "run", "--seconds", "0"], "'0': give a number of seconds above 0"),
        # "the following arguments are required", the unknown option never named
        (["--bogus"], "unrecognized arguments: --bogus; see alu --help"),
        (["fetch", "--bogus"], "unrecognized arguments: --bogus; see alu fetch --help"),
        (["put", "--bogus=1"], "unrecognized arguments: --bogus; see alu put --help"),
        # before the verb, with a value: "argument command: invalid choice: 'x'"
        (
            ["--bogus", "x", "whoami"],
            "unrecognized arguments: --bogus (a verb's options go "
            "after it: alu VERB --option); see alu --help",
        ),
        # before the verb, alone: it named `alu whoami --help`, which lists no --bogus
        (
            ["--bogus", "whoami"],
            "unrecognized arguments: --bogus (a verb's options go after it: alu VERB "
            "--option); see alu --help",
        ),
        # alu's --data after the verb (-v goes on either side; --data only before)
        (
            ["whoami", "--data", "d6"],
            "--data goes before the verb: alu --data DIR whoami …; see alu --help",
        ),
        # "unrecognized arguments: -2M": the rate taken for an option
        (["queue", "limit", "3", "-2M"], "can't read '-2M' as a rate"),
    ],
)
def test_bad_input_gets_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    r = run_alu(tmp_path / "home", *args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert "data folder" not in r.stderr
    lines = r.stderr.strip().splitlines()
    # (argparse's own errors, --segments 0 among them, came after three lines of usage)
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_data_before_the_verb_names_the_data_folder(tmp_path: Path) -> None:
    # README: "--data DIR / ALU_CLIENT_HOME=DIR"; `alu --data DIR whoami` said "invalid
    # choice: 'DIR'" (only alu-client had --data). Relative, it is the caller's folder's.
    (tmp_path / "work").mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "alu_client.cli", "--data", "desk", "queue", "list"],
        env={**os.environ, "ALU_CLIENT_HOME": str(tmp_path / "other")},
        cwd=tmp_path / "work", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "work" / "desk" / "data" / "library.sqlite3").is_file()
    assert not (tmp_path / "other").exists()
    # a transfer verb after it still gets the transfer verbs' parser (its own errors)
    r = run_alu(tmp_path / "home", "--data", str(tmp_path / "desk"), "fetch")
    assert r.returncode == 2
    assert (
        r.stderr == "alu: the following arguments are required: url, dest; see alu fetch --help\n"
    )


def test_every_verbs_parse_errors_are_one_line(tmp_path: Path) -> None:
    # README: "Errors are one line"; argparse printed its usage before its error
    from alu_client.cli import build_parser

    verbs = build_parser()._subparsers._group_actions[0].choices
    assert "fetch" in verbs and "watch" in verbs
    for verb in verbs:
        r = run_alu(tmp_path / "home", verb, "--no-such-option")
        assert r.returncode == 2, (verb, r.stderr)
        assert r.stderr.startswith("alu: ") and r.stderr.count("\n") == 1, (verb, r.stderr)
        assert r.stderr.endswith(f"; see alu {verb} --help\n"), (verb, r.stderr)
        assert "usage:" not in r.stderr and r.stdout == "", (verb, r.stderr)


@pytest.mark.parametrize("verb", [["feed"], ["library"], ["history"]])
def test_list_limits_say_their_default_and_maximum(tmp_path: Path, verb: list[str]) -> None:
    r = run_alu(tmp_path / "home", *verb, "--help")
    assert r.returncode == 0, r.stderr
    assert "(default 50; at most 500 are listed)" in " ".join(r.stdout.split()), r.stdout


def test_a_list_limit_above_the_most_lists_the_most() -> None:
    """--limit 1000 was cut to 500 without a word: it still lists 500 (a script asking for
    "all" keeps working), and ``say_cut`` says on stderr when more exist."""
    assert list_limit("1000") == LIST_MAX == 500
    assert list_limit("7") == 7


def test_doctors_timeout_says_its_range(tmp_path: Path) -> None:
    r = run_alu(tmp_path / "home", "doctor", "--help")
    assert "(default 10, at most 600)" in " ".join(r.stdout.split()), r.stdout


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="Linux's /dev/full is the full disk")
def test_output_that_cannot_be_written_is_said_as_the_output(tmp_path: Path) -> None:
    """`alu … > /dev/full` blamed the data folder ("Where that is the data folder, check
    its permissions…"): the problem is standard output."""
    with open("/dev/full", "w") as full:
        r = subprocess.run(
            [sys.executable, "-m", "alu_client.cli", "queue"],
            env={**os.environ, "ALU_CLIENT_HOME": str(tmp_path / "home")},
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert r.returncode == 1, r.stderr
    assert r.stderr == (
        "alu: the output cannot be written (No space left on device); check where standard "
        "output goes (a full disk, a file that cannot be written).\n"
    )


def test_tus_put_help_says_the_chunk_size_the_engine_starts_with(tmp_path: Path) -> None:
    # the help said "adaptive from 16M"; with nothing known of the link the engine's first
    # chunk is Tuning.upload_first_chunk (2 MiB), as the README says
    from alu_client.core.transfers.base import Tuning

    r = run_alu(tmp_path / "home", "tus-put", "--help")
    assert r.returncode == 0, r.stderr
    help_text = " ".join(r.stdout.split())
    assert Tuning().upload_first_chunk == 2 * 1024 * 1024
    assert "the first 2M when nothing is known of the link yet" in help_text, help_text
    assert "from 16M" not in help_text


def test_verbose_goes_before_or_after_the_verb(tmp_path: Path) -> None:
    for args in (["-v", "fetch", "ftp://x/y", "out"], ["fetch", "-v", "ftp://x/y", "out"]):
        r = run_alu(tmp_path / "home", *args)
        assert r.returncode == 2 and "http:// or https://" in r.stderr, r.stderr


def test_a_reader_that_stops_early_is_no_error(tmp_path: Path) -> None:
    """`alu … | head -1`: the rest has nowhere to go; that is the reader's choice, not a
    failure of the data folder (it said "Broken pipe. Where that is the data folder…")."""
    code = (
        "import os, sys; r, w = os.pipe(); os.close(r); os.dup2(w, 1); "
        "from alu_client.cli import main; sys.exit(main(['queue', '--json']))"
    )
    env = {**os.environ, "ALU_CLIENT_HOME": str(tmp_path / "home")}
    r = subprocess.run(
        [sys.executable, "-u", "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 141, r.stderr
    assert "data folder" not in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="only Linux lets a name hold any bytes")
def test_a_file_name_that_is_not_text_is_refused_plainly(tmp_path: Path) -> None:
    odd = tmp_path / os.fsdecode(b"journal_f\xe9vrier.mxf")  # Latin-1, from an old card
    odd.write_bytes(b"x" * 1000)
    home = tmp_path / "home"
    for args, advice in (
        (["tus-put", "http://127.0.0.1:9/up/", str(odd)], "Rename the file"),
        # the file is not there yet: "Rename the file, then add it again" pointed nowhere
        (
            ["fetch", "http://127.0.0.1:9/x", str(tmp_path / os.fsdecode(b"f\xe9vrier.mxf"))],
            "choose another name for DEST",
        ),
    ):
        r = run_alu(home, *args)
        assert r.returncode == 2, r.stderr
        assert "f\ufffdvrier.mxf” in" in r.stderr and "is not valid text" in r.stderr
        assert advice in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    listed = run_alu(home, "queue", "list", "--all", "--json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"  # nothing was queued


def test_fetch_into_a_folder_is_quiet_off_a_terminal(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    sha = hashlib.sha256(payload.read_bytes()).hexdigest()
    out = tmp_path / "downloads"
    out.mkdir()
    r = run_alu(
        tmp_path / "home",
        "fetch",
        f"{file_server.url}/files/source.mxf",
        f"{out}/",
        "--sha256",
        sha,
    )
    assert r.returncode == 0, r.stderr
    assert (out / "source.mxf").read_bytes() == payload.read_bytes()
    assert r.stderr == ""  # no progress line when stderr is not a terminal
    assert r.stdout.strip().endswith("sha256 verified)")
    again = run_alu(
        tmp_path / "home",
        "fetch",
        f"{file_server.url}/files/source.mxf",
        f"{out}/",
        "--sha256",
        sha,
    )
    # the same command again: its own verified file is there (nothing downloaded again)
    assert again.returncode == 0 and again.stdout == r.stdout, again.stderr


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v/%E2%80%AEgpj.exe", "gpj.exe"),  # a direction override: shown as "exe.jpg"
        ("/v/CON", "_CON"),  # Windows' console
        ("/v/clip%00x.mp4", "clip_x.mp4"),  # "Something went wrong in ALU Desk (ValueError)"
        ("/v/clip%1b%5b2J.mp4", "clip_[2J.mp4"),  # ESC: clears the terminal that lists it
        ("/v/%2e%2e", "download"),  # "FOLDER/.. exists already"
    ],
)
def test_fetch_into_a_folder_names_the_file_safely(
    tmp_path: Path, payload: Path, path: str, name: str
) -> None:
    app = FastAPI()

    @app.get("/{rest:path}")
    def serve(request: Request, rest: str) -> Response:
        return file_response(request, payload, etag='"v1"', media_type="application/mxf")

    server = serve_in_thread(app)
    out = tmp_path / "downloads"
    out.mkdir()
    try:
        r = run_alu(tmp_path / "home", "fetch", f"{server.url}{path}", f"{out}/")
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    assert [p.name for p in out.iterdir()] == [name]
    assert (out / name).read_bytes() == payload.read_bytes()


def test_fetch_says_when_nothing_could_check_the_file(tmp_path: Path, payload: Path) -> None:
    # a server that streams without a length: the body's end is all there is, and a body cut
    # short would look the same; without --sha256 the CLI must not claim a check it did not make
    data = payload.read_bytes()
    app = FastAPI()

    @app.get("/stream.mxf")
    def stream() -> StreamingResponse:
        return StreamingResponse(iter([data[:100_000], data[100_000:]]))  # chunked, no length

    server = serve_in_thread(app)
    try:
        url = f"{server.url}/stream.mxf"
        plain = run_alu(tmp_path / "home", "fetch", url, str(tmp_path / "a.mxf"))
        sha = hashlib.sha256(data).hexdigest()
        checked = run_alu(tmp_path / "home", "fetch", url, str(tmp_path / "b.mxf"), "--sha256", sha)
    finally:
        server.stop()
    assert plain.returncode == 0, plain.stderr
    assert (tmp_path / "a.mxf").read_bytes() == data
    assert "size checked" not in plain.stdout
    assert "not checked: the server gave no size" in plain.stdout
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip().endswith("sha256 verified)")


def test_fetch_warns_when_the_server_sent_a_web_page(tmp_path: Path) -> None:
    # a network's sign-in page (or an error page with 200) saved as the clip, "size checked",
    # exit 0 and not a word
    page = b"<!DOCTYPE html>\n<html><body><h1>Welcome to Hotel WiFi</h1></body></html>\n"
    app = FastAPI()

    @app.get("/{name}")
    def portal(name: str) -> Response:
        return Response(page, media_type="text/html")

    server = serve_in_thread(app)
    try:
        clip = run_alu(tmp_path / "home", "fetch", f"{server.url}/clip.mp4", str(tmp_path / "c"))
        html = run_alu(tmp_path / "home", "fetch", f"{server.url}/i.html", f"{tmp_path}/")
    finally:
        server.stop()
    assert clip.returncode == 0, clip.stderr  # kept: scripts that check the file decide
    assert clip.stderr == (
        "alu: c: the server sent a web page, not a file: check the address (a sign-in page of "
        "the network?).\n"
    )
    assert html.returncode == 0 and html.stderr == "", html.stderr  # a page was asked for


def test_a_commands_headers_go_to_its_own_transfer_only(tmp_path: Path, payload: Path) -> None:
    # `alu fetch` started the whole queue of its data folder, and gave every transfer it ran
    # the headers (a token, a password) given for its own URL
    seen: list[tuple[str, str | None]] = []
    app = FastAPI()

    @app.get("/{name}")
    def serve(name: str, request: Request) -> Response:
        seen.append((name, request.headers.get("x-secret")))
        return file_response(request, payload, etag='"v1"', media_type="application/mxf")

    server = serve_in_thread(app)
    home = tmp_path / "home"
    try:
        first = alu(home, "fetch", f"{server.url}/first.mxf", str(tmp_path / "first.mxf"),
                    "--limit", "100KB")  # fmt: skip
        wait_until(lambda: ("first.mxf", None) in seen, timeout=20, what="the first fetch")
        first.send_signal(signal.SIGINT)  # interrupted: left queued, to resume later
        assert first.wait(20) == 130, first.communicate()
        first.communicate()
        r = run_alu(home, "fetch", f"{server.url}/second.mxf", str(tmp_path / "second.mxf"),
                    "--header", "X-Secret: s3cret")  # fmt: skip
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    assert ("second.mxf", "s3cret") in seen
    assert [s for n, s in seen if n == "first.mxf"] == [None]  # not run again, no secret
    listed = run_alu(home, "queue", "list")
    assert "first.mxf" in listed.stdout and "queued" in listed.stdout


def test_wrong_checksum_is_not_kept(tmp_path: Path, payload: Path, file_server: RunningHub) -> None:
    # a miss is fetched again (damage on the way); the same wrong bytes twice end it
    dest = tmp_path / "clip.mxf"
    url = f"{file_server.url}/files/source.mxf"
    r = run_alu(tmp_path / "home", "fetch", url, str(dest), "--sha256", "0" * 64)
    assert r.returncode == 1, r.stderr
    assert "clip.mxf: The server's file is not the one expected" in r.stderr
    # any URL: not "tell the agency" (a hub item's words), which has nothing to do with it
    assert r.stderr.endswith(
        "Nothing was kept; check the checksum you gave, or tell whoever runs the server.\n"
    ), r.stderr
    assert "Traceback" not in r.stderr
    assert not dest.exists() and not (tmp_path / "clip.mxf.part").exists()
    # the user corrects the checksum: the same command with it now succeeds (it used to
    # resume the failed transfer with the old sum and fail again, for ever)
    sha = hashlib.sha256(payload.read_bytes()).hexdigest()
    fixed = run_alu(tmp_path / "home", "fetch", url, str(dest), "--sha256", sha)
    assert fixed.returncode == 0, fixed.stderr
    assert dest.read_bytes() == payload.read_bytes()
    listed = run_alu(tmp_path / "home", "queue", "list", "--all", "--json")
    assert listed.stdout.count('"id"') == 1  # the same transfer, not a second one


def test_credentials_in_the_url_are_sent_but_never_kept_or_logged(
    tmp_path: Path, payload: Path
) -> None:
    # a server that asks for a user name and password (Basic), as many private mirrors do
    app = FastAPI()
    wanted = "Basic " + base64.b64encode(b"agence:p@ss w0rd").decode()

    @app.api_route("/files/source.mxf", methods=["GET", "HEAD"])
    def serve(request: Request) -> Response:
        if request.headers.get("authorization") != wanted:
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="x"'})
        return file_response(request, payload, etag='"v1"', media_type="application/mxf")

    server = serve_in_thread(app)
    try:
        home = tmp_path / "home"
        url = server.url.replace("://", "://agence:p%40ss%20w0rd@") + "/files/source.mxf"
        r = run_alu(home, "-v", "fetch", url, str(tmp_path / "clip.mxf"))
    finally:
        server.stop()

    assert r.returncode == 0, r.stderr
    assert (tmp_path / "clip.mxf").read_bytes() == payload.read_bytes()
    assert "w0rd" not in r.stdout + r.stderr and "agence" not in r.stderr
    assert "download http://127.0.0.1:" in r.stderr  # logged, without the user or password
    assert_kept_nowhere(home, b"w0rd", b"agence")


def test_a_second_fetch_on_the_same_folder_waits_for_the_first(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    # it failed at once with exit status 1 (as a failed download does) where `alu get` waits
    home = tmp_path / "home"
    err = tmp_path / "second.err"
    with FaultProxy(("127.0.0.1", file_server.port)) as proxy:
        proxy.rate_bps = 1_000_000
        first = alu(home, "fetch", f"{proxy.url}/files/source.mxf", str(tmp_path / "a.mxf"))
        try:
            wait_until(lambda: proxy.bytes_down > 100_000, 30, what="the first fetch to run")
            with err.open("w") as stderr:
                second = subprocess.Popen(
                    [sys.executable, "-m", "alu_client.cli", "fetch",
                     f"{proxy.url}/files/source.mxf", str(tmp_path / "b.mxf")],
                    env={**os.environ, "ALU_CLIENT_HOME": str(home)},
                    stdout=subprocess.PIPE, stderr=stderr, text=True,
                )  # fmt: skip
            wait_until(lambda: "starts when it ends" in err.read_text(), 30, what="it waits")
            assert second.poll() is None  # waiting, not failed
        finally:
            first.terminate()
            first.communicate(timeout=30)
        proxy.rate_bps = None
        out, _ = second.communicate(timeout=120)
    assert first.returncode != 0  # interrupted: it says to run again to resume
    said = err.read_text()
    assert second.returncode == 0, said
    assert out.strip().endswith("size checked)"), out
    assert f"alu: another alu (process {first.pid}) is working on this data folder" in said
    assert "alu: the data folder is free now; the transfer runs here." in said
    assert (tmp_path / "b.mxf").read_bytes() == payload.read_bytes()


def test_fetch_while_an_engine_runs_every_transfer_here_is_refused_with_its_own_status(
    tmp_path: Path,
) -> None:
    # the app or `alu watch run` would take the transfer without the command's --header: not
    # waited for (it runs for days), refused with a status a script can tell from a failure
    from alu_client.core.lockfile import EngineLock
    from alu_client.core.paths import default_paths

    home = tmp_path / "home"
    lock = EngineLock(default_paths({"ALU_CLIENT_HOME": str(home)}).ensure().engine_lock)
    lock.acquire(only=None)  # as the app's engine holds it
    try:
        r = run_alu(home, "fetch", "http://127.0.0.1:9/x.bin", str(tmp_path / "x.bin"))
    finally:
        lock.release()
    assert r.returncode == 75, r.stderr
    assert "Another ALU Desk, or alu watch run" in r.stderr, r.stderr


@pytest.mark.parametrize(
    ("url", "given", "clean", "auth"),
    [
        ("https://u:p@h.example/f", {}, "https://h.example/f", "Basic dTpw"),
        (
            "http://u%40x:p%3A1@[::1]:8080/f?a=1",
            {},
            "http://[::1]:8080/f?a=1",
            "Basic dUB4OnA6MQ==",
        ),
        ("https://u@h.example:444/f", {}, "https://h.example:444/f", "Basic dTo="),
        ("https://u:p@h/f", {"authorization": "Bearer t"}, "https://h/f", None),  # given wins
        ("https://h.example/f", {}, "https://h.example/f", None),
    ],
)
def test_credentials_out_of_the_url(
    url: str, given: dict[str, str], clean: str, auth: str | None
) -> None:
    headers = dict(given)
    assert credentials_out_of(url, headers) == clean
    assert headers.get("Authorization") == auth


def test_off_a_terminal_a_waiting_transfer_says_why_once(tmp_path: Path) -> None:
    # the server drops every request: the transfer waits and tries again for ever (the probe
    # of its server standing for its attempts), which a script's log must show instead of
    # looking hung; one line, not one per try
    from tests.support.outage import Server

    down = Server("drop")
    env = {
        **os.environ,
        "ALU_CLIENT_HOME": str(tmp_path / "home"),
        PROBE_ENV: "0.1,0.2",  # (its probe every 0.1-0.2 s: tries counted in a second)
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "alu_client.cli", "fetch", down.url("/clip.mp4"), "out"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the attempt (a GET, and once more on a new connection), then the probes (HEAD)
        wait_until(lambda: down.count("HEAD") >= 3, 60, what="tried again three times")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        down.close()
    assert down.count("GET") <= 2
    lines = err.strip().splitlines()
    assert lines[0] == "out: The server could not be reached; trying again.", err
    # and that it stays queued (the app or `alu watch run` finished it without a word; they
    # are not named: no hub profile here, and `alu watch run` would not start)
    assert lines[1:] == [
        "alu: Interrupted; run the same command again to resume. Transfer 1 stays queued; "
        "alu queue cancel 1 drops it."
    ], err


def test_fetch_from_a_port_that_does_not_speak_http_says_so_and_ends(tmp_path: Path) -> None:
    # "The server could not be reached; trying again." for ever: the server was reached, and
    # what it answered is no HTTP (a wrong port); no retry mends that, the address does
    server = RawAnswer(b"SSH-2.0-OpenSSH_9.6\r\nProtocol mismatch.\r\n")  # a wrong port
    try:
        url = f"http://127.0.0.1:{server.port}/x.bin"
        r = run_alu(tmp_path / "home", "fetch", url, str(tmp_path / "out"))
    finally:
        server.close()
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        "alu: out: The server answered with something that is not HTTP: check the address (is "
        "its port one for another service?)."
    ), r.stderr
    assert "could not be reached" not in r.stderr


def test_a_library_that_cannot_be_read_is_one_clear_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    (home / "data" / "library.sqlite3").write_bytes(b"garbage, not a database")
    r = run_alu(home, "queue", "list")
    assert r.returncode == 1
    assert "library.sqlite3 cannot be used (file is not a database)" in r.stderr
    assert "together with library.sqlite3-wal and library.sqlite3-shm" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_queue_command_that_does_nothing_says_so(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    home = tmp_path / "home"
    got = run_alu(home, "fetch", f"{file_server.url}/files/source.mxf", str(tmp_path / "a.mxf"))
    assert got.returncode == 0, got.stderr
    for action in ("pause", "resume", "cancel"):
        r = run_alu(home, "queue", action, "1")
        assert r.returncode == 1  # exit 0 with nothing done misled scripts
        assert f"Transfer 1 is done: there is nothing to {action}." in r.stderr


def _interrupted_put(home: Path, endpoint: str, path: Path, *extra: str) -> None:
    put = alu(home, "tus-put", endpoint, str(path), "--limit", "200KB", "--chunk-size", "256K",
              *extra)  # fmt: skip
    try:
        wait_until(lambda: put.poll() is not None or _sent(home), timeout=30, what="bytes out")
    finally:
        put.send_signal(signal.SIGINT)
    assert put.wait(20) == 130, put.communicate()
    put.communicate()


def _sent(home: Path) -> bool:
    listed = run_alu(home, "queue", "list", "--json")
    return '"bytes_done": 0' not in listed.stdout and '"id"' in listed.stdout


@pytest.mark.parametrize("new_mib", [3, 2])
def test_tus_put_again_after_the_file_changed_sends_the_new_one(
    tmp_path: Path, new_mib: int
) -> None:
    # the interrupted upload cannot go on with other bytes; running the command again is how a
    # script adds the file again: it failed for ever ("The file changed… add it again"), and
    # with bytes of the same size it failed once so (only a third run sent the file)
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    home = tmp_path / "home"
    with TinyTus() as server:
        _interrupted_put(home, server.endpoint, path)
        path.write_bytes(os.urandom(new_mib * 1024 * 1024))  # a new cut of the clip
        r = run_alu(home, "tus-put", server.endpoint, str(path))
        assert r.returncode == 0, r.stderr
        assert server.only_upload() == path.read_bytes()  # the old one was DELETEd
        assert r.stdout.strip().startswith(server.endpoint.rstrip("/"))


def test_tus_put_again_with_other_metadata_says_it_keeps_the_first(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    home = tmp_path / "home"
    with TinyTus() as server:
        _interrupted_put(home, server.endpoint, path, "--metadata", "title=WRONG")
        r = run_alu(home, "tus-put", server.endpoint, str(path), "--metadata", "title=Right")
        assert r.returncode == 0, r.stderr
        assert "goes on with the metadata it was started with" in r.stderr
        assert "alu queue cancel 1" in r.stderr
        assert server.only_upload() == path.read_bytes()


def _read_so_far(pid: int) -> int:
    """Bytes the process has read (Linux: /proc/PID/io)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


@pytest.mark.skipif(sys.platform != "linux", reason="a sparse file, signals and /proc/PID/io")
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_while_tus_put_hashes_a_big_file_stops_it_at_once(
    tmp_path: Path, signum: int, status: int
) -> None:
    # the hash of the whole file comes before the transfer exists; Ctrl-C waited for it (35 s
    # for 6 GB here), minutes for a day's rushes. The exit status is the shell's for that
    # signal (a service manager's stop, SIGTERM, gave 130 as if Ctrl-C)
    path = tmp_path / "rushes.mxf"
    with open(path, "wb") as f:
        f.truncate(64 * 1024**3)  # sparse: no disk, hashing it still reads 64 GiB of zeros
    put = alu(tmp_path / "home", "tus-put", "http://127.0.0.1:9/files/", str(path))
    wait_until(
        lambda: put.poll() is not None or _read_so_far(put.pid) > 512 * 1024**2,
        timeout=30,
        what="the hash under way",
    )
    assert put.poll() is None  # 512 MiB of 64 GiB hashed: well inside it
    put.send_signal(signum)
    t0 = time.monotonic()
    assert put.wait(10) == status
    assert time.monotonic() - t0 < 3
    _out, err = put.communicate()
    assert "Interrupted; nothing was sent." in err


def test_queue_first_last_and_priority_reorder_what_runs_next(tmp_path: Path) -> None:
    from alu_client.core.store import Store
    from alu_client.core.store.transfers import TransferStore

    home = tmp_path / "home"
    assert run_alu(home, "queue").returncode == 0  # the data folder and its library
    store = Store(home / "data" / "library.sqlite3")
    transfers = TransferStore(store)
    for name in ("a", "b", "c"):
        transfers.add("download", f"http://127.0.0.1:9/{name}", str(tmp_path / name), label=name)
    transfers.add("download", "http://127.0.0.1:9/d", str(tmp_path / "d"), label="d")
    transfers.finish(4, "done")

    def order() -> list[str]:
        return [t.label for t in transfers.runnable("download", time.time(), 10, None)]

    try:
        assert order() == ["a", "b", "c"]
        r = run_alu(home, "queue", "first", "3")
        assert (r.returncode, r.stdout.strip()) == (0, "3 is first of its priority now"), r.stderr
        assert order() == ["c", "a", "b"]
        assert run_alu(home, "queue", "last", "3").returncode == 0
        assert order() == ["a", "b", "c"]
        r = run_alu(home, "queue", "priority", "2", "flash")
        assert (r.returncode, r.stdout.strip()) == (0, "2 is flash now"), r.stderr
        assert order() == ["b", "a", "c"]
        r = run_alu(home, "queue", "first", "3")  # first of the routine ones: after the flash
        assert order() == ["b", "c", "a"]

        for args, status, message in [
            (("priority", "1", "soon"), 2, "needs a level: flash, urgent, routine"),
            (("priority", "1"), 2, "needs a level"),
            (("first",), 2, "queue first needs a transfer id"),
            (("first", "9"), 1, "There is no transfer 9."),
            (("first", "4"), 1, "Transfer 4 is done: it has no place in the queue."),
            (("last", "1", "flash"), 2, "queue last takes a transfer id only."),
            (("pause", "1", "flash"), 2, "queue pause takes a transfer id only."),
        ]:
            r = run_alu(home, "queue", *args)
            assert r.returncode == status, (args, r.stderr)
            assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert order() == ["b", "c", "a"]  # the refused ones changed nothing
    finally:
        store.close()


def test_queue_limit_gives_one_transfer_a_speed_limit_of_its_own(tmp_path: Path) -> None:
    # a per-transfer limit existed in the engine only: no command or control could set one
    from alu_client.core.store import Store
    from alu_client.core.store.transfers import TransferStore

    home = tmp_path / "home"
    assert run_alu(home, "queue").returncode == 0
    store = Store(home / "data" / "library.sqlite3")
    transfers = TransferStore(store)
    for name in ("a", "b"):
        transfers.add("download", f"http://127.0.0.1:9/{name}", str(tmp_path / name), label=name)
    transfers.finish(2, "done")
    try:
        r = run_alu(home, "queue", "limit", "1", "2M")
        assert (r.returncode, r.stdout.strip()) == (0, "1 is limited to 2.0 Mbit/s now"), r.stderr
        assert transfers.get(1).limit_bps == 250_000  # type: ignore[union-attr]
        listed = run_alu(home, "queue")
        assert "(limited to 2.0 Mbit/s)" in listed.stdout, listed.stdout
        assert json.loads(run_alu(home, "queue", "--json").stdout)[0]["limit_bps"] == 250_000
        for args, status, message in [
            (("limit", "1", "fast"), 2, "can't read 'fast' as a rate"),
            (("limit", "1", "1"), 2, "too slow to move a file"),
            (("limit", "1"), 2, "queue limit needs a transfer id and a rate"),
            (("limit", "9", "2M"), 1, "There is no transfer 9."),
            (("limit", "2", "2M"), 1, "Transfer 2 is done: it moves no more bytes."),
        ]:
            r = run_alu(home, "queue", *args)
            assert r.returncode == status, (args, r.stderr)
            assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert transfers.get(1).limit_bps == 250_000  # type: ignore[union-attr]
        r = run_alu(home, "queue", "limit", "1", "unlimited")
        assert (r.returncode, r.stdout.strip()) == (0, "1 has no limit of its own now"), r.stderr
        assert transfers.get(1).limit_bps is None  # type: ignore[union-attr]
    finally:
        store.close()


def test_queue_resume_all_withdraws_a_pause_the_running_engine_has_not_taken(
    tmp_path: Path,
) -> None:
    # pause-all then resume-all beside a running app: resume-all looked at paused transfers
    # only, said "no transfer to resume" and both ended paused
    from alu_client.core.lockfile import EngineLock
    from alu_client.core.store import Store
    from alu_client.core.store.transfers import TransferStore

    home = tmp_path / "home"
    assert run_alu(home, "queue").returncode == 0
    store = Store(home / "data" / "library.sqlite3")
    transfers = TransferStore(store)
    for name in ("a", "b"):
        tid = transfers.add("download", f"http://127.0.0.1:9/{name}", str(tmp_path / name))
        assert transfers.claim(tid)
    engine = EngineLock(home / "data" / "engine.lock").acquire()  # the app, running them
    try:
        paused = run_alu(home, "queue", "pause-all")
        assert paused.stdout.count("asked the running engine to pause") == 2, paused.stdout
        resumed = run_alu(home, "queue", "resume-all")
        assert resumed.returncode == 0, resumed.stderr
        assert resumed.stdout.split() == ["resumed", "1", "resumed", "2"], resumed.stdout
        assert [(t.state, t.request) for t in transfers.all()] == [("active", "")] * 2
        # a cancel asked is not withdrawn by a resume: cancel, then resume-all, cancels
        assert run_alu(home, "queue", "cancel", "1").returncode == 0
        assert run_alu(home, "queue", "resume-all").returncode in (0, 1)
        assert [t.request for t in transfers.all()] == ["cancel", ""]
    finally:
        engine.release()
        store.close()


def test_limits_that_are_not_rates_are_refused_with_the_rates_own_words(tmp_path: Path) -> None:
    # "--limit -2M" read as an option: argparse's "expected one argument"; "--limit 1" was
    # 1 bit/s, and the download sat still with nothing said
    for value, says in [("-2M", "can't read '-2M' as a rate"), ("1", "too slow to move a file")]:
        r = run_alu(tmp_path / "home", "fetch", "http://127.0.0.1:9/x", str(tmp_path / "x"),
                    "--limit", value)  # fmt: skip
        assert r.returncode == 2, r.stderr
        assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_the_progress_line_counts_days_in_the_time_left() -> None:
    # 27 h left read "ETA 03:00:00" (a clock's hours, not a duration's)
    from alu_client.cli.common import fmt_eta

    assert fmt_eta(27 * 3600) == "1d 03:00:00"
    assert fmt_eta(3 * 3600 + 62) == "03:01:02"
    assert fmt_eta(None) == fmt_eta(float("inf")) == "--:--:--"


def _cancel_a_running_tus_put(tmp_path: Path, bends: Bends, *extra: str) -> None:
    """`alu tus-put` with credentials, canceled from another shell once the server has its
    upload: the command ends saying so, the server got the DELETE (with the credentials:
    it asks for them) and the upload's address is kept nowhere in the data folder."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(1024 * 1024))
    home = tmp_path / "home"
    bends.auth = "Bearer right"
    with TinyTus(bends) as server:
        put = alu(
            home, "tus-put", server.endpoint, str(path), "--chunk-size", "64K",
            "--header", "Authorization: Bearer right", *extra,
        )  # fmt: skip
        try:
            wait_until(
                lambda: any(m == "PATCH" for m, _p, _s in server.seen) or put.poll() is not None,
                30,
                what="a PATCH",
            )
            assert put.poll() is None, put.communicate()
            (upload,) = {p for m, p, _s in server.seen if m == "PATCH"}
            r = run_alu(home, "queue", "cancel", "1")
            assert r.returncode == 0, r.stderr
            _out, err = put.communicate(timeout=30)
        finally:
            if put.poll() is None:
                put.kill()
                put.communicate()
        assert put.returncode == 1 and "canceled (from alu queue or the app)" in err, err
        assert ("DELETE", upload, 204) in server.seen, server.seen
        assert not server.uploads
    assert_kept_nowhere(home, upload.encode())


def test_queue_cancel_of_a_tus_put_waiting_to_retry_tells_the_server(tmp_path: Path) -> None:
    # the command ended at the cancel, before any sweep: no DELETE, the upload's address left
    # in the library, and its last words were "the upload will go on later"
    _cancel_a_running_tus_put(tmp_path, Bends(patch_status=503))


def test_queue_cancel_of_a_tus_put_sending_tells_the_server(tmp_path: Path) -> None:
    # the worker telling the server was no longer waited for by the engine's stop: the process
    # ended before it could, and the upload's address stayed in the library (3 runs in 4)
    _cancel_a_running_tus_put(tmp_path, Bends(), "--limit", "40KB")


def test_tus_put_to_a_server_that_is_no_hub_speaks_of_the_server(tmp_path: Path) -> None:
    # the engine words its messages for the ALU hub; `alu tus-put` to tusd or any tus server
    # said "The hub did not accept this sign-in", and the user looked for a hub
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(64 * 1024))
    with TinyTus(Bends(auth="Bearer right")) as server:
        r = run_alu(
            tmp_path / "home", "tus-put", server.endpoint, str(path),
            "--header", "Authorization: Bearer wrong",
        )  # fmt: skip
    assert r.returncode != 0
    assert "The server did not accept the credentials given (HTTP 401)" in r.stderr, r.stderr
    assert "hub" not in r.stderr.lower(), r.stderr


def test_tus_put_says_when_the_server_lost_the_upload_and_it_starts_again(
    tmp_path: Path,
) -> None:
    # the whole file sent again, exit 0 and not a word: the note was in the transfer's log
    # only, which no alu command shows
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    home = tmp_path / "home"
    with TinyTus() as server:
        _interrupted_put(home, server.endpoint, path)
        server.forget_all()  # lost (a server's clean-up, a restart): 404
        r = run_alu(home, "tus-put", server.endpoint, str(path))
        assert r.returncode == 0, r.stderr
        assert r.stderr.splitlines() == [
            "clip.mp4: The server had lost the partial upload; it started again from the beginning."
        ]
        assert server.only_upload() == path.read_bytes()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_line_is_drawn_on_the_terminal_the_command_writes_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the commands make their line without naming a stream (stderr, as it is then): the line
    # read the terminal test off the stream not given, and was never drawn: a 110 s upload
    # looked hung until its last line
    from alu_client.cli.common import ProgressLine
    from alu_client.core.transfers.queue import Progress

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    line = ProgressLine(7)
    assert line.enabled
    line([Progress(7, "upload", "active", "clip.mp4", 1000, 5000, 500.0, 8.0, "")])
    assert "clip.mp4" in terminal.getvalue() and "ETA" in terminal.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a log file: no line
    assert not ProgressLine(7).enabled


@pytest.mark.parametrize("columns", [80, 50])
def test_the_progress_line_fits_the_terminal(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    # a line wider than the terminal wraps, and each redraw ("\r") left a copy behind: 82
    # columns for a long name on 80, 115 for one waiting with its reason
    from alu_client.cli.common import ProgressLine
    from alu_client.core.transfers.queue import Progress

    monkeypatch.setenv("COLUMNS", str(columns))  # (a StringIO has no terminal size of its own)
    out = _Terminal()
    line = ProgressLine(7, out)
    name = "interview_2024-05-12_camera-A_take3_final_cut.mp4"
    line([Progress(7, "upload", "active", name, 123_500_000, 10**9, 12.3e6, 71.0, "")])
    line([Progress(7, "upload", "queued", name, 123_500_000, 10**9, 0.0, None,
                   "The server could not be reached; trying again.")])  # fmt: skip
    line([Progress(7, "upload", "active", "clip.mp4", 123_500_000, 10**9, 12.3e6, 71.0, "")])
    drawn = out.getvalue().split("\r")[1:]
    assert len(drawn) == 3
    assert all(len(d) < columns for d in drawn), [len(d) for d in drawn]
    assert drawn[0].startswith("intervie") and "12.3%" in drawn[0]
    assert drawn[2].startswith("clip.mp4 ") and drawn[2].rstrip().endswith("ETA 00:01:11")


def test_a_note_on_a_terminal_is_a_line_of_its_own_under_the_progress() -> None:
    from alu_client.cli.common import ProgressLine
    from alu_client.core.store.transfers import Transfer
    from alu_client.core.transfers.queue import Progress

    out = _Terminal()
    line = ProgressLine(7, out)
    p = Progress(7, "upload", "active", "clip.mp4", 1000, 5000, 500.0, 8.0, "")
    line([p])
    t = Transfer(7, "upload", "active", 2, 1.0, "clip.mp4", "/c", "http://s/", 5000, 1000,
                 None, None, None, {}, {}, 1, "", None, "", None, 0.0, None, None)  # fmt: skip
    line.note(t, "The server had lost the partial upload; it started again from the beginning.")
    line.note(dataclasses.replace(t, id=8), "another transfer's: not this command's")
    line([p])
    line.end()
    shown = out.getvalue().split("\n")
    assert shown[0].split("\r")[-1].rstrip() == (
        "clip.mp4: The server had lost the partial upload; it started again from the beginning."
    )
    assert shown[1].startswith("\rclip.mp4 ") and "%" in shown[1]  # drawn again below
    assert shown[2:] == [""] and "another" not in out.getvalue()


def test_get_and_put_say_their_transfers_notes(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # `alu get` and `alu put` run their transfer through ``wait_for_transfer``: a note of the
    # engine ("The hub had lost the partial upload; …") went to the transfer's log only, and
    # the command sent the whole file again without a word (tus-put and fetch said it)
    from alu_client.cli import common
    from alu_client.core.store.transfers import Transfer

    t = Transfer(7, "upload", "active", 2, 1.0, "clip.mp4", "/c", "http://s/", 5000, 1000,
                 None, None, None, {}, {}, 1, "", None, "", None, 0.0, None, None)  # fmt: skip
    said = "The hub had lost the partial upload; it started again from the beginning."

    class Engine:
        def __init__(self) -> None:
            self.on_note = lambda _t, _m: None

        def add_listener(self, _cb: object) -> None:
            pass

        def resume(self, _tid: int) -> None:
            pass

        def wait_for(self, tid: int, timeout: float) -> Transfer:
            self.on_note(t, said)  # as the engine's thread would, mid-transfer
            return dataclasses.replace(t, state="failed")

    monkeypatch.setattr(common, "_engine_for", lambda *_a: Engine())
    ended = common.wait_for_transfer(object(), 7)  # type: ignore[arg-type]
    assert ended.state == "failed"
    assert f"clip.mp4: {said}" in capfd.readouterr().err.splitlines()


def test_tus_put_run_again_after_its_end_prints_the_same_url_and_sends_nothing(
    tmp_path: Path,
) -> None:
    # a `tus-put` killed after its end was recorded (the URL maybe printed, exit status 137:
    # a script runs it again) sent the whole file a second time: the server held it twice
    import sqlite3

    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(300 * 1024))
    home = tmp_path / "home"
    with TinyTus() as server:
        first = run_alu(home, "tus-put", server.endpoint, str(path))
        assert first.returncode == 0, first.stderr
        url = first.stdout.strip()
        assert url.startswith(server.endpoint)

        again = run_alu(home, "tus-put", server.endpoint, str(path))
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == url
        assert "sent already by an earlier run" in again.stderr
        assert server.methods().count("POST") == 1 and server.methods().count("PATCH") == 1

        # other metadata asked for: another upload
        other = run_alu(home, "tus-put", server.endpoint, str(path), "--metadata", "k=v")
        assert other.returncode == 0 and other.stdout.strip() != url, other.stderr
        assert server.methods().count("POST") == 2

        # the file changed: sent anew
        path.write_bytes(os.urandom(300 * 1024))
        changed = run_alu(home, "tus-put", server.endpoint, str(path))
        assert changed.returncode == 0, changed.stderr
        assert changed.stdout.strip() not in (url, "") and "sent already" not in changed.stderr
        assert server.methods().count("POST") == 3

        # a day later the URL is forgotten (the next engine's start deletes it): sent anew
        db = home / "data" / "library.sqlite3"
        if not db.exists():
            db = next(home.rglob("library.sqlite3"))
        with sqlite3.connect(db) as c:
            c.execute("UPDATE transfer_checkpoints SET data = json_set(data, '$.kept_until', 1)")
        later = run_alu(home, "tus-put", server.endpoint, str(path))
        assert later.returncode == 0 and "sent already" not in later.stderr, later.stderr
        assert server.methods().count("POST") == 4
        with sqlite3.connect(db) as c:
            rows = c.execute("SELECT data FROM transfer_checkpoints").fetchall()
        # only the newest upload's URL is kept now, for its own day
        assert [r[0] for r in rows if url in r[0] or changed.stdout.strip() in r[0]] == []
        assert len(rows) == 1 and later.stdout.strip() in rows[0][0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_stop_signal_ignored_at_start_stays_ignored() -> None:
    # `nohup alu watch run &` over ssh: SIGHUP ignored from the start; catching it anyway
    # stopped the engine (exit 129) when the session closed
    from alu_client.cli.common import Interrupted

    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    interrupted = Interrupted()
    try:
        restore = interrupted.catch()
        try:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) == interrupted.handler
        finally:
            restore()
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_watch_run_after_sighup_exits_129_though_its_terminal_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the terminal closed (SIGHUP): "stopping the engine" to it raised EIO, and the verb ended
    # with a traceback instead of 129
    import argparse

    from alu_client.cli import watch_verbs

    class GoneTerminal(io.StringIO):
        def write(self, _text: str) -> int:
            raise OSError(5, "Input/output error")

    class Engine:
        paths = argparse.Namespace(data_dir="/nowhere/data")  # (named in its log's first line)

        def start_engine(self, **_limits: object) -> None:
            os.kill(os.getpid(), signal.SIGHUP)  # the terminal closes as the engine starts

    monkeypatch.setattr(sys, "stderr", GoneTerminal())
    # (its log file is another test's: here it would stay on this process's root logger)
    monkeypatch.setattr(watch_verbs, "_log_to_file", lambda _services: None)
    args = argparse.Namespace(limit_down=None, limit_up=None, seconds=None)
    status = watch_verbs._run_engine(Engine(), args)  # type: ignore[arg-type]
    monkeypatch.undo()
    assert status == 129


def test_the_last_words_of_an_interrupted_verb_to_a_gone_terminal_do_not_raise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # after SIGHUP: the progress line's end and "alu: Interrupted; …" to a terminal that is
    # gone raised EIO, a traceback instead of the signal's status
    from alu_client.cli import _say
    from alu_client.cli.common import ProgressLine

    class GoneTerminal(io.StringIO):
        def isatty(self) -> bool:
            return True

        def write(self, _text: str) -> int:
            raise OSError(5, "Input/output error")

    line = ProgressLine(1, GoneTerminal())
    line.last = "\rclip.mp4  42.0%"
    line.end()
    monkeypatch.setattr(sys, "stderr", GoneTerminal())
    _say(RuntimeError("Interrupted; run the same command again to resume."))


def _on_terminal(home: Path, *args: str) -> tuple[int, str]:
    from tests.support.terminal import run_on_terminal

    env = {**os.environ, "ALU_CLIENT_HOME": str(home), "COLUMNS": "100"}
    return run_on_terminal([sys.executable, "-m", "alu_client.cli", *args], env)


def test_tus_puts_url_is_a_line_of_its_own_on_a_terminal(tmp_path: Path) -> None:
    # the URL was glued to the progress line ("…ETA 00:00:00http://…"), a blank line after it
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(512 * 1024))
    with TinyTus() as server:
        # (a limit: the upload lasts long enough for its progress to be drawn)
        status, out = _on_terminal(
            tmp_path / "home", "tus-put", server.endpoint, str(path), "--limit", "2M"
        )
    assert status == 0, out
    assert "ETA" in out, out  # the progress was drawn
    urls = [line for line in out.split("\n") if server.endpoint in line]
    assert len(urls) == 1 and urls[0].startswith(server.endpoint), out
    assert out.endswith(urls[0] + "\n"), repr(out[-200:])  # nothing drawn after it


def test_fetchs_result_is_a_line_of_its_own_on_a_terminal(
    tmp_path: Path, payload: Path, file_server: RunningHub
) -> None:
    dest = tmp_path / "got.mxf"
    status, out = _on_terminal(
        tmp_path / "home", "fetch", f"{file_server.url}/files/source.mxf", str(dest),
        "--limit", "80M",
    )  # fmt: skip
    assert status == 0, out
    last = out.split("\n")[-2]
    assert last.startswith(f"{dest} (") and last.endswith("size checked)"), repr(out[-300:])
    assert out.endswith(last + "\n")


def test_tus_put_without_credentials_says_none_were_given(tmp_path: Path) -> None:
    # "none was sent to the address it gave for the upload": read as credentials withheld
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(64 * 1024))
    with TinyTus(Bends(auth="Bearer right")) as server:
        r = run_alu(tmp_path / "home", "tus-put", server.endpoint, str(path))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        "alu: clip.mp4: The server asks for credentials (HTTP 401): pass them with --header "
        "'Authorization: …' or user:password@ in the address."
    ), r.stderr


def test_tus_put_to_a_static_web_server_speaks_of_no_account(tmp_path: Path) -> None:
    # "The server refused the upload for this account: HTTP 403 Forbidden": a web server that
    # takes no uploads, and no account anywhere
    from tests.support.nginx import start_nginx

    site = tmp_path / "site"
    (site / "files").mkdir(parents=True)
    block = f"""
    server {{
        listen 127.0.0.1:{{port}};
        root {site};
        autoindex off;
    }}
    """
    nginx = start_nginx(
        tmp_path / "nginx",
        block,
        lambda port: requests.get(f"http://127.0.0.1:{port}/", timeout=2).status_code > 0,
    )
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(64 * 1024))
    try:
        r = run_alu(tmp_path / "home", "tus-put", f"{nginx.url}/files/", str(path))
    finally:
        nginx.stop()
    assert r.returncode == 1
    said = r.stderr.strip().splitlines()[-1]
    assert said.startswith(
        "alu: clip.mp4: The server refused the upload (is the address one for tus uploads? "
        "Check it and the credentials given): "
    ), r.stderr
    assert "account" not in said and "hub" not in said.lower()
