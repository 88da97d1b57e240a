"""Uploads to tus 1.0 servers that answer legally but unusually (tests/support/tinytus.py): an
OPTIONS refused with 403, an upload forgotten and answered 403, a PATCH answered 204 that kept
fewer bytes than it was sent or none, a link that cuts every PATCH (the server keeping what
arrived), and a file changed while its last chunk goes out. Each ends with the server holding
our bytes exactly, or with the clear error that is right and nothing torn left there."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from alu_client.core.http import HEADERS_TOO_LARGE_MESSAGE, TransferAdapter, on_connection
from alu_client.core.transfers.base import PermanentError, RetryableError, Stopped
from alu_client.core.transfers.download import protocol as download_protocol
from alu_client.core.transfers.upload import (
    EXPIRED_NOTE,
    FILE_CHANGED,
    LOST_NOTE,
    UploadSpec,
    run,
)
from alu_client.core.transfers.upload import job as upload_job
from alu_client.core.transfers.upload import protocol as upload_protocol
from alu_client.core.transfers.upload.spec import QUICK_RESUMES
from alu_client.core.transfers.upload.streaming import _Flight
from tests.client.test_upload import Ctx, random_file, run_until_done
from tests.support.faultproxy import FaultProxy
from tests.support.tinytus import Bends, TinyTus
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

KIB = 1024
MIB = 1024 * KIB


@pytest.fixture
def bends() -> Bends:
    return Bends()


@pytest.fixture
def server(bends: Bends) -> Iterator[TinyTus]:
    with TinyTus(bends) as s:
        yield s


def test_an_options_refused_with_403_is_plain_tus(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # OPTIONS "MAY be used"; a gateway that denies the method (403) must not stop the upload
    bends.options_status = 403
    path = random_file(tmp_path / "a.mp4", 3 * MIB + 7)
    result = run(UploadSpec(path, server.endpoint, {}, chunk_size=MIB), new_ctx().ctx)
    assert server.only_upload() == path.read_bytes()
    assert result.size == path.stat().st_size
    assert server.methods()[:2] == ["OPTIONS", "POST"]


def test_interim_answers_before_each_answer_are_skipped(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # 102 Processing / 103 Early Hints before every answer (RFC 9110 §15.2): they were taken
    # for the answers, and the real ones left on the connection
    bends.interim = True
    path = random_file(tmp_path / "i.mp4", 3 * MIB + 5)
    result = run(UploadSpec(path, server.endpoint, {}, chunk_size=MIB), new_ctx().ctx)
    assert server.only_upload() == path.read_bytes()
    assert result.size == path.stat().st_size
    assert server.methods().count("PATCH") == 4


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD"])
def test_an_answer_whose_body_never_ends_is_cut_by_a_pause_and_by_the_stall_time(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path, method: str
) -> None:
    """An answer trickling a body that never ends (a streaming resource given by mistake, a
    proxy's keep-alive stream), or for a HEAD, whose answer has no body, header fields that
    never end: every byte kept the read timeout from firing, the upload hung for ever and a
    pause could not stop it. Once cut, what came of the answer is not taken for all of it
    (http.client reads the end of the connection as the end of the header fields: the HEAD
    cut by the stall time was an answer, and the upload went on)."""
    path = random_file(tmp_path / "t.mp4", 2 * MIB)
    spec = UploadSpec(path, server.endpoint, {}, chunk_size=MIB)
    if method == "HEAD":  # an upload under way: its resume asks the offset with a HEAD
        c = new_ctx()
        c.stop_after(MIB)
        with pytest.raises(Stopped):
            run(spec, c.ctx)
        checkpoint = c.checkpoint
    bends.trickle = frozenset({method})
    bends.trickle_every = 0.25  # a piece well within the 1 s stall time below
    paused = new_ctx(stall_timeout=60)
    if method == "HEAD":
        paused.checkpoint.data = dict(checkpoint.data)
    threading.Timer(1.0, paused.control.stop, args=("pause",)).start()
    t0 = time.monotonic()
    with pytest.raises(Stopped):
        run(spec, paused.ctx)
    assert time.monotonic() - t0 < 4  # the pause came after 1 s

    stalled = new_ctx(stall_timeout=1)  # tried 4 times (3 back-offs, 3.5 s): 1 s each
    if method == "HEAD":
        stalled.checkpoint.data = dict(checkpoint.data)
    t0 = time.monotonic()
    with pytest.raises(RetryableError):
        run(spec, stalled.ctx)
    assert time.monotonic() - t0 < 20  # cut after the stall time, however often it tried


def test_a_request_sent_again_after_its_cut_goes_nowhere() -> None:
    """A HEAD cut by the stall time (or a pause) before its answer read as a connection the
    server closed, and urllib3 sent it again at once on a new connection (the idle-close
    retry), which the cut had not reached: the job then hung for the read timeout (each byte
    of a trickling answer put that off: 100 s in CI). A connection announced to a cut flight
    now goes nowhere."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    got_request = threading.Event()

    def serve() -> None:  # reads requests and never answers
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                accepted.append(conn)
                conn.recv(65536)
                got_request.set()

    threading.Thread(target=serve, daemon=True).start()
    session = requests.Session()
    session.mount("http://", TransferAdapter())
    flight = _Flight()
    flight.begin()
    threading.Thread(
        target=lambda: got_request.wait(10) and flight.cut("stall"), daemon=True
    ).start()
    t0 = time.monotonic()
    try:
        with on_connection(flight.attach), pytest.raises(requests.ConnectionError):
            session.head(f"http://127.0.0.1:{port}/files/x", timeout=(5, 30))
        assert time.monotonic() - t0 < 5
    finally:
        listener.close()
        for conn in accepted:
            conn.close()
        session.close()


def test_a_kept_alive_connection_the_server_closed_as_idle_is_no_failure(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    """The server's idle timer closes a kept-alive connection just as the next request comes
    on it (on a 300 ms link they cross on the way): an OPTIONS or HEAD is sent again at once
    on a new connection (RFC 9112 §9.3.1), not counted as a failed attempt."""
    bends.idle_close_s = 0.5
    first = new_ctx()
    a = random_file(tmp_path / "a.mp4", MIB)
    run(UploadSpec(a, server.endpoint, {}), first.ctx)
    time.sleep(0.8)  # the connection idles past the server's timer
    second = new_ctx()
    ctx = dataclasses.replace(second.ctx, sessions=first.sessions)  # the queue shares one
    b = random_file(tmp_path / "b.mp4", MIB + 3)
    run(UploadSpec(b, server.endpoint, {}), ctx)
    assert ("closed-unanswered", "", 0) in server.seen  # the case this is about happened
    assert sorted(len(u.data) for u in server.uploads.values()) == [MIB, MIB + 3]


def test_an_offset_sent_twice_with_the_same_value_is_that_offset(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    """``Upload-Offset: N`` twice (a proxy adding what the server said): requests joins them
    into "N, N", which read as no offset: no resume ever ("The hub's answer had no
    offset"). Different values are still refused."""
    bends.offset_twice = True
    path = random_file(tmp_path / "d.mp4", 3 * MIB + 1)
    spec = UploadSpec(path, server.endpoint, {}, chunk_size=MIB)
    first = new_ctx()
    first.stop_after(MIB)
    with pytest.raises(Stopped):
        run(spec, first.ctx)
    again = new_ctx()
    again.checkpoint.data = dict(first.checkpoint.data)
    run(spec, again.ctx)
    assert server.only_upload() == path.read_bytes()
    assert "HEAD" in server.methods()  # resumed from the offset the HEAD gave


@pytest.mark.parametrize(
    ("value", "read"),
    [("5", 5), ("5, 5", 5), (" 7 ,7", 7), ("5, 6", None), ("1²", None), ("", None), ("-1", None)],
)
def test_number_headers_from_a_server(value: str, read: int | None) -> None:
    r = requests.Response()
    r.headers["Upload-Offset"] = value
    assert upload_protocol._int_header(r, "Upload-Offset") == read
    r.headers["Content-Length"] = value
    assert download_protocol._int_header(r, "Content-Length") == (
        read if "," not in value else None
    )


def test_answers_with_more_header_fields_than_can_be_read_are_said_so_once(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    bends.extra_headers = 120  # it was "The hub could not be reached", again and again
    path = random_file(tmp_path / "h.mp4", MIB)
    with pytest.raises(PermanentError) as e:
        run(UploadSpec(path, server.endpoint, {}), new_ctx().ctx)
    assert e.value.message == HEADERS_TOO_LARGE_MESSAGE


def test_a_patch_answered_204_that_kept_part_goes_on_from_the_servers_offset(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    bends.keep_at_most = 300 * KIB  # of each 1 MiB chunk
    path = random_file(tmp_path / "b.mp4", 2 * MIB + 11)
    run(UploadSpec(path, server.endpoint, {}, chunk_size=MIB), new_ctx().ctx)
    assert server.only_upload() == path.read_bytes()


def test_a_server_holding_less_than_it_confirmed_is_sent_the_rest(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # every PATCH answered with the whole chunk's offset, 100 KiB of it not kept: the HEAD
    # after the last byte said so, and the run still ended "done" with a torn file there
    bends.keep_at_most, bends.claims_all = MIB - 100 * KIB, True
    path = random_file(tmp_path / "short.mp4", MIB + 5)  # one PATCH: nothing to refute it
    c = new_ctx()
    with pytest.raises(RetryableError) as caught:
        run(UploadSpec(path, server.endpoint, {}, chunk_size=2 * MIB), c.ctx)
    assert caught.value.message == upload_job.MSG_SHORT
    bends.keep_at_most, bends.claims_all = None, False  # the server mended
    again = run(UploadSpec(path, server.endpoint, {}, chunk_size=2 * MIB), c.again().ctx)
    assert server.only_upload() == path.read_bytes()
    assert again.bytes_sent == 100 * KIB + 5  # the rest, from the server's offset


def test_a_patch_answered_204_that_kept_nothing_backs_off_and_gives_up(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # it used to send the same chunk again at once, for ever: ~30,000 PATCHes in 40 s
    bends.keep_at_most = 0
    path = random_file(tmp_path / "c.mp4", 2 * MIB)
    with pytest.raises(RetryableError, match="took none"):
        run(UploadSpec(path, server.endpoint, {}, chunk_size=MIB), new_ctx().ctx)
    patches = server.methods().count("PATCH")
    assert patches == QUICK_RESUMES + 1  # the first, then one per resume allowed in a run
    assert server.only_upload() == b""


def test_an_upload_the_server_forgot_and_answers_403_is_made_again(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # tus 1.0, HEAD: "If the resource is not found, the Server SHOULD return either the 404
    # Not Found, 410 Gone or 403 Forbidden status"; a 403 there failed the upload for good
    bends.unknown_status = 403
    path = random_file(tmp_path / "d.mp4", 3 * MIB)
    spec = UploadSpec(path, server.endpoint, {}, chunk_size=512 * KIB)
    c = new_ctx()
    c.stop_after(MIB)
    with pytest.raises(Stopped) as stopped:
        run(spec, c.ctx)
    assert stopped.value.reason == "pause"
    server.forget_all()
    again = c.again()
    result = run(spec, again.ctx)
    assert result.restarted
    assert LOST_NOTE in again.notes
    assert server.only_upload() == path.read_bytes()
    assert server.methods().count("POST") == 2


@pytest.mark.parametrize(
    ("status", "headers", "note"),
    [
        (410, {"Upload-Expires": "Sun, 06 Nov 1994 08:49:37 GMT"}, EXPIRED_NOTE),
        (410, {}, LOST_NOTE),  # gone, for a reason not given: lost
        (404, {"Upload-Expires": "Sun, 06 Nov 1994 08:49:37 GMT"}, EXPIRED_NOTE),
        (404, {"Upload-Expires": "Sun, 06 Nov 2095 08:49:37 GMT"}, LOST_NOTE),
    ],
)
def test_an_upload_the_server_let_expire_is_said_to_have_expired(
    server: TinyTus,
    bends: Bends,
    new_ctx: Callable[..., Ctx],
    tmp_path: Path,
    status: int,
    headers: dict[str, str],
    note: str,
) -> None:
    # an upload that expired (a 410 naming a passed Upload-Expires, as the hub's) was said to
    # be "lost" by the hub: the user looked for a fault where there was only a long pause
    bends.unknown_status = status
    bends.unknown_headers = headers
    path = random_file(tmp_path / "d.mp4", 2 * MIB)
    spec = UploadSpec(path, server.endpoint, {}, chunk_size=512 * KIB)
    c = new_ctx()
    c.stop_after(MIB)
    with pytest.raises(Stopped):
        run(spec, c.ctx)
    server.forget_all()
    again = c.again()
    assert run(spec, again.ctx).restarted
    assert again.notes == [note]
    assert server.only_upload() == path.read_bytes()


def test_every_patch_cut_still_finishes_in_one_run(
    server: TinyTus, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # the server keeps what arrived of a cut PATCH; the HEAD after shows the progress, which
    # must count as progress: the run used to give up after QUICK_RESUMES cuts however far
    # each had gone, and the queue's back-off grew
    path = random_file(tmp_path / "e.mp4", 12 * MIB)
    cuts = QUICK_RESUMES + 4
    with FaultProxy(("127.0.0.1", server.server_address[1])) as proxy:
        proxy.reset_after(int(1.5 * MIB), direction="up", times=cuts)
        spec = UploadSpec(path, f"{proxy.url}/files/", {}, chunk_size=4 * MIB)
        result, _c, failures = run_until_done(spec, new_ctx(), attempts=1)
        assert len([e for e in proxy.events if "reset" in e]) == cuts
    assert failures == 0
    assert server.only_upload() == path.read_bytes()
    assert result.size == path.stat().st_size


def test_a_file_changed_while_its_last_chunk_goes_out_is_not_left_torn(
    server: TinyTus, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # one chunk (files up to 16 MiB are one by default): the change used to go unseen, the
    # command exited 0 and the server held old bytes at the start and new ones at the end
    path = random_file(tmp_path / "f.mp4", 3 * MIB)
    c = new_ctx()
    changed: list[bool] = []

    def rewrite(total: int) -> None:
        if total >= MIB and not changed:
            changed.append(True)
            with open(path, "r+b") as f:  # in place: same size, other bytes at the end
                f.seek(-4 * KIB, 2)
                f.write(b"\0" * 4 * KIB)

    c.on_meter = rewrite
    with pytest.raises(PermanentError) as e:
        run(UploadSpec(path, server.endpoint, {}, chunk_size=8 * MIB), c.ctx)
    assert str(e.value) == FILE_CHANGED
    assert changed
    assert server.uploads == {}  # the torn upload was deleted on the server
    assert "DELETE" in server.methods()


def test_a_touched_file_without_a_sha256_starts_over(
    server: TinyTus, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # a new time and nothing that tells the content is the same (no sha256 in the metadata,
    # any tus server): the old upload is dropped, not resumed
    path = random_file(tmp_path / "u.mp4", 2 * MIB)
    spec = UploadSpec(path, server.endpoint, {}, chunk_size=512 * KIB)
    c = new_ctx()
    c.stop_after(MIB)
    with pytest.raises(Stopped):
        run(spec, c.ctx)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    with pytest.raises(PermanentError) as caught:
        run(spec, c.again().ctx)
    assert caught.value.message == FILE_CHANGED
    assert "DELETE" in server.methods()


def test_a_sign_in_asked_where_none_was_sent_is_said_so(
    server: TinyTus, bends: Bends, tmp_path: Path
) -> None:
    # the server names the upload under another host name: the token stays with the
    # endpoint's origin, and the 401 there is not "sign in again" (that would not help)
    bends.auth, bends.location_host = "Bearer t0ken", "localhost"
    path = random_file(tmp_path / "g.mp4", MIB)
    with pytest.raises(PermanentError, match="none was sent to the address it gave"):
        run(UploadSpec(path, server.endpoint, {}), Ctx("t0ken").ctx)
    assert server.methods()[:3] == ["OPTIONS", "POST", "PATCH"]  # POST took the token


@pytest.mark.parametrize("location", ["ftp://127.0.0.1/files/x", "http://[::1", "mailto:a@b"])
def test_a_creation_naming_no_usable_address_is_said_once(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path, location: str
) -> None:
    # ftp: was taken for a dropped connection, stored, and tried for ever; "http://[::1"
    # ended in "Something went wrong in ALU Desk (ValueError)" after three uploads made
    bends.location = location
    path = random_file(tmp_path / "h.mp4", MIB)
    c = new_ctx()
    with pytest.raises(PermanentError) as caught:
        run(UploadSpec(path, server.endpoint, {}), c.ctx)
    assert caught.value.message == upload_protocol.BAD_LOCATION
    assert server.methods() == ["OPTIONS", "POST"]
    assert "url" not in c.checkpoint.data


def test_a_creation_written_with_a_backslash_sends_nothing_elsewhere(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # urllib.parse reads the endpoint's origin in http://127.0.0.1:B\@127.0.0.1:A/…, requests
    # connects to port B (the host ends at the backslash): the token and the file went there
    with TinyTus(Bends()) as stranger:
        b = urlsplit(stranger.endpoint).port
        bends.location = f"http://127.0.0.1:{b}\\@{urlsplit(server.endpoint).netloc}/files/x"
        path = random_file(tmp_path / "s.mp4", MIB)
        c = new_ctx()
        with pytest.raises(PermanentError) as caught:
            run(UploadSpec(path, server.endpoint, {}), c.ctx)
        assert caught.value.message == upload_protocol.BAD_LOCATION
        assert stranger.methods() == []
    assert server.methods() == ["OPTIONS", "POST"]


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:99999/files/", "http://[::1/files/", "http://127.0.0.1:1\\@127.0.0.1:2/"],
)
def test_an_endpoint_that_is_no_address_is_said_so(
    endpoint: str, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # (a port that is no port: "Something went wrong in ALU Desk (ValueError)", retried)
    path = random_file(tmp_path / "e.mp4", KIB)
    with pytest.raises(PermanentError) as caught:
        run(UploadSpec(path, endpoint, {}), new_ctx().ctx)
    assert caught.value.message == upload_protocol.BAD_ENDPOINT


def test_upload_url_resolves_relative_locations_and_refuses_the_rest() -> None:
    base = "https://hub.example:8443/api/v1/uploads/"
    url = upload_protocol.upload_url
    assert url(base, "/api/v1/uploads/ab12") == "https://hub.example:8443/api/v1/uploads/ab12"
    assert url(base, "ab12") == "https://hub.example:8443/api/v1/uploads/ab12"
    assert url(base, " http://other:1080/x ") == "http://other:1080/x"
    for bad in (
        "ftp://hub.example/x",
        "http://[::1",
        "https://hub.example:99999/x",
        "http:///x",
        "https://evil.example\\@hub.example:8443/x",  # requests connects to evil.example
        "https://hub.example:1\\@hub.example:8443/x",
    ):
        assert url(base, bad) is None, bad


def test_bytes_rewritten_under_the_old_mtime_are_not_resumed_into_a_torn_upload(
    server: TinyTus, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # the same size, bytes changed outside the fingerprint's sample (a 40 MiB file is
    # sampled), the mtime put back (touch -r, cp -p, rsync -t): the upload resumed and the
    # server ended with a mix of the two files, and exit 0
    path = random_file(tmp_path / "big.mp4", 40 * MIB)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    spec = UploadSpec(path, server.endpoint, {"sha256": digest}, chunk_size=MIB)
    c = new_ctx()
    c.stop_after(8 * MIB)
    with pytest.raises(Stopped):
        run(spec, c.ctx)
    st = path.stat()
    with path.open("r+b") as f:
        for pos in (3 * MIB, 30 * MIB):
            f.seek(pos)
            f.write(b"\xff" * 4096)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns and path.stat().st_size == st.st_size

    with pytest.raises(PermanentError) as caught:
        run(spec, c.again().ctx)
    assert caught.value.message == FILE_CHANGED
    assert "DELETE" in server.methods()  # the old upload dropped, not resumed


def test_an_unchanged_file_whose_inode_changed_resumes(
    server: TinyTus, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # a chmod changes the ctime too: the whole file is read against its sha256, and resumes
    path = random_file(tmp_path / "same.mp4", 40 * MIB)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    spec = UploadSpec(path, server.endpoint, {"sha256": digest}, chunk_size=MIB)
    c = new_ctx()
    c.stop_after(8 * MIB)
    with pytest.raises(Stopped):
        run(spec, c.ctx)
    path.chmod(0o600)
    result = run(spec, c.again().ctx)
    assert server.only_upload() == path.read_bytes()
    assert result.bytes_sent < 34 * MIB


def test_an_upload_the_server_keeps_losing_backs_off_as_failures_do(
    server: TinyTus, bends: Bends, tmp_path: Path
) -> None:
    # a server whose uploads expire before the file is in: each attempt made a new upload,
    # whose first chunk counted as progress, so the back-off never grew (a POST and a DELETE
    # about once a second, for ever)
    from alu_client.core.store import Store
    from alu_client.core.transfers.queue import TransferQueue
    from alu_client.core.transfers.retry import Backoff, RetryPolicy

    bends.lose_at = 256 * KIB
    path = random_file(tmp_path / "e.mp4", MIB)
    store = Store(tmp_path / "library.sqlite3")
    q = TransferQueue(store, policy=RetryPolicy(Backoff(base=0.01, cap=0.05, jitter=0)))
    tid = q.add_upload(path, server.endpoint, {}, chunk_size=256 * KIB)
    q.start()
    try:

        def attempts() -> int:
            now = q.transfers.get(tid)
            return now.attempts if now is not None else 0

        wait_until(lambda: attempts() >= 5, 30, what="five attempts")
        t = q.transfers.get(tid)
    finally:
        q.stop()
        store.close()
    # the failures in a row without progress: every attempt (the first one's new upload got
    # further than none, but that upload was lost, and the next one got no further)
    assert t is not None and t.failures >= 4, (t.attempts, t.failures)
    assert "lost the upload again" in t.last_error


def test_a_clean_up_here_and_now_is_short_even_when_the_server_never_answers(
    server: TinyTus, bends: Bends, tmp_path: Path
) -> None:
    # `alu queue cancel` tells the server itself when no engine runs: a server that never
    # ends its answer must not hold the command
    from alu_client.core.store import Store
    from alu_client.core.transfers.queue import TransferQueue

    path = random_file(tmp_path / "f.mp4", MIB)
    store = Store(tmp_path / "library.sqlite3")
    q = TransferQueue(store)
    try:
        tid = q.add_upload(path, server.endpoint, {})
        q.transfers.save_checkpoint(tid, {"url": f"{server.endpoint}0123"})
        q.transfers.set_state(tid, "canceled", only_from=("queued",))
        t = q.transfers.get(tid)
        assert t is not None
        bends.trickle = frozenset({"DELETE"})
        t0 = time.monotonic()
        assert q.clean_up_now(t, 1.0) is False
        assert time.monotonic() - t0 < 3
        assert q.transfers.load_checkpoint(tid) != {}  # kept, for another try
        bends.trickle = frozenset()
        assert q.clean_up_now(t, 1.0) is True  # 404: the server holds it no longer
        assert q.transfers.load_checkpoint(tid) == {}
    finally:
        q.sessions.close()
        store.close()


@pytest.mark.parametrize(
    ("status", "content_type", "body", "expired"),
    [
        (410, "application/json", b'{"detail": "Upload expired"}', True),  # tuspyserver
        # the tus Node.js server's, for an expired upload and for one whose file went missing
        (410, "text/plain", b"The file for this url no longer exists\n", False),
        (
            410,
            "application/json",
            b'{"error": {"code": "upload_terminated", '
            b'"message": "This upload was cancelled; start a new one."}}',
            False,
        ),
        (404, "application/json", b'{"detail": "Upload expired"}', False),  # 404: not said
    ],
)
def test_the_words_of_a_410_tell_an_expired_upload(
    status: int, content_type: str, body: bytes, expired: bool
) -> None:
    from alu_client.core.transfers.upload.protocol import _says_expired

    r = requests.Response()
    r.status_code = status
    r.headers["Content-Type"] = content_type
    r._content = body
    assert _says_expired(r) is expired


@pytest.mark.parametrize("status", [404, 410])
def test_a_404_or_410_after_the_expiry_an_earlier_answer_gave_is_an_expiry(status: int) -> None:
    # the tus Node.js server's 410 for an expired upload has no Upload-Expires and no word of
    # expiry: the upload was said "lost", though its creation's answer had said when it expires
    from alu_client.core.transfers.upload.protocol import _says_expired, expiry_of

    r = requests.Response()
    r.status_code = status
    r.headers["Content-Type"] = "text/plain"
    r._content = b"The file for this url no longer exists\n"
    created = requests.Response()
    created.headers["Date"] = "Sun, 06 Nov 1994 08:49:37 GMT"  # its clock is not ours
    created.headers["Upload-Expires"] = "Sun, 06 Nov 1994 08:49:40 GMT"
    kept = expiry_of(created)
    assert kept is not None and 2.5 < kept - time.time() <= 3  # 3 s on from now, here
    assert _says_expired(r, kept) is False  # not yet
    assert _says_expired(r, kept - 3) is True
    assert _says_expired(r) is False  # nothing kept: lost


def test_a_running_upload_canceled_is_canceled_at_once_when_the_delete_hangs(
    server: TinyTus, bends: Bends, tmp_path: Path
) -> None:
    # the DELETE was sent before the cancel was recorded: a server slow to answer it (here:
    # never ending its answer) held the transfer "active" for 10 s, and the next upload too
    from alu_client.core.store import Store
    from alu_client.core.transfers.base import Tuning
    from alu_client.core.transfers.queue import TransferQueue

    bends.trickle = frozenset({"DELETE"})
    a = random_file(tmp_path / "a.mp4", 4 * MIB)
    b = random_file(tmp_path / "b.mp4", 64 * KIB)
    store = Store(tmp_path / "library.sqlite3")
    q = TransferQueue(store, max_uploads=1, tuning=Tuning(stall_timeout=2.0))
    q.set_limits(None, 500_000)
    first = q.add_upload(a, server.endpoint, {}, chunk_size=256 * KIB)
    second = q.add_upload(b, server.endpoint, {})
    q.start()
    try:
        wait_until(lambda: q.transfers.load_checkpoint(first).get("url") is not None)
        asked = time.monotonic()
        q.cancel(first)
        assert q.wait_for(first, timeout=5).state == "canceled"
        assert time.monotonic() - asked < 1.0
        assert q.wait_for(second, timeout=10).state == "done"  # its turn came at once
        wait_until(lambda: "DELETE" in server.methods(), what="the server told")
        # the DELETE cut by the stall time: its URL forgotten all the same (best effort)
        wait_until(lambda: q.transfers.load_checkpoint(first) == {}, 15, what="URL forgotten")
    finally:
        q.stop()
        store.close()


def test_a_locked_upload_is_asked_for_with_small_chunks_until_it_is_free(
    server: TinyTus, bends: Bends, new_ctx: Callable[..., Ctx], tmp_path: Path
) -> None:
    # a 423 comes once the body is in: each locked PATCH sent a whole chunk for nothing (a hub
    # restarted while its dead process's lease ran: 44 MB sent for a 10 MB file)
    bends.locked_patches = 3
    path = random_file(tmp_path / "l.mp4", 8 * MIB)
    result = run(UploadSpec(path, server.endpoint, {}), new_ctx().ctx)  # adaptive: 8 MiB
    assert server.only_upload() == path.read_bytes() and not result.restarted
    assert server.methods().count("PATCH") >= 4
    # the first 423 cost its chunk; the next two asked with the smallest one
    assert server.patch_bytes <= 2 * 8 * MIB + 2 * 256 * KIB, server.patch_bytes
