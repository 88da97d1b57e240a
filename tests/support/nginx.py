"""nginx on 127.0.0.1 for the tests: ``start_nginx`` with any ``http {}`` content (the Range
download tests serve files with it), and ``reverse_proxy`` in front of several hub processes
(replicas).

nginx runs in the foreground (``daemon off``) with its prefix, configuration, temp folders and
error log in a temp folder and a random free port on 127.0.0.1; when the tests run as root its
workers run as root too (as ``nobody`` they could not use the temp folder). The access log
names the upstream (``$upstream_addr``) that served each request, and a proxy adds it to every
answer as ``X-Alu-Upstream``, so a test can tell which replica served what.

The reverse proxy carries what the hub needs from a proxy in front of it (the README's
settings): round robin over the replicas with kept-alive upstream connections (HTTP/1.1,
``Connection`` cleared), bodies streamed both ways (``proxy_request_buffering off`` for tus
PATCH bodies, ``proxy_buffering off`` for server-sent events), no body size limit (the hub
has its own), room for large tus metadata headers both ways (``large_client_header_buffers``
for a request's, ``proxy_buffer_size`` for a HEAD's answer, which echoes ``Upload-Metadata``), and ``X-Forwarded-For``/``-Proto`` set
(the hub trusts them from loopback by default). For the tests only, a request with
``X-Alu-Replica: <i>`` goes to replica ``i``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from alu_hub.server import free_port
from tests.support.waiting import end_process, wait_until

NGINX = Path("/usr/sbin/nginx")

#: one access log line per request: ``METHOD URI STATUS UPSTREAM REQUEST_TIME CONNECTION``
LOG_FORMAT = "'$request_method $uri $status $upstream_addr $request_time $connection'"


def ensure_nginx(purpose: str = "these tests") -> None:
    """Fail (with how to install it) unless nginx is here; as root, install it first."""
    if NGINX.exists():
        return
    if shutil.which("apt-get") and getattr(os, "geteuid", lambda: -1)() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "nginx-light"],
            check=False,
            capture_output=True,
            timeout=300,
        )
    if not NGINX.exists():
        pytest.fail(
            f"nginx is needed for {purpose}: install it (apt-get install nginx-light)",
            pytrace=False,
        )


@dataclass
class Nginx:
    port: int
    base: Path
    access_log: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []

    def error_log(self) -> str:
        path = self.base / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        end_process(self.proc)


def _user_directive() -> str:
    if getattr(os, "geteuid", lambda: -1)() != 0:
        return ""
    # as root, workers would run as nobody, who cannot use the temp folders
    import grp
    import pwd

    return f"user {pwd.getpwuid(0).pw_name} {grp.getgrgid(0).gr_name};"


def start_nginx(
    base: Path, http_block: str, ready: Callable[[int], bool], default_log: str = "off"
) -> Nginx:
    """nginx with ``http_block`` (placed in ``http {}``, ``{port}`` replaced by its port) and
    its files in ``base``; returns once ``ready(port)`` says it answers. ``default_log``: the
    ``http {}`` level's access log, which a server without one of its own writes to (Debian's
    nginx.conf has ``access_log /var/log/nginx/access.log;``, in the combined format)."""
    ensure_nginx()
    base.mkdir(parents=True, exist_ok=True)
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (base / d).mkdir(exist_ok=True)
    port = free_port()
    conf = base / "nginx.conf"
    conf.write_text(
        f"""{_user_directive()}
daemon off;
master_process on;
worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {default_log};
    client_body_temp_path {base}/body;
    proxy_temp_path {base}/proxy;
    fastcgi_temp_path {base}/fastcgi;
    uwsgi_temp_path {base}/uwsgi;
    scgi_temp_path {base}/scgi;
    log_format alu {LOG_FORMAT};
    keepalive_requests 10000;
{http_block.replace("{port}", str(port))}
}}
"""
    )
    proc = subprocess.Popen(
        [str(NGINX), "-p", str(base), "-c", str(conf), "-e", str(base / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = Nginx(port, base, base / "access.log", proc)

    def answers() -> bool:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"nginx did not start: {err} {server.error_log()}", pytrace=False)
        try:
            return ready(port)
        except requests.ConnectionError:
            return False

    try:
        wait_until(answers, timeout=15, what="nginx to answer")
    except BaseException:
        server.stop()
        raise
    return server


#: A request with this header goes to the replica of that index (tests), any other round robin.
PIN_HEADER = "X-Alu-Replica"


def reverse_proxy_block(base: Path, upstream_ports: Sequence[int]) -> str:
    """The ``http {}`` part of a reverse proxy in front of hub replicas (see the module doc).

    For the tests, a request with ``X-Alu-Replica: <i>`` goes to replica ``i`` (each replica
    is also an upstream of its own); every other request goes round robin over them all."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in upstream_ports)
    singles = "\n".join(
        f"    upstream alu_hub_{i} {{ server 127.0.0.1:{p}; keepalive 8; }}"
        for i, p in enumerate(upstream_ports)
    )
    pins = "\n".join(f"        {i} alu_hub_{i};" for i in range(len(upstream_ports)))
    return f"""    upstream alu_hubs {{
{servers}
        keepalive 32;
    }}
{singles}
    map $http_{PIN_HEADER.lower().replace("-", "_")} $alu_upstream {{
        default alu_hubs;
{pins}
    }}
    server {{
        listen 127.0.0.1:{{port}};
        access_log {base}/access.log alu;
        client_max_body_size 0;
        large_client_header_buffers 4 256k;
        location / {{
            proxy_buffer_size 256k;
            proxy_buffers 4 256k;
            proxy_busy_buffers_size 256k;
            proxy_pass http://$alu_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            add_header X-Alu-Upstream $upstream_addr always;
        }}
    }}"""


@contextmanager
def reverse_proxy(
    base: Path, upstream_ports: Sequence[int], ready_path: str = "/openapi.json"
) -> Iterator[Nginx]:
    """nginx on a free loopback port, round robin over ``127.0.0.1:<port>`` for each port."""

    def ready(port: int) -> bool:
        return requests.get(f"http://127.0.0.1:{port}{ready_path}", timeout=5).ok

    server = start_nginx(base, reverse_proxy_block(base, upstream_ports), ready)
    try:
        yield server
    finally:
        server.stop()
