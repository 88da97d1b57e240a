"""Hostile or broken servers: the client stays safe (issue 6).

- Names a hub sends (a rendition's filename, an item's slug or title) never put a file outside
  the download folder, nor one Windows, macOS or Linux would trip on, nor over an existing file:
  checked end to end, a fake hub's item downloaded through ``Services.download`` and the queue.
- Answers that would exhaust the workstation (oversized, endless or compressed JSON, endless
  headers, endless live-feed events) end in a clear ``HubError`` with bounded memory; a body
  longer than announced neither corrupts a file nor bleeds into the next answer.
- The token never follows a redirect (API calls refuse redirects; downloads drop it when the
  origin changes — a different port is a different origin), nor goes to another origin a hub
  names (a CDN rendition, a thumbnail, a tus upload URL).
- Plain HTTP only for a hub the user allowed it for; a bad or self-signed certificate is
  refused in words that say what to do, and a profile's own CA bundle is the way in.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import tracemalloc
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import certifi
import pytest
from sqlalchemy import func, select

from alu_client.core import hub as hub_module
from alu_client.core.credentials import MemorySecrets
from alu_client.core.doctor import Check, run_checks
from alu_client.core.hub import (
    MAX_JSON,
    BadResponse,
    Connection,
    HubClient,
    HubError,
    PlainHttpRefused,
    TlsError,
)
from alu_client.core.library import Query
from alu_client.core.paths import Paths
from alu_client.core.profiles import Profile, Profiles, client_for, sign_in
from alu_client.core.safe_names import MAX_NAME_BYTES
from alu_client.core.services import Services
from alu_client.core.store import Store
from alu_client.core.store.transfers import Transfer
from alu_client.core.transfers import jobs
from alu_client.core.transfers.queue import TransferQueue
from alu_client.core.uploads import UploadFields
from alu_hub.models import Token
from tests.support.hostile import (
    MEMBER,
    TOKEN,
    Authority,
    FakeHub,
    FakeHubHandler,
    RawConn,
    RawServer,
    TlsServer,
    self_signed,
    serve_tls,
)
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

PASSWORD = "pw-hostile-servers"
PAYLOAD = os.urandom(96 * 1024)
MIB = 1024 * 1024
#: what loopback socket buffers may hold beyond what the client read
SOCKET_SLACK = 16 * MIB
#: a hostile answer stops here even if the client would read on (keeps a failing test bounded)
HOSTILE_CAP = 96 * MIB
RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(10)
}


def make_paths(root: Path) -> Paths:
    return Paths(root / "data", root / "cache", root / "logs", root / "downloads").ensure()


def signed_in(root: Path, url: str, **kw: object) -> Services:
    """A data folder under ``root`` signed in to the hub at ``url`` (as ``ktn``)."""
    paths = make_paths(root)
    secrets = MemorySecrets()
    store = Store(paths.db_path)
    sign_in(Profiles(store), secrets, url, "ktn", PASSWORD, **kw)  # type: ignore[arg-type]
    store.close()
    return Services(paths, secrets)


def start(desk: Services) -> TransferQueue:
    return desk.start_engine(sync=False, rules=False, hot_folders=False, media=False)


def finished(queue: TransferQueue, tid: int, timeout: float = 60) -> Transfer:
    t = queue.wait_for(tid, timeout=timeout)
    assert t.state in ("done", "failed", "canceled"), (t.state, t.last_error)
    return t


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    hub = FakeHub(PAYLOAD)
    yield hub
    hub.stop()


@pytest.fixture
def other() -> Iterator[FakeHub]:
    """Another origin: 127.0.0.1 as well, on another port."""
    hub = FakeHub(PAYLOAD)
    hub.token = "another-origins-token"
    yield hub
    hub.stop()


@pytest.fixture
def desk(fake_hub: FakeHub, tmp_path: Path) -> Iterator[Services]:
    services = signed_in(tmp_path / "desk", fake_hub.url, allow_http=True)
    yield services
    services.stop()


def client(url: str) -> HubClient:
    return HubClient(Connection(url, allow_http=True, read_timeout=20), token=TOKEN)


@pytest.fixture
def raw() -> Iterator[Callable[[Callable[[RawConn], None]], RawServer]]:
    servers: list[RawServer] = []

    def make(handler: Callable[[RawConn], None]) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield make
    for s in servers:
        s.stop()
    for s in servers:
        assert not s.errors, s.errors


# --- names from the hub ---------------------------------------------------------------------------


def hostile_names(outside: Path) -> dict[str, str]:
    """Names a hostile or careless hub could send, by what each tries."""
    return {
        "dotdot": "../../../outside/evil.mp4",
        "dotdot-backslash": "..\\..\\..\\outside\\evil.mp4",
        "absolute": f"{outside}/absolute.mp4",
        "absolute-dir": f"{outside}/",
        "drive": "C:\\Windows\\System32\\drive.mp4",
        "drive-relative": "C:drive-relative.mp4",
        "unc": "\\\\fileserver\\share\\unc.mp4",
        "device-path": "\\\\?\\C:\\device.mp4",
        "nul": "clip\x00.exe.mp4",
        "controls": "clip\x1b[2J\r\n\t\x7f.mp4",
        "rlo": "clip\u202egnp.exe",  # shows as "clipexe.png"
        "isolates": "\u2066evil\u2069\u200b\ufeff\u200e.mp4",
        "con": "CON",
        "nul-device": "nul.mp4",
        "com1": "COM1.tar.gz",
        "lpt-space": "lpt1 .mp4",
        "conin": "CONIN$.mp4",
        "trailing": "clip.mp4. . .  ",
        "dotdot-alone": "..",
        "dot-alone": ".",
        "hidden": ".bashrc",
        "blank": "   \u3000 ",
        "overlong": "é" * 600 + ".mp4",
        "overlong-ext": "a." + "b" * 900,
        "home": "~/.ssh/authorized_keys",
        "decomposed": "E\u0301lections.mp4",
        "windows-bad": 'a<b>c:d"e|f?g*h.mp4',
    }


def assert_safe_name(name: str) -> None:
    assert name not in ("", ".", ".."), name
    assert not any(c in name for c in '/\\:*?"<>|'), name
    assert not any(ord(c) < 32 or ord(c) == 127 for c in name), name
    assert not any(unicodedata.category(c) == "Cf" for c in name), name
    assert name == name.strip(". "), name  # no leading or trailing dots or spaces
    assert name.split(".")[0].strip().upper() not in RESERVED, name
    assert len(name.encode()) <= MAX_NAME_BYTES + len(" (9999)"), name
    assert unicodedata.normalize("NFC", name) == name, name


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.mark.parametrize("field", ["filename", "slug", "title"])
def test_hostile_names_land_inside_the_download_folder_with_safe_names(
    field: str, fake_hub: FakeHub, desk: Services, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    names = hostile_names(outside)
    if field == "title":
        names["overlong"] = "é" * 50_000  # titles have no length limit on the wire
    before = files_under(tmp_path)
    ids = {}
    for n, (case, name) in enumerate(names.items()):
        item_id = f"it{n:02d}"
        fake_hub.add_item(item_id, **{field: name})
        ids[item_id] = case
    queue = start(desk)
    tids = {desk.download(item_id): item_id for item_id in ids}
    downloads = desk.paths.downloads_dir.resolve()
    landed: list[Path] = []
    for tid, item_id in tids.items():
        t = finished(queue, tid)
        assert t.state == "done", (ids[item_id], t.last_error)
        dest = Path(t.destination)
        assert dest.parent.resolve() == downloads, (ids[item_id], dest)
        assert dest.is_file() and not dest.is_symlink()
        assert dest.read_bytes() == PAYLOAD
        assert_safe_name(dest.name)
        li = desk.library.get(item_id)
        f = li.file("broadcast") if li is not None else None
        assert f is not None and Path(f.path) == dest
        landed.append(dest)
    assert len(set(landed)) == len(landed), "two downloads were given the same file"
    assert not outside.exists()
    # Nothing was written anywhere but the desk's own folders, and no part file is left.
    new = files_under(tmp_path) - before
    desk_root = (tmp_path / "desk").resolve()
    assert all(p.resolve().is_relative_to(desk_root) for p in new), sorted(new)
    in_downloads = {p for p in new if p.parent.resolve() == downloads}
    assert in_downloads == set(landed)


def test_a_clash_gets_a_new_name_and_nothing_is_overwritten(
    fake_hub: FakeHub, desk: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "news.mp4.part" may be another workstation's download of the item under way: the
    # download waits until that part file has not changed for OTHER_STALE_S (10 minutes),
    # then takes a name of its own (tests/client/test_download_another_writes.py); at once here
    monkeypatch.setattr(jobs, "OTHER_STALE_S", 0.0)
    monkeypatch.setattr(jobs, "OTHER_LOOK_S", 0.0)
    folder = desk.paths.downloads_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evil.mp4").write_bytes(b"the newsroom's own file")
    (folder / "news.mp4.part").write_bytes(b"someone else's partial download")
    fake_hub.add_item("a1", filename="../evil.mp4")
    fake_hub.add_item("a2", filename="evil.mp4")  # queued before either starts
    fake_hub.add_item("a3", filename="C:\\evil.mp4")
    fake_hub.add_item("n1", filename="news.mp4")
    # Both queued while the queue is not running yet: the second must not take the first's name.
    tids = [desk.download(i) for i in ("a1", "a2", "a3", "n1")]
    assert desk.download("a1") == tids[0]  # asked twice while queued: the same transfer
    queue = start(desk)
    names = []
    for tid in tids:
        t = finished(queue, tid)
        assert t.state == "done", t.last_error
        names.append(Path(t.destination).name)
    assert names == ["evil (2).mp4", "evil (3).mp4", "evil (4).mp4", "news (2).mp4"]
    assert (folder / "evil.mp4").read_bytes() == b"the newsroom's own file"
    assert (folder / "news.mp4.part").read_bytes() == b"someone else's partial download"
    for name in names:
        assert (folder / name).read_bytes() == PAYLOAD


# --- answers too large, endless, or malformed ---------------------------------------------------


def measured(fn: Callable[[], object]) -> tuple[BaseException | None, int]:
    """Run ``fn``; (what it raised, the peak of memory allocated while it ran)."""
    tracemalloc.start()
    try:
        fn()
    except BaseException as e:
        error: BaseException | None = e
    else:
        error = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return error, peak


def endless_json(conn: RawConn) -> None:
    """A feed page that never ends (chunked), until the client hangs up."""
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
    first = b'{"items": ['
    conn.send(f"{len(first):x}\r\n".encode() + first + b"\r\n")
    piece = b'"' + b"x" * (256 * 1024) + b'",'
    framed = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    while conn.sent_here < HOSTILE_CAP and conn.send(framed):
        pass


def announced_huge(conn: RawConn) -> None:
    """A feed page that says it is 200 MB, and sends it slowly until the client hangs up."""
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              b"Content-Length: 209715200\r\n\r\n")  # fmt: skip
    block = b'{"items": [' + b" " * (64 * 1024)
    while conn.sent_here < HOSTILE_CAP and conn.send(block):
        block = b" " * (64 * 1024)


@functools.cache
def gzip_bomb_body() -> bytes:
    """A gzip body that inflates to 4 × ``MAX_JSON`` of JSON-looking bytes (made once)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    body = z.compress(b'{"items": [')
    block = b" " * MIB
    for _ in range(4 * MAX_JSON // MIB):
        body += z.compress(block)
    return body + z.compress(b"]}") + z.flush()


def gzip_bomb(conn: RawConn) -> None:
    body = gzip_bomb_body()
    assert len(body) < MIB
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)  # fmt: skip


