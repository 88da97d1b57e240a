"""A member station behind its network's forward proxy (squid, tests/support/squid.py): `alu`
signs in, pulls the feed, downloads an item (verified) and uploads one (tus, published) with
every request going through the proxy — set in the hub's profile (`--proxy`) for a TLS hub
(CONNECT tunnels), or taken from the system's settings (`HTTP_PROXY`) for a plain-HTTP one
(the proxy forwards each request, PATCH bodies included). The hub is wrapped to record where
each request came from: squid connects from 127.0.0.2, so one that went around it shows. A
proxy that refuses the station is said to be the proxy's doing, in plain words."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
import requests
import uvicorn

from alu_client.core.credentials import INSECURE_FILE_NAME
from alu_client.core.http import proxy_answer, proxy_for
from alu_client.core.hub import Connection, HubClient
from alu_client.core.transfers.base import Stopped
from alu_client.core.transfers.upload import UploadSpec, terminate
from alu_hub.media import generate_clip
from alu_hub.server import free_port
from tests.client.test_sync import make_rig
from tests.client.test_upload import Ctx, meta_for, start_upload
from tests.support.faultproxy import FaultProxy
from tests.support.hostile import Authority, serve_tls
from tests.support.livehub import LiveHub
from tests.support.nginx import start_nginx
from tests.support.squid import Squid, start_squid
from tests.support.waiting import assert_kept_nowhere, wait_until

pytestmark = pytest.mark.timeout(240)

PASSWORD = "pw-proxy-1"
#: the environment of a workstation with no proxy of its own set (the tests' machine may have)
NO_PROXY_ENV = {
    k: "" for k in ("http_proxy", "https_proxy", "all_proxy", "no_proxy") for k in (k, k.upper())
}


@dataclass
class Seen:
    """The hub's ASGI app, recording each request's peer address and ``Via`` header."""

    app: Any
    requests: list[tuple[str, str, str, str]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            peer = scope["client"][0] if scope.get("client") else ""
            via = headers.get(b"via", b"").decode()
            self.requests.append((scope["method"], scope["path"], peer, via))
        await self.app(scope, receive, send)

    def methods(self) -> set[str]:
        return {method for method, *_ in self.requests}


def alu(home: Path, *args: str, env: dict[str, str], stdin: str = "") -> tuple[int, str, str]:
    full_env = {**os.environ, **NO_PROXY_ENV, "ALU_CLIENT_HOME": str(home)}
    full_env.update({"ALU_SECRETS": "insecure-file", **env})
    done = subprocess.run(
        [sys.executable, "-m", "alu_client.cli", *args],
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done.returncode, done.stdout, done.stderr


def ok(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 0, (out, err)
    return out


def via(proxy: str) -> dict[str, str]:
    """The system's proxy setting, as a workstation's environment gives it."""
    return {"http_proxy": proxy, "HTTP_PROXY": proxy}


def login(home: Path, url: str, env: dict[str, str], *extra: str) -> tuple[int, str, str]:
    """``alu login`` as ktn, the password typed on standard input."""
    args = ("login", url, "--user", "ktn", "--password-stdin", *extra)
    return alu(home, *args, env=env, stdin=PASSWORD + "\n")


@pytest.fixture
def squid() -> Iterator[Squid]:
    with start_squid() as proxy:
        yield proxy


@pytest.fixture
def plain_hub(live_hub: LiveHub) -> Iterator[tuple[str, Seen]]:
    """The live hub's app on a second plain-HTTP port, wrapped in ``Seen``."""
    seen = Seen(live_hub.server.app)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(seen, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True, name=f"plain-hub:{port}")
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), 20, what="the hub to start")
    assert server.started
    yield f"http://127.0.0.1:{port}", seen
    server.should_exit = True
    thread.join(10)


