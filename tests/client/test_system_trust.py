"""The operating system's certificate store is trusted: a network whose HTTPS goes through an
inspecting firewall, or a hub with a certificate from the company's own authority, has that
authority put by IT in the system's store (Windows' by Group Policy, the macOS Keychain by
MDM). The client trusted only certifi's bundle, and such a network could not be used although
the browser could. A CA bundle given (a profile's, REQUESTS_CA_BUNDLE, SSL_CERT_FILE) is still
the only one trusted.

On Linux the system's store is OpenSSL's default one, which ``SSL_CERT_DIR`` names: the test's
authority is "installed" there for a client run in a subprocess of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from tests.support.hostile import Authority, TlsServer, serve_tls
from tests.support.tlsproxy import TlsTunnelProxy

ROOT = Path(__file__).resolve().parents[2]

#: the hub client's session and a transfer's (SessionPool), each with the CA bundle given
_CLIENT = """
import json, sys
import requests
from alu_client.core.hub import Connection, HubClient
from alu_client.core.transfers.base import SessionPool

url, bundle = sys.argv[1], sys.argv[2]
said = {}
for name, session in (
    ("hub", HubClient(Connection(url=url, ca_bundle=bundle)).session),
    ("transfer", SessionPool(verify=bundle or True).get(url)),
):
    try:
        said[name] = session.get(url + "/ping", timeout=10).text
    except requests.exceptions.SSLError as e:
        said[name] = "refused: " + str(e)
print(json.dumps(said))
"""


@pytest.fixture
def newsroom(tmp_path: Path) -> Iterator[tuple[TlsServer, Authority, Path]]:
    """A server whose certificate is the newsroom's own authority's, that authority installed
    in a system store (a folder as OpenSSL reads one: named by the certificate's hash)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl names the store's files by their hash")
    ca = Authority(tmp_path / "ca", name="Newsroom Firewall CA")
    cert, key = ca.issue(["127.0.0.1"])
    store = tmp_path / "system-store"
    store.mkdir()
    name = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", str(ca.bundle)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    shutil.copyfile(ca.bundle, store / f"{name}.0")
    app = FastAPI()

    @app.get("/ping")
    def ping() -> PlainTextResponse:
        return PlainTextResponse("pong")

    server = serve_tls(app, cert, key)
    yield server, ca, store
    server.stop()


def client(url: str, store: Path, bundle: str = "") -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        # no bundle of the environment's: only the system's store, or the one given
        if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
    }
    env["SSL_CERT_DIR"] = str(store)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT, url, bundle],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    said: dict[str, str] = json.loads(done.stdout)
    return said


def test_an_authority_in_the_systems_store_is_trusted(
    newsroom: tuple[TlsServer, Authority, Path],
) -> None:
    server, _ca, store = newsroom
    assert client(server.url, store) == {"hub": "pong", "transfer": "pong"}


def test_a_bundle_given_is_still_the_only_one_trusted(
    newsroom: tuple[TlsServer, Authority, Path], tmp_path: Path
) -> None:
    server, ca, store = newsroom
    assert client(server.url, store, str(ca.bundle)) == {"hub": "pong", "transfer": "pong"}
    # another authority's bundle: refused, although the system trusts the server's
    other = Authority(tmp_path / "other", name="Another CA")
    said = client(server.url, store, str(other.bundle))
    for name in ("hub", "transfer"):
        assert said[name].startswith("refused: ") and "CERTIFICATE_VERIFY_FAILED" in said[name]


#: the same two sessions, to ``url`` through the https:// proxy ``proxy``; argv[4], when
#: given, stands for certifi's bundle (requests' DEFAULT_CA_BUNDLE_PATH, read by the system
#: trust's context too)
_PROXIED_CLIENT = """
import json, sys
import requests, requests.adapters, requests.utils
url, bundle, proxy, certifi = sys.argv[1:5]
if certifi:
    requests.utils.DEFAULT_CA_BUNDLE_PATH = requests.adapters.DEFAULT_CA_BUNDLE_PATH = certifi
from alu_client.core.hub import Connection, HubClient
from alu_client.core.transfers.base import SessionPool

said = {}
for name, session in (
    ("hub", HubClient(Connection(url=url, ca_bundle=bundle)).session),
    ("transfer", SessionPool(verify=bundle or True, proxies={"https": proxy}).get(url)),
):
    try:
        said[name] = session.get(url + "/ping", proxies={"https": proxy}, timeout=10).text
    except requests.exceptions.RequestException as e:
        said[name] = "refused: " + str(e)
print(json.dumps(said))
"""


