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