def a_members_day(
    home: Path, live_hub: LiveHub, clip: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    """Feed, a verified download into the library, an upload published as an item."""
    item_id = live_hub.publish(clip, title="Élections à Dakar", language="fr")
    items = json.loads(ok(alu(home, "feed", "--json", env=env)))
    assert [i["id"] for i in items] == [item_id]

    out = ok(alu(home, "get", item_id, env=env))
    path = Path(out.removesuffix("\n"))  # the path alone
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(clip.read_bytes()).digest()

    own = tmp_path / "nairobi_floods.mp4"
    generate_clip(own, seconds=1.0, width=320, height=240, seed=12)
    out = ok(alu(home, "put", str(own), "--title", "Nairobi floods", "--language", "en", env=env))
    assert "published as item" in out


def test_a_tls_hub_through_the_proxy_in_the_profile(
    live_hub: LiveHub, clip: Path, tmp_path: Path, squid: Squid
) -> None:
    live_hub.member("ktn", PASSWORD)
    ca = Authority(tmp_path / "ca")
    cert, key = ca.issue(["127.0.0.1"])
    seen = Seen(live_hub.server.app)
    tls = serve_tls(seen, cert, key)
    try:
        home = tmp_path / "desk"
        out = ok(login(home, tls.url, {}, "--ca-bundle", str(ca.bundle), "--proxy", squid.url))
        assert f"Signed in to {tls.url}" in out

        a_members_day(home, live_hub, clip, tmp_path, env={})
    finally:
        tls.stop()

    # everything went through squid's tunnels: the hub saw squid's address only
    assert {peer for _, _, peer, _ in seen.requests} == {"127.0.0.2"}
    assert {"GET", "POST", "PATCH"} <= seen.methods()  # sign-in, feed, download, tus upload
    tunnels = squid.requests()
    assert tunnels and all(m == "CONNECT" for m, _, _ in tunnels), tunnels
    assert {url for _, url, _ in tunnels} == {tls.url.removeprefix("https://")}


def test_a_plain_hub_through_the_systems_proxy(
    plain_hub: tuple[str, Seen], live_hub: LiveHub, clip: Path, tmp_path: Path, squid: Squid
) -> None:
    url, seen = plain_hub
    live_hub.member("ktn", PASSWORD)
    env = via(squid.url)
    home = tmp_path / "desk"
    out = ok(login(home, url, env, "--allow-http"))
    assert f"Signed in to {url}" in out

    a_members_day(home, live_hub, clip, tmp_path, env=env)

    assert seen.requests
    assert all("squid" in via for _, _, _, via in seen.requests), seen.requests
    logged = squid.requests()
    assert {m for m, _, _ in logged} >= {"GET", "POST", "PATCH"}
    assert all(u.startswith(f"{url}/") for _, u, _ in logged)
    patches = [s for m, _, s in logged if m == "PATCH"]
    assert patches and all(s == 204 for s in patches)  # each chunk stored by the hub


@pytest.mark.parametrize(
    ("policy", "said", "said_tls"),
    [
        ("deny", "refused to pass the request", "refused the connection"),
        ("password", "wants a user name and password", "wants a user name and password"),
    ],
)
def test_a_proxy_that_refuses_the_station_is_named(
    policy: Literal["deny", "password"],
    said: str,
    said_tls: str,
    live_hub: LiveHub,
    tmp_path: Path,
    plain_hub: tuple[str, Seen],
) -> None:
    live_hub.member("ktn", PASSWORD)
    ca = Authority(tmp_path / "ca")
    cert, key = ca.issue(["127.0.0.1"])
    tls = serve_tls(live_hub.server.app, cert, key)
    url, seen = plain_hub
    try:
        with start_squid(policy=policy) as squid:
            # a TLS hub: the proxy refuses the tunnel (CONNECT)
            tunnel = ("--ca-bundle", str(ca.bundle), "--proxy", squid.url)
            code, _, err = login(tmp_path / "a", tls.url, {}, *tunnel)
            assert code == 1
            assert f"The network's proxy ({squid.url}) {said_tls}" in err, err
            assert "Traceback" not in err

            # a plain-HTTP hub: the proxy answers in the hub's place
            env = via(squid.url)
            code, _, err = login(tmp_path / "b", url, env, "--allow-http")
            assert code == 1
            assert f"The network's proxy ({squid.url}) {said}" in err, err
            assert "Traceback" not in err and "does not allow this account" not in err
            assert seen.requests == []  # nothing reached the hub
            if policy == "deny":  # doctor, for a station signed in before the proxy came
                home = tmp_path / "c"
                ok(login(home, url, {}, "--allow-http"))
                code, out, _ = alu(home, "doctor", env=env)
                assert code == 1
                assert f"hub reachable: The network's proxy ({squid.url}) refused" in out, out
                seen.requests.clear()
            assert {(m, s) for m, _, s in squid.requests()} >= {
                ("CONNECT", 403 if policy == "deny" else 407),
                ("POST", 403 if policy == "deny" else 407),
            }
    finally:
        tls.stop()


@pytest.mark.parametrize(
    ("policy", "said"),
    [("deny", "refused to pass the request to 127.0.0.1"), ("password", "wants a user name")],
)
def test_transfers_refused_by_the_proxy_say_so(
    policy: Literal["deny", "password"], said: str, tmp_path: Path, plain_hub: tuple[str, Seen]
) -> None:
    url, seen = plain_hub
    source = tmp_path / "clip.mxf"
    source.write_bytes(os.urandom(200_000))
    with start_squid(policy=policy) as squid:
        env = via(squid.url)
        for args in (
            ["fetch", f"{url}/api/v1/files/x", str(tmp_path / "out.mxf")],
            ["tus-put", f"{url}/api/v1/uploads/", str(source)],
        ):
            code, _, err = alu(tmp_path / "desk", *args, env=env)
            assert code == 1, err
            assert f"The network's proxy {said}" in err, err
            assert "The hub refused" not in err and "The server refused" not in err
    assert seen.requests == []
    assert not (tmp_path / "out.mxf").exists()


def answer(status: int, **headers: str) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.url = "https://hub.example.org/api/v1/files/1"
    resp.headers.update(headers)
    return resp


def test_what_counts_as_a_proxys_own_answer() -> None:
    assert "user name and password" in (proxy_answer(answer(407)) or "")
    squid = answer(403, **{"X-Squid-Error": "ERR_ACCESS_DENIED 0"})
    assert "refused to pass the request to hub.example.org" in (proxy_answer(squid) or "")
    bad_gateway = answer(502, **{"Proxy-Status": 'corp-proxy; error="destination_unavailable"'})
    assert "could not reach hub.example.org" in (proxy_answer(bad_gateway) or "")
    # the server's own answers, passed on by a proxy: not the proxy's doing
    assert proxy_answer(answer(403, **{"Proxy-Status": "corp-proxy; received-status=403"})) is None
    assert proxy_answer(answer(403, Via="1.1 corp-proxy")) is None
    assert proxy_answer(answer(503)) is None
    assert proxy_answer(answer(200, **{"X-Squid-Error": "x"})) is None
    # not the hub's JSON, through a proxy: the proxy's; without a proxy: not
    plain = answer(403)
    said = proxy_answer(plain, proxy="http://10.0.0.1:3128", not_the_servers=True)
    assert said is not None and said.startswith("The network's proxy (http://10.0.0.1:3128)")
    assert proxy_answer(plain, not_the_servers=True) is None
    assert proxy_answer(answer(500), proxy="http://10.0.0.1:3128", not_the_servers=True) is None


def test_the_proxy_in_use_is_shown_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NO_PROXY_ENV:
        monkeypatch.delenv(name, raising=False)
    session = requests.Session()
    assert proxy_for(session, "https://hub.example.org/") == ""
    monkeypatch.setenv("https_proxy", "http://station:s3cret@10.0.0.1:3128")
    assert proxy_for(session, "https://hub.example.org/") == "http://10.0.0.1:3128"
    monkeypatch.setenv("no_proxy", "hub.example.org")
    assert proxy_for(session, "https://hub.example.org/") == ""
    session.proxies = {"https": "http://[::1]:8080"}  # the profile's wins over the system's
    assert proxy_for(session, "https://hub.example.org/") == "http://[::1]:8080"


def test_the_live_feed_comes_through_the_proxy(
    live_hub: LiveHub, clip: Path, tmp_path: Path, squid: Squid
) -> None:
    # server-sent events through a proxy that passes the stream on as it comes
    live_hub.member("ktn", PASSWORD)
    client = HubClient(
        Connection(live_hub.url, allow_http=True, proxy=squid.url, device="desk", read_timeout=5.0)
    )
    client.sign_in("ktn", PASSWORD)
    rig = make_rig(tmp_path / "desk", client)
    try:
        rig.start()
        wait_until(lambda: rig.feed.live, what="listening on the event stream")
        began = time.monotonic()
        item = live_hub.publish(clip, title="Live through the proxy")
        wait_until(lambda: item in rig.shelf.items, timeout=5, what="the live item")
        assert time.monotonic() - began < 5
    finally:
        rig.halt()
        rig.store.close()
    # squid logs the stream's GET when the stream ends, which it sees in its own time
    wait_until(
        lambda: (
            ("GET", f"{live_hub.url}/api/v1/events")
            in {(m, u.split("?")[0]) for m, u, _ in squid.requests()}
        ),
        timeout=10,
        what="squid to log the event stream",
    )


def test_a_proxy_that_refuses_patch_gets_chunks_as_post(
    plain_hub: tuple[str, Seen], live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # some corporate proxies pass GET, HEAD and POST only: tus lets a client send PATCH (and
    # DELETE) as POST with X-HTTP-Method-Override, which the hub honours
    url, seen = plain_hub
    live_hub.member("ktn", PASSWORD)
    with start_squid(policy="no-patch") as squid:
        env = via(squid.url)
        home = tmp_path / "desk"
        ok(login(home, url, env, "--allow-http"))
        own = tmp_path / "lagos_market.mp4"
        generate_clip(own, seconds=1.0, width=320, height=240, seed=13)
        out = ok(alu(home, "-v", "put", str(own), "--title", "Lagos market", env=env))
        assert "published as item" in out
        logged = squid.requests()
    patches = [status for method, _, status in logged if method == "PATCH"]
    assert patches == [403]  # refused once; then each chunk went as POST
    overridden = [r for r in seen.requests if r[0] == "POST" and "/uploads/" in r[1]]
    assert overridden, seen.requests
    assert ("POST", 204) in {(m, s) for m, u, s in logged if "/uploads/" in u}


def test_a_canceled_upload_is_deleted_through_a_proxy_that_refuses_delete(
    live_hub: LiveHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live_hub.member("ktn", PASSWORD)
    token = live_hub.login("ktn", PASSWORD).headers["Authorization"].removeprefix("Bearer ")
    path = tmp_path / "long.mxf"
    path.write_bytes(os.urandom(24 * 1024 * 1024))
    with start_squid(policy="no-delete") as squid:
        for name, value in {**NO_PROXY_ENV, "http_proxy": squid.url}.items():
            monkeypatch.setenv(name, value)
        c = Ctx(token, tuning={"upload_chunk_size": 1024 * 1024})
        moving = threading.Event()
        c.on_meter = lambda total: moving.set() if total >= 3 * 1024 * 1024 else None
        spec = UploadSpec(path, live_hub.api("/uploads/"), meta_for(path), chunk_size=1024 * 1024)
        thread, errors = start_upload(spec, c)
        assert moving.wait(30)
        upload_url = c.checkpoint.data["url"]
        c.control.stop("cancel")
        thread.join(15)
        assert len(errors) == 1 and isinstance(errors[0], Stopped), errors
        assert terminate(spec, c.again().ctx)  # as the queue does once it recorded the cancel
        c.sessions.close()
        head = requests.head(
            upload_url,
            headers={"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"},
            timeout=10,
        )
        logged = squid.requests()
    assert head.status_code in (404, 410)  # the hub dropped it
    deletes = [s for m, _, s in logged if m == "DELETE"]
    assert deletes == [403]  # refused, then sent as POST with X-HTTP-Method-Override


def test_a_segmented_download_through_the_proxy_resumes_after_kill(
    tmp_path: Path, squid: Squid
) -> None:
    # Range requests on four connections through squid (a server we did not write behind a
    # proxy we did not write), the CLI killed with SIGKILL, then run again
    www = tmp_path / "www"
    www.mkdir()
    data = os.urandom(48 * 1024 * 1024)
    (www / "big.mxf").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    server = start_nginx(
        tmp_path / "nginx",
        f"server {{ listen 127.0.0.1:{{port}}; root {www}; }}",
        lambda port: requests.head(f"http://127.0.0.1:{port}/big.mxf", timeout=2).ok,
    )
    dest = tmp_path / "out" / "big.mxf"
    env = {**os.environ, **NO_PROXY_ENV, **via(squid.url)}
    env["ALU_CLIENT_HOME"] = str(tmp_path / "home")
    try:
        with FaultProxy(("127.0.0.1", server.port)) as slow:
            slow.rate_bps = 8 * 1024 * 1024
            argv = [sys.executable, "-m", "alu_client.cli", "fetch", f"{slow.url}/big.mxf"]
            argv += [str(dest), "--sha256", sha, "--segments", "4"]
            first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                wait_until(lambda: slow.bytes_down > len(data) * 0.6, 60, what="the download")
            finally:
                first.send_signal(signal.SIGKILL)
                first.communicate(timeout=10)
            before = slow.bytes_down
            slow.rate_bps = None
            second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
            again = slow.bytes_down - before
    finally:
        server.stop()
    assert second.returncode == 0, second.stderr
    assert "sha256 verified" in second.stdout
    assert dest.read_bytes() == data
    # resumed, not started over (what each segment had not checkpointed comes again)
    assert again < len(data) * 0.9, again
    ranges = [s for m, u, s in squid.requests() if m == "GET" and u.endswith("/big.mxf")]
    assert ranges.count(206) >= 4, ranges  # the segments' ranges went through squid


def test_a_proxy_password_from_the_systems_setting_is_used_and_kept_nowhere(
    plain_hub: tuple[str, Seen], live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    url, seen = plain_hub
    live_hub.member("ktn", PASSWORD)
    with start_squid(policy="password") as squid:
        with_password = squid.url.replace("http://", "http://desk:proxy-s3cret@")
        env = via(with_password)
        home = tmp_path / "desk"
        ok(login(home, url, env, "--allow-http"))
        item_id = live_hub.publish(clip, title="Behind an authenticated proxy")
        code, out, err = alu(home, "-v", "get", item_id, env=env)
        assert code == 0, err
        assert "proxy-s3cret" not in out + err
        statuses = {s for m, _, s in squid.requests()}
    assert seen.requests and all("squid" in via for *_, via in seen.requests)
    assert 200 in statuses or 206 in statuses
    assert_kept_nowhere(home, b"proxy-s3cret")


def test_a_proxy_password_with_the_profiles_proxy_is_kept_in_the_keyring_only(
    plain_hub: tuple[str, Seen], live_hub: LiveHub, clip: Path, tmp_path: Path
) -> None:
    # no system proxy: the profile's proxy, with its login given as curl takes it (-x)
    url, seen = plain_hub
    live_hub.member("ktn", PASSWORD)
    with start_squid(policy="desk-password") as squid:
        with_password = squid.url.replace("http://", "http://desk:proxy-s3cret@")
        home = tmp_path / "desk"
        ok(login(home, url, {}, "--allow-http", "--proxy", with_password))
        # signing in again with the address alone keeps the login kept for the profile
        ok(login(home, url, {}, "--allow-http", "--proxy", squid.url))
        item_id = live_hub.publish(clip, title="Behind the profile's authenticated proxy")
        code, out, err = alu(home, "-v", "get", item_id, env={})
        assert code == 0, err
        assert "proxy-s3cret" not in out + err
        doctor = alu(home, "doctor", env={})
        assert "proxy-s3cret" not in doctor[1] + doctor[2]
        statuses = [s for m, _, s in squid.requests()]
    assert seen.requests and all("squid" in via for *_, via in seen.requests)
    assert 407 not in statuses  # the login went with every request
    secrets_file = home / "data" / INSECURE_FILE_NAME  # the tests' stand-in for the keyring
    assert b"proxy-s3cret" in secrets_file.read_bytes()
    assert_kept_nowhere(home, b"proxy-s3cret", but=[secrets_file])
    assert squid.url in profile_proxies(home)  # the address alone is kept with the profile


def test_a_wrong_proxy_password_is_named_not_the_hubs(
    plain_hub: tuple[str, Seen], live_hub: LiveHub, tmp_path: Path
) -> None:
    url, _ = plain_hub
    live_hub.member("ktn", PASSWORD)
    with start_squid(policy="desk-password") as squid:
        wrong = squid.url.replace("http://", "http://desk:not-it@")
        code, out, err = login(tmp_path / "desk", url, {}, "--allow-http", "--proxy", wrong)
    assert code == 1, (out, err)
    assert (
        f"The network's proxy ({squid.url}) did not accept the user name and password given for"
        " it (HTTP 407)" in err
    ), err
    assert "not-it" not in out + err


def profile_proxies(home: Path) -> list[str]:
    """The proxy addresses the profiles keep in the library."""
    db = sqlite3.connect(home / "data" / "library.sqlite3")
    try:
        return [row[0] for row in db.execute("SELECT proxy FROM profiles")]
    finally:
        db.close()