@pytest.mark.parametrize(
    "answer", [endless_json, announced_huge, gzip_bomb], ids=["endless", "announced", "gzip"]
)
def test_an_oversized_feed_answer_is_a_clear_error_in_bounded_memory(
    answer: Callable[[RawConn], None],
    raw: Callable[[Callable[[RawConn], None]], RawServer],
    tmp_path: Path,
) -> None:
    server = raw(answer)
    desk = signed_in_to_raw(tmp_path, server)
    try:
        error, peak = measured(lambda: desk.feed_sync().catch_up())
        assert isinstance(error, BadResponse), error
        assert "too large to be ALU data" in str(error)
        assert peak < 2 * MAX_JSON, f"{peak / MIB:.0f} MiB allocated"
        assert server.sent < MAX_JSON + SOCKET_SLACK
        assert desk.library.count(Query()).count == 0
    finally:
        desk.stop()


def signed_in_to_raw(tmp_path: Path, server: RawServer) -> Services:
    """A desk whose profile points at ``server`` (signed in without asking it)."""
    paths = make_paths(tmp_path / "desk")
    secrets = MemorySecrets()
    store = Store(paths.db_path)
    profile = Profiles(store).save(Profile("raw", server.url, "ktn", allow_http=True))
    secrets.set(profile.secret_key, TOKEN)
    store.close()
    return Services(paths, secrets)


