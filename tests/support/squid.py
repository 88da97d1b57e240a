"""Squid on 127.0.0.1 for the tests: the forward proxy of a corporate or station network, which
a member's workstation must go through to reach the hub.

``start_squid()`` runs squid in the foreground (``-N``) with its configuration, logs and pid
file in a temp folder of its own and a random free port on 127.0.0.1 (names it would resolve
go to 127.0.0.1 too: the tests use addresses only), no cache (a proxy that stores
nothing: every request reaches the hub), and an access log of one line per request:
``METHOD URL STATUS BYTES_TO_CLIENT BYTES_FROM_CLIENT`` (a CONNECT's URL is ``host:port``).
It forwards what clients on 127.0.0.1 ask (plain HTTP requests and CONNECT tunnels to any
port), connecting from 127.0.0.2 (so that a server can tell what came through it). With
``policy="deny"`` it refuses every request (403), as a proxy that has not been told about this
workstation does; with ``policy="password"`` it asks for a user name and password (407) and takes any; with
``policy="desk-password"`` only ``DESK_LOGIN`` (an htpasswd file made with openssl); with
``policy="no-patch"`` it refuses PATCH and DELETE (403), as some corporate proxies do, and
passes the rest (``policy="no-delete"``: DELETE only). As root, squid drops to its ``proxy`` user, who is
given the temp folder (directly under the system's temp folder, where that user can reach it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from alu_hub.server import free_port
from tests.support.waiting import end_process, wait_until

SQUID = Path("/usr/sbin/squid")


def ensure_squid() -> None:
    """Fail (with how to install it) unless squid is here; as root, install it first."""
    if SQUID.exists():
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "squid"],
            check=False,
            capture_output=True,
            timeout=600,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    if not SQUID.exists():
        pytest.fail(
            "squid is needed for the proxy tests: install it (apt-get install squid)",
            pytrace=False,
        )


@dataclass
class Squid:
    port: int
    base: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_lines(self) -> list[str]:
        path = self.base / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, URL, status) of each request squid has logged so far."""
        seen = []
        for line in self.log_lines():
            method, url, status, *_ = line.split()
            if method != "-":  # a connection that sent no request (the start-up probe's)
                seen.append((method, url, int(status)))
        return seen


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


#: the one login the "desk-password" policy lets through
DESK_LOGIN = ("desk", "proxy-s3cret")


@contextmanager
def start_squid(
    *,
    policy: Literal[
        "allow", "deny", "password", "desk-password", "no-patch", "no-delete"
    ] = "allow",
) -> Iterator[Squid]:
    ensure_squid()
    base = Path(tempfile.mkdtemp(prefix="alu-test-squid-"))
    port = free_port()
    as_root = os.geteuid() == 0
    rules = {
        "allow": "http_access allow localhost",
        "no-patch": "acl unusual method PATCH DELETE\n"
        "http_access deny unusual\n"
        "http_access allow localhost",
        "no-delete": "acl unusual method DELETE\n"
        "http_access deny unusual\n"
        "http_access allow localhost",
        "deny": "http_access deny localhost",
        # any user name and password would do (basic_fake_auth); the client has none to give
        "password": "auth_param basic program /usr/lib/squid/basic_fake_auth\n"
        "acl station proxy_auth REQUIRED\n"
        "http_access allow localhost station",
        # only the user name and password DESK_LOGIN (checked against an htpasswd file)
        "desk-password": f"auth_param basic program /usr/lib/squid/basic_ncsa_auth {base}/passwd\n"
        "acl station proxy_auth REQUIRED\n"
        "http_access allow localhost station",
    }
    if policy == "desk-password":
        user, password = DESK_LOGIN
        hashed = subprocess.run(
            ["openssl", "passwd", "-apr1", password],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        (base / "passwd").write_text(f"{user}:{hashed}\n")
    (base / "squid.conf").write_text(
        f"""# tests/support/squid.py
http_port 127.0.0.1:{port}
pid_filename {base}/squid.pid
cache_log {base}/cache.log
logformat alu %rm %ru %>Hs %<st %>st %ts.%03tu %tr
access_log stdio:{base}/access.log logformat=alu
cache deny all
cache_mem 8 MB
coredump_dir {base}
netdb_filename none
dns_nameservers 127.0.0.1
tcp_outgoing_address 127.0.0.2
pinger_enable off
shutdown_lifetime 0 seconds
{"cache_effective_user proxy" if as_root else ""}
{rules[policy]}
http_access deny all
"""
    )
    if as_root:
        shutil.chown(base, "proxy", "proxy")
    proc = subprocess.Popen(
        [str(SQUID), "-N", "-f", str(base / "squid.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: _answers(port) or proc.poll() is not None, 60, what="squid to start")
        if proc.poll() is not None:
            log = (base / "cache.log").read_text() if (base / "cache.log").exists() else ""
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            pytest.fail(f"squid did not start:\n{err}\n{log[-3000:]}", pytrace=False)
        yield Squid(port, base, proc)
    finally:
        end_process(proc, 15)
        shutil.rmtree(base, ignore_errors=True)
