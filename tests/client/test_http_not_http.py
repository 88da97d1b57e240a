"""An answer that is no HTTP at all (a port for another service) ends a transfer, said as
such; a status line cut by the link ("HTTP/1.1 2", then the connection drops) is a dropped
link, worth another try — ending the transfer for it broke the promise of flaky links."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import requests

from alu_client.core.http import connection_failure, not_http


@pytest.fixture
def answers() -> Iterator[Callable[[bytes], str]]:
    """A TCP server on loopback that sends the given bytes to each connection, then closes."""
    servers: list[tuple[socket.socket, threading.Thread, threading.Event]] = []

    def start(payload: bytes) -> str:
        srv = socket.create_server(("127.0.0.1", 0))
        stop = threading.Event()

        def serve() -> None:
            srv.settimeout(0.2)
            while not stop.is_set():
                try:
                    conn, _ = srv.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.recv(65536)
                    conn.sendall(payload)

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        servers.append((srv, t, stop))
        return f"http://127.0.0.1:{srv.getsockname()[1]}/file.bin"

    yield start
    for srv, t, stop in servers:
        stop.set()
        t.join(5)
        srv.close()


def error_of(url: str) -> requests.RequestException:
    with requests.Session() as s, pytest.raises(requests.RequestException) as e:
        s.get(url, timeout=5)
    return e.value


@pytest.mark.parametrize("cut", [b"HTTP/1.1 2", b"HTTP/1.", b"HTT"])
def test_a_status_line_cut_by_the_link_is_worth_another_try(
    answers: Callable[[bytes], str], cut: bytes
) -> None:
    url = answers(cut)
    error = error_of(url)
    assert not not_http(error), repr(error)
    assert connection_failure(error, None, url) is None  # (the caller's "trying again")


@pytest.mark.parametrize("banner", [b"SSH-2.0-OpenSSH_9.6\r\n", b"220 mail ESMTP ready\r\n"])
def test_another_service_is_not_http_and_final(
    answers: Callable[[bytes], str], banner: bytes
) -> None:
    url = answers(banner)
    error = error_of(url)
    assert not_http(error), repr(error)
    said = connection_failure(error, None, url)
    assert said is not None and said[1], said
    assert "not HTTP" in said[0]