def answer_json(body: bytes, ctype: str = "application/json") -> Callable[[FakeHubHandler], None]:
    return lambda h: h.send(200, body, {"Content-Type": ctype})


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000 + b"]" * 200_000,  # nesting deeper than any parser's recursion
        b'{"items": [], "next": ' + b"9" * 100_000 + b', "more": false}',  # a 100k-digit number
        b'{"items": [], "next": 1, "more": false',  # cut short
        b'{"items": [], "next": 1, "more": false}\xff\xfe',  # not UTF-8
        b'{"items": [{"id": 7}], "next": -1, "more": "yes"}',  # wrong types
        b"<html>Welcome to the hotel Wi-Fi</html>",
    ],
    ids=["nested", "huge-number", "cut", "not-utf8", "types", "html"],
)
def test_malformed_json_is_a_clear_error(body: bytes, fake_hub: FakeHub) -> None:
    fake_hub.routes["/api/v1/items"] = answer_json(body)
    with pytest.raises(BadResponse, match="hub") as e:
        client(fake_hub.url).items()
    assert "Traceback" not in str(e.value) and len(str(e.value)) < 300


def endless_event_line(conn: RawConn) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
              b"event: item\ndata: ")  # fmt: skip
    block = b"x" * (256 * 1024)
    while conn.sent_here < HOSTILE_CAP and conn.send(block):
        pass


def endless_event_data(conn: RawConn) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
              b"event: item\n")  # fmt: skip
    block = (b"data: " + b"x" * 1000 + b"\n") * 256
    while conn.sent_here < HOSTILE_CAP and conn.send(block):
        pass