def proxied_client(
    url: str, proxy: str, store: Path, bundle: str = "", certifi: str = ""
) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
        and k.lower() not in ("https_proxy", "http_proxy", "all_proxy", "no_proxy")
    }
    env["SSL_CERT_DIR"] = str(store)  # the system's store: only what the test puts there
    env["SSL_CERT_FILE"] = str(store / "none.pem")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    done = subprocess.run(
        [sys.executable, "-c", _PROXIED_CLIENT, url, bundle, proxy, certifi],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    said: dict[str, str] = json.loads(done.stdout)
    return said


@pytest.fixture
def proxy_ca(tmp_path: Path) -> Iterator[tuple[TlsTunnelProxy, Authority]]:
    """An https:// proxy whose certificate is its own authority's."""
    ca = Authority(tmp_path / "proxy-ca", name="Proxy CA")
    cert, key = ca.issue(["127.0.0.1"], name="proxy")
    proxy = TlsTunnelProxy(cert, key)
    yield proxy, ca
    proxy.close()


def test_an_https_proxys_certificate_is_checked_as_the_servers_is(
    newsroom: tuple[TlsServer, Authority, Path],
    proxy_ca: tuple[TlsTunnelProxy, Authority],
    tmp_path: Path,
) -> None:
    # the TLS to an https:// proxy (Settings > Network, HTTPS_PROXY) for a tunnel fell to
    # OpenSSL's default store alone, without certifi's bundle (empty on macOS: every such
    # proxy refused, whose certificate any browser trusts)
    server, _ca, store = newsroom
    proxy, ca = proxy_ca
    certifi = tmp_path / "certifi.pem"  # certifi's bundle, with the proxy's authority in it
    certifi.write_bytes(ca.bundle.read_bytes())
    assert proxied_client(server.url, proxy.url, store, certifi=str(certifi)) == {
        "hub": "pong",
        "transfer": "pong",
    }
    # the proxy's authority in the system's store (a company CA in the Keychain) as well
    shutil.copyfile(ca.bundle, store / _hash_name(ca.bundle))
    assert proxied_client(server.url, proxy.url, store) == {"hub": "pong", "transfer": "pong"}
    assert proxy.tunnels == 4


def test_a_bundle_given_is_the_proxys_only_trust_too(
    newsroom: tuple[TlsServer, Authority, Path],
    proxy_ca: tuple[TlsTunnelProxy, Authority],
    tmp_path: Path,
) -> None:
    # as before: a profile's bundle is what the proxy's certificate is checked with; an
    # authority neither it nor the system has is refused, and says "certificate"
    server, newsroom_ca, store = newsroom
    proxy, ca = proxy_ca
    both = tmp_path / "both.pem"
    both.write_bytes(newsroom_ca.bundle.read_bytes() + ca.bundle.read_bytes())
    assert proxied_client(server.url, proxy.url, store, str(both)) == {
        "hub": "pong",
        "transfer": "pong",
    }
    said = proxied_client(server.url, proxy.url, store, str(newsroom_ca.bundle))
    for name in ("hub", "transfer"):
        assert said[name].startswith("refused: ") and "CERTIFICATE_VERIFY_FAILED" in said[name]
    said = proxied_client(server.url, proxy.url, store)  # (the system's store: no Proxy CA)
    for name in ("hub", "transfer"):
        assert said[name].startswith("refused: ") and "CERTIFICATE_VERIFY_FAILED" in said[name]


def _hash_name(pem: Path) -> str:
    """The name OpenSSL looks a certificate up by in a store folder."""
    openssl = shutil.which("openssl")
    assert openssl is not None
    name = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", str(pem)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{name}.0"