@pytest.mark.parametrize(
    "answer", [endless_event_line, endless_event_data], ids=["one-line", "data-lines"]
)
def test_an_endless_live_feed_event_is_cut_off_in_bounded_memory(
    answer: Callable[[RawConn], None],
    raw: Callable[[Callable[[RawConn], None]], RawServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The stream is read in 1 KiB steps: a 4 MiB limit keeps the test quick, and whatever the
    # limit, reading has to stop at it (before the fix it never stopped: iter_lines kept it all).
    limit = 4 * MIB
    monkeypatch.setattr(hub_module, "MAX_JSON", limit)
    server = raw(answer)

    def listen() -> None:
        for _ in client(server.url).events(after=0):
            pass

    error, peak = measured(listen)
    assert isinstance(error, BadResponse), error
    assert "oversized event" in str(error)
    assert server.sent < limit + SOCKET_SLACK
    assert peak < 4 * limit, f"{peak / MIB:.0f} MiB allocated"


@pytest.mark.parametrize("cut", range(1, 12))
def test_the_live_feed_line_splitter_keeps_lines_whole_across_reads(cut: int) -> None:
    """The bounded splitter that replaced ``iter_lines``: CRLF, LF and CR ends (SSE), a CRLF
    cut between two reads is one line end, not an empty line (which would end an event)."""
    stream = b"event: item\r\ndata: {}\r\rid: 7\n\r\n: keep-alive\r\n"
    chunks = [stream[i : i + cut] for i in range(0, len(stream), cut)]
    lines = list(hub_module._sse_lines(chunks, 64))
    assert lines == [b"event: item", b"data: {}", b"", b"id: 7", b"", b": keep-alive"]
    with pytest.raises(BadResponse, match="oversized"):
        list(hub_module._sse_lines([b"data: " + b"x" * 100], 64))


def endless_headers(conn: RawConn) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    n = 0
    while conn.sent_here < HOSTILE_CAP and conn.send(f"X-Junk-{n}: {'a' * 100}\r\n".encode()):
        n += 1


def endless_header_line(conn: RawConn) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\nX-Junk: ")
    while conn.sent_here < HOSTILE_CAP and conn.send(b"a" * 65536):
        pass


def not_http(conn: RawConn) -> None:
    conn.send(b"SSH-2.0-OpenSSH_9.6\r\n" + b"\x00" * 100_000)


@pytest.mark.parametrize(
    "answer",
    [endless_headers, endless_header_line, not_http],
    ids=["many-headers", "one-long-header", "not-http"],
)
def test_endless_headers_or_no_http_at_all_is_a_clear_error(
    answer: Callable[[RawConn], None], raw: Callable[[Callable[[RawConn], None]], RawServer]
) -> None:
    server = raw(answer)
    error, peak = measured(lambda: client(server.url).items())
    assert isinstance(error, BadResponse), repr(error)
    assert "not HTTP" in str(error) or "not ALU data" in str(error), str(error)
    assert server.sent < SOCKET_SLACK
    assert peak < 16 * MIB


def longer_than_announced(first: bytes, rest: bytes) -> Callable[[RawConn], None]:
    """The first answer announces ``first`` but goes on with ``rest`` (a forged answer);
    every later request, on this connection or a new one, gets the genuine feed."""
    genuine = b'{"items": [], "next": 42, "more": false}'
    answered = [0]

    def handler(conn: RawConn) -> None:
        while True:
            conn.send(http_json(first) + rest if answered[0] == 0 else http_json(genuine))
            answered[0] += 1
            if not conn.next_head():
                return

    return handler


def http_json(body: bytes, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {n}\r\n\r\n".encode() + body)  # fmt: skip


FORGED_FEED = b'{"items": [], "next": 666, "more": false}'


def test_a_body_longer_than_announced_does_not_bleed_into_the_next_answer(
    raw: Callable[[Callable[[RawConn], None]], RawServer],
) -> None:
    first = b'{"items": [], "next": 1, "more": false}'
    server = raw(longer_than_announced(first, http_json(FORGED_FEED)))
    c = client(server.url)
    assert c.items().next == 1
    assert c.items().next == 42  # the genuine answer, never the forged one left on the socket
    assert c.items().next == 42


def test_a_body_cut_by_its_announced_length_is_a_clear_error(
    raw: Callable[[Callable[[RawConn], None]], RawServer],
) -> None:
    # The JSON goes on past Content-Length: what was announced is not ALU data.
    cut = b'{"items": [], "next": 1, "more": fa'
    server = raw(longer_than_announced(cut, b"lse}" + http_json(FORGED_FEED)))
    c = client(server.url)
    with pytest.raises(BadResponse, match="not ALU data"):
        c.items()
    assert c.items().next == 42


def file_answer(kind: str) -> Callable[[FakeHubHandler], None]:
    def answer(h: FakeHubHandler) -> None:
        junk = b"\0" * 4096
        if kind == "announced-longer":
            h.send(200, PAYLOAD + junk, {"Content-Type": "video/mp4"})
        elif kind == "junk-after-length":
            h.send(200, b"", {"Content-Type": "video/mp4", "Content-Length": str(len(PAYLOAD))})
            h.wfile.write(PAYLOAD + junk)
        else:  # close-delimited, longer than the file
            h.close_connection = True
            h.send_response(200)
            h.send_header("Content-Type", "video/mp4")
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(PAYLOAD + junk)

    return answer


@pytest.mark.parametrize(
    ("kind", "state"),
    [("announced-longer", "failed"), ("junk-after-length", "done"), ("close-longer", "failed")],
)
def test_a_rendition_longer_than_announced_never_lands_as_the_file(
    kind: str, state: str, fake_hub: FakeHub, desk: Services
) -> None:
    fake_hub.add_item("long", filename="long.mp4")
    fake_hub.routes["/files/long"] = file_answer(kind)
    queue = start(desk)
    t = finished(queue, desk.download("long"))
    dest = Path(t.destination)
    assert t.state == state, t.last_error
    if state == "done":
        assert dest.read_bytes() == PAYLOAD  # exactly the announced bytes, nothing after them
    else:
        assert not dest.exists() and not Path(f"{dest}.part").exists()
        assert t.last_error and "http" not in t.last_error.lower()


# --- redirects and other origins ------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_an_api_call_never_follows_a_redirect(
    status: int, fake_hub: FakeHub, other: FakeHub
) -> None:
    def elsewhere(h: FakeHubHandler) -> None:
        h.redirect(other.url + h.path, status)

    for path in ("/api/v1/items", "/api/v1/me", "/api/v1/events"):
        fake_hub.routes[path] = elsewhere
    c = client(fake_hub.url)
    with pytest.raises(BadResponse, match="redirect") as e:
        c.items()
    assert other.url in str(e.value)
    with pytest.raises(BadResponse, match="redirect"):
        c.me()
    with pytest.raises(BadResponse, match="redirect"):
        c.events(after=0)
    assert other.seen == []  # not even a request without the token


def test_sign_in_never_follows_a_redirect_with_the_password(
    fake_hub: FakeHub, other: FakeHub, tmp_path: Path
) -> None:
    fake_hub.routes["/api/v1/session"] = lambda h: h.redirect(other.url + "/api/v1/session", 307)
    paths = make_paths(tmp_path / "desk")
    store = Store(paths.db_path)
    secrets = MemorySecrets()
    try:
        with pytest.raises(HubError, match="redirect"):
            sign_in(Profiles(store), secrets, fake_hub.url, "ktn", PASSWORD, allow_http=True)
        assert Profiles(store).list() == []
    finally:
        store.close()
    assert other.seen == []


@pytest.mark.parametrize(
    "token", ["abc\r\nX-Evil: 1", "tok\u20acn", "t\u00e9", "two words", "", "a=b", "\x00"]
)
def test_a_sign_in_answer_whose_token_cannot_be_sent_is_malformed(
    token: str, fake_hub: FakeHub, tmp_path: Path
) -> None:
    # it was taken: "Signed in", then every call said the hub "cannot be reached
    # (InvalidHeader)", or "'latin-1' codec can't encode…", or "Not signed in"
    fake_hub.routes["/api/v1/session"] = lambda h: h.send_json(
        {"token": token, "expires_at": "2099-01-01T00:00:00Z", "member": MEMBER}
    )
    paths = make_paths(tmp_path / "desk")
    store = Store(paths.db_path)
    try:
        with pytest.raises(BadResponse, match="malformed sign-in answer"):
            sign_in(
                Profiles(store), MemorySecrets(), fake_hub.url, "ktn", PASSWORD, allow_http=True
            )
        assert Profiles(store).list() == []
    finally:
        store.close()


@pytest.mark.parametrize(
    ("retry_after", "when"),
    [
        ("9" * 40, "later"),  # valid delay-seconds: "try again in 1666…(39 digits) minute(s)"
        ("999999999999", "later"),
        ("86401", "later"),
        ("86400", "in 1440 minute(s)"),
        ("1e999", "later"),  # not delay-seconds (once an OverflowError traceback)
        ("inf", "later"),
        ("120", "in 2 minute(s)"),
    ],
)
def test_a_sign_in_refused_for_long_says_later(
    retry_after: str, when: str, fake_hub: FakeHub, tmp_path: Path
) -> None:
    fake_hub.routes["/api/v1/session"] = lambda h: h.send(
        429,
        b'{"error": {"code": "rate_limited", "message": "slow down"}}',
        {"Content-Type": "application/json", "Retry-After": retry_after},
    )
    paths = make_paths(tmp_path / "desk")
    store = Store(paths.db_path)
    try:
        with pytest.raises(HubError) as e:
            sign_in(
                Profiles(store), MemorySecrets(), fake_hub.url, "ktn", PASSWORD, allow_http=True
            )
    finally:
        store.close()
    assert str(e.value) == (
        f"Too many failed sign-ins for this user or this network; try again {when}."
    )


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_download_redirected_to_another_origin_leaves_the_token_behind(
    status: int, fake_hub: FakeHub, other: FakeHub, desk: Services
) -> None:
    fake_hub.add_item("moved", filename="moved.mp4")
    fake_hub.routes["/files/moved"] = lambda h: h.redirect(f"{other.url}/cdn/moved.mp4", status)
    other.routes["/cdn/moved.mp4"] = lambda h: h._file(PAYLOAD)
    queue = start(desk)
    t = finished(queue, desk.download("moved"))
    assert t.state == "done", t.last_error
    assert Path(t.destination).read_bytes() == PAYLOAD
    to_hub = fake_hub.requests_to("/files/moved")
    assert to_hub and all(s.headers.get("authorization") == f"Bearer {TOKEN}" for s in to_hub)
    to_other = other.requests_to("/cdn/")
    assert to_other and not any("authorization" in s.headers for s in to_other)
    assert not any(TOKEN in repr(s) for s in other.seen)


def test_a_download_redirected_on_the_hub_itself_keeps_the_token(
    fake_hub: FakeHub, desk: Services
) -> None:
    fake_hub.add_item("here", filename="here.mp4")
    fake_hub.routes["/files/here"] = lambda h: h.redirect("/files/elsewhere-on-the-hub", 302)
    queue = start(desk)
    t = finished(queue, desk.download("here"))
    assert t.state == "done", t.last_error
    moved = fake_hub.requests_to("/files/elsewhere-on-the-hub")
    assert moved and all(s.headers.get("authorization") == f"Bearer {TOKEN}" for s in moved)


def test_a_rendition_or_thumbnail_on_another_origin_gets_no_token(
    fake_hub: FakeHub, other: FakeHub, desk: Services
) -> None:
    fake_hub.add_item(
        "cdn", filename="cdn.mp4", url=f"{other.url}/cdn/cdn.mp4",
        thumbnail_url=f"{fake_hub.url}/api/v1/items/cdn/thumbnail",
    )  # fmt: skip
    other.routes["/cdn/cdn.mp4"] = lambda h: h._file(PAYLOAD)
    jpeg = b"\xff\xd8\xff\xe0" + os.urandom(2000)
    fake_hub.routes["/api/v1/items/cdn/thumbnail"] = lambda h: h.redirect(
        f"{other.url}/cdn/thumb.jpg", 302
    )
    other.routes["/cdn/thumb.jpg"] = lambda h: h.send(200, jpeg, {"Content-Type": "image/jpeg"})
    queue = start(desk)
    t = finished(queue, desk.download("cdn"))
    assert t.state == "done", t.last_error
    assert desk.fetch_hub_thumbnail("cdn").read_bytes() == jpeg
    assert fake_hub.requests_to("/api/v1/items/cdn/thumbnail")[0].headers["authorization"]
    assert len(other.requests_to("/cdn/")) >= 2
    assert not any("authorization" in s.headers for s in other.seen)


def test_an_upload_url_on_another_origin_gets_no_token(
    fake_hub: FakeHub, other: FakeHub, desk: Services, tmp_path: Path
) -> None:
    fake_hub.upload_location = f"{other.url}/api/v1/uploads/"
    source = tmp_path / "footage.mp4"
    source.write_bytes(PAYLOAD)
    queue = start(desk)
    tid = desk.upload(source, UploadFields(title="Footage", language="en", country="KE"))
    finished(queue, tid)
    assert fake_hub.requests_to("/api/v1/uploads")[0].headers["authorization"]
    assert other.seen, "the upload never went to the URL the hub named"
    assert not any("authorization" in s.headers for s in other.seen)


def test_the_token_goes_only_to_the_hubs_own_origin() -> None:
    c = HubClient(Connection("https://hub.example.org"), token=TOKEN)
    assert c.headers_for("https://hub.example.org/api/v1/items/x/renditions/broadcast")
    assert c.headers_for("https://HUB.example.org:443/x")
    for url in (
        "http://hub.example.org/x",  # plain HTTP on the same host: anyone on the path reads it
        "https://hub.example.org:8443/x",
        "https://cdn.example.org/x",
        "https://hub.example.org.evil.example/x",
        "https://evil.example/?hub.example.org",
        "https://hub.example.org@evil.example/x",
        # urllib.parse reads the hub's origin in these; requests ends the host at the
        # backslash and connects to evil.example, or to port 8443
        "https://evil.example\\@hub.example.org/x",
        "https://hub.example.org:8443\\@hub.example.org/x",
        "https://hub.example.org:99999/x",  # no server at all: no token either
    ):
        assert c.headers_for(url) == {}, url


def test_a_rendition_or_thumbnail_written_with_a_backslash_gets_no_token(
    fake_hub: FakeHub, other: FakeHub, desk: Services
) -> None:
    """http://127.0.0.1:OTHER\\@127.0.0.1:HUB/… is the hub's origin to urllib.parse, and
    other's to requests (the host ends at the backslash): the token went to other."""
    hub_port = fake_hub.server_address[1]
    fake_hub.add_item(
        "bs", filename="bs.mp4", url=f"{other.url}\\@127.0.0.1:{hub_port}/files/bs",
        thumbnail_url=f"{other.url}\\@127.0.0.1:{hub_port}/api/v1/items/bs/thumbnail",
    )  # fmt: skip
    queue = start(desk)
    t = finished(queue, desk.download("bs"))
    assert t.state == "failed" and t.last_error == "The download address is not valid."
    with pytest.raises(OSError, match="not a valid address"):
        desk.fetch_hub_thumbnail("bs")
    assert other.seen == []  # nothing at all went there, the token least of all


@pytest.mark.parametrize("location", ["http://127.0.0.1:99999/t.jpg", "http://[::1/t.jpg"])
def test_a_thumbnail_redirected_to_an_address_that_is_none_is_said_so(
    location: str, fake_hub: FakeHub, desk: Services
) -> None:
    # (requests' own redirect read the port: a ValueError, not a thumbnail that is not there)
    fake_hub.add_item("th", filename="th.mp4", thumbnail_url=f"{fake_hub.url}/thumbs/th.jpg")
    fake_hub.routes["/thumbs/th.jpg"] = lambda h: h.redirect(location, 302)
    desk.store_items([desk.client().item("th")])
    with pytest.raises(OSError, match="not a valid address"):
        desk.fetch_hub_thumbnail("th")


@pytest.mark.parametrize(
    "location", ["http://127.0.0.1:99999/x", "http://[::1/x", "http://127.0.0.1:abc/x"]
)
def test_an_api_call_redirected_to_an_address_that_is_none_is_a_bad_answer(
    location: str, fake_hub: FakeHub
) -> None:
    # requests read the Location of a redirect it did not follow: a ValueError out of
    # the call ("Something went wrong", a traceback in the CLI)
    fake_hub.routes["/api/v1/items"] = lambda h: h.redirect(location, 302)
    with pytest.raises(BadResponse, match="redirect"):
        client(fake_hub.url).items()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1\\@127.0.0.1:2",  # requests would send the password to port 1
        "https://evil.example\\@hub.example.org",
        "https://hub.example.org:99999",
        "https://[::1",
        "https://hub example.org",
        # mistyped: read as the host "htp" (an address "could not be reached")
        "htp:/127.0.0.1 8761",
        "htp:/127.0.0.1:8761",
        "hub.example.org /api",
        "hub.example.org:",
    ],
)
def test_a_hub_address_whose_server_is_not_certain_is_refused(url: str) -> None:
    with pytest.raises(HubError, match="not a hub address"):
        hub_module.normalize_url(url)


# --- plain HTTP ----------------------------------------------------------------------------------


def test_plain_http_is_refused_before_the_password_is_sent(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    paths = make_paths(tmp_path / "desk")
    store = Store(paths.db_path)
    secrets = MemorySecrets()
    try:
        with pytest.raises(PlainHttpRefused, match="plain HTTP") as e:
            sign_in(Profiles(store), secrets, fake_hub.url, "ktn", PASSWORD)
        assert "allow plain HTTP for this hub" in str(e.value)
        assert Profiles(store).list() == []
    finally:
        store.close()
    assert fake_hub.seen == []  # nothing went out, the password least of all


def test_plain_http_allowed_for_one_hub_is_not_allowed_for_another(
    fake_hub: FakeHub, other: FakeHub, tmp_path: Path
) -> None:
    paths = make_paths(tmp_path / "desk")
    store = Store(paths.db_path)
    secrets = MemorySecrets()
    profiles = Profiles(store)
    try:
        allowed = sign_in(profiles, secrets, fake_hub.url, "ktn", PASSWORD, allow_http=True)
        assert allowed.allow_http
        with pytest.raises(PlainHttpRefused):
            sign_in(profiles, secrets, other.url, "ktn", PASSWORD)
        assert other.seen == []
        # A profile kept without the permission (or whose permission was taken back) refuses
        # too, before any request: the permission belongs to the profile, not the workstation.
        profiles.save(Profile(allowed.name, allowed.url, allowed.username, allow_http=False))
        with pytest.raises(PlainHttpRefused):
            client_for(profiles.require(allowed.name), secrets)
        assert client_for(profiles.save(allowed), secrets).me().username == "ktn"
    finally:
        store.close()


# --- TLS -----------------------------------------------------------------------------------------


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority(tmp_path / "ca")


@pytest.fixture
def tls_servers() -> Iterator[list[TlsServer]]:
    servers: list[TlsServer] = []
    yield servers
    for s in servers:
        s.stop()


def bad_certificates(folder: Path, ca: Authority) -> dict[str, tuple[Path, Path]]:
    hour = dt.timedelta(hours=1)
    return {
        "self-signed": self_signed(folder),
        "expired": ca.issue(["127.0.0.1"], name="expired", valid_from=-48 * hour, valid_for=hour),
        "not-yet-valid": ca.issue(["127.0.0.1"], name="future", valid_from=24 * hour),
        "other-host": ca.issue(["hub.example.org"], name="other-host"),
    }


@pytest.mark.parametrize("case", ["self-signed", "expired", "not-yet-valid", "other-host"])
def test_a_bad_certificate_is_refused_with_a_clear_message(
    case: str,
    live_hub: LiveHub,
    authority: Authority,
    tls_servers: list[TlsServer],
    tmp_path: Path,
) -> None:
    live_hub.member("ktn", PASSWORD)
    cert, key = bad_certificates(tmp_path / "certs", authority)[case]
    server = serve_tls(live_hub.server.app, cert, key)
    tls_servers.append(server)
    paths = make_paths(tmp_path / "desk")
    store = Store(paths.db_path)
    secrets = MemorySecrets()
    # The CA bundle is the test CA's: it makes the self-signed one no more trusted, and the
    # others are refused for what they are (expired, not yet valid, for another host).
    bundle = "" if case == "self-signed" else str(authority.bundle)
    try:
        with pytest.raises(TlsError) as e:
            sign_in(Profiles(store), secrets, server.url, "ktn", PASSWORD, ca_bundle=bundle)
        message = str(e.value)
        assert "certificate" in message and "CA bundle" in message, message
        assert "Traceback" not in message and "SSLError" not in message
        assert Profiles(store).list() == []
    finally:
        store.close()
    with live_hub.hub.db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(Token)) == 0
        )  # the hub never saw the password


def test_a_custom_ca_bundle_is_the_way_in_for_api_and_downloads(
    live_hub: LiveHub,
    clip: Path,
    authority: Authority,
    tls_servers: list[TlsServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live_hub.member("ktn", PASSWORD)
    item_id = live_hub.publish(clip, title="Over TLS", slug="TLS-ITEM")
    server = serve_tls(live_hub.server.app, *authority.issue(["127.0.0.1"]))
    tls_servers.append(server)
    # A bundle from the environment must not replace the profile's (requests would let it).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    with pytest.raises(TlsError):
        signed_in(tmp_path / "no-bundle", server.url)
    desk = signed_in(tmp_path / "desk", server.url, ca_bundle=str(authority.bundle))
    try:
        assert desk.require_profile().ca_bundle == str(authority.bundle)
        queue = start(desk)
        t = finished(queue, desk.download(item_id))
        assert t.state == "done", t.last_error
        assert (
            hashlib.sha256(Path(t.destination).read_bytes()).hexdigest()
            == hashlib.sha256(clip.read_bytes()).hexdigest()
        )
    finally:
        desk.stop()


@pytest.fixture
def bad_cdn(fake_hub: FakeHub, tls_servers: list[TlsServer], tmp_path: Path) -> str:
    """An item ``tls`` whose rendition is on an HTTPS server with a self-signed certificate."""
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.get("/cdn/clip.mp4")
    def clip_file() -> Response:
        return Response(PAYLOAD, media_type="video/mp4")

    server = serve_tls(app, *self_signed(tmp_path / "cdn-cert"))
    tls_servers.append(server)
    fake_hub.add_item("tls", filename="tls.mp4", url=f"{server.url}/cdn/clip.mp4")
    return "tls"


def first_error(queue: TransferQueue, tid: int) -> Transfer:
    def failed_once() -> Transfer | None:
        t = queue.transfers.get(tid)
        return t if t is not None and t.last_error else None

    t = wait_until(failed_once, timeout=30, what="the first attempt's error")
    assert t is not None
    return t


def test_a_rendition_on_a_server_with_a_bad_certificate_is_not_downloaded(
    bad_cdn: str, desk: Services
) -> None:
    queue = start(desk)
    t = first_error(queue, desk.download(bad_cdn))
    assert t.state != "done"
    assert not Path(t.destination).exists()
    part = Path(f"{t.destination}.part")
    assert not part.exists() or part.stat().st_size == 0


def test_a_bad_certificate_on_a_download_says_so_and_is_not_retried_for_ever(
    bad_cdn: str, desk: Services
) -> None:
    queue = start(desk)
    t = first_error(queue, desk.download(bad_cdn))
    assert "certificate" in t.last_error, t.last_error
    assert finished(queue, t.id, timeout=120).state == "failed"


# --- the doctor talks to a hostile hub too ---------------------------------------------------------


def doctor_against(url: str, tmp_path: Path) -> dict[str, Check]:
    profile = Profile("hostile", url, "ktn", allow_http=True)
    secrets = MemorySecrets()
    secrets.set(profile.secret_key, TOKEN)
    checks = run_checks(make_paths(tmp_path / "doctor"), profile, secrets, timeout=10)
    return {c.name: c for c in checks}


def test_the_doctor_reads_a_bounded_answer_from_an_endless_hub(
    raw: Callable[[Callable[[RawConn], None]], RawServer], tmp_path: Path
) -> None:
    server = raw(endless_json)
    checks: dict[str, Check] = {}

    def doctor() -> None:
        checks.update(doctor_against(server.url, tmp_path))

    error, peak = measured(doctor)
    assert error is None, repr(error)
    assert checks["signed in"].ok is not True
    assert server.sent < SOCKET_SLACK
    assert peak < 16 * MIB, f"{peak / MIB:.0f} MiB allocated"


@pytest.mark.parametrize(
    "body", [b"[" * 200_000 + b"]" * 200_000, b'{"username": ' + b"1" * 100_000 + b"}"]
)
def test_the_doctor_says_a_malformed_answer_is_malformed(
    body: bytes, fake_hub: FakeHub, tmp_path: Path
) -> None:
    fake_hub.routes["/api/v1/me"] = answer_json(body)
    checks = doctor_against(fake_hub.url, tmp_path)
    assert checks["hub reachable"].ok is True
    assert checks["signed in"].ok is None
    assert "malformed" in checks["signed in"].message
