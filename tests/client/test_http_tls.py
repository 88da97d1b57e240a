"""A refused certificate needs a person; a TLS handshake cut by the link is worth a retry.
An answer that is no HTTP at all (a port for another service) ends a transfer, said as such;
a status line cut by the link ("HTTP/1.1 2", then the connection drops) is a dropped link,
worth another try — ending the transfer for it broke the promise of flaky links."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import requests

from alu_client.core.http import certificate_problem, connection_failure, not_http


@pytest.fixture
def answers() -> Iterator[Callable[[bytes], int]]:
    """TCP servers on loopback, each reading what comes, sending the given bytes to each
    connection, then closing; ``answers(payload)`` starts one and gives its port."""
    servers: list[tuple[socket.socket, threading.Thread, threading.Event]] = []

    def start(payload: bytes) -> int:
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
        return int(srv.getsockname()[1])

    yield start
    for srv, t, stop in servers:
        stop.set()
        t.join(5)
        srv.close()


@pytest.fixture
def cuts_handshakes(answers: Callable[[bytes], int]) -> str:
    """Accepts TCP, reads the ClientHello, then closes: what a dropped link looks like."""
    return f"https://127.0.0.1:{answers(b'')}/"


def test_a_cut_handshake_is_not_a_certificate_problem(cuts_handshakes: str) -> None:
    with pytest.raises(requests.exceptions.ConnectionError) as e:
        requests.get(cuts_handshakes, timeout=5)
    assert not certificate_problem(e.value)


def test_a_verification_failure_is_found_in_the_causes() -> None:
    import ssl

    inner = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed")
    outer = requests.exceptions.SSLError(inner)
    assert certificate_problem(outer)
    assert not certificate_problem(requests.exceptions.SSLError("EOF occurred in violation"))


def error_of(url: str) -> requests.RequestException:
    with requests.Session() as s, pytest.raises(requests.RequestException) as e:
        s.get(url, timeout=5)
    return e.value


@pytest.mark.parametrize("cut", [b"HTTP/1.1 2", b"HTTP/1.", b"HTT"])
def test_a_status_line_cut_by_the_link_is_worth_another_try(
    answers: Callable[[bytes], int], cut: bytes
) -> None:
    url = f"http://127.0.0.1:{answers(cut)}/file.bin"
    error = error_of(url)
    assert not not_http(error), repr(error)
    assert connection_failure(error, None, url) is None  # (the caller's "trying again")


@pytest.mark.parametrize("banner", [b"SSH-2.0-OpenSSH_9.6\r\n", b"220 mail ESMTP ready\r\n"])
def test_another_service_is_not_http_and_final(
    answers: Callable[[bytes], int], banner: bytes
) -> None:
    url = f"http://127.0.0.1:{answers(banner)}/file.bin"
    error = error_of(url)
    assert not_http(error), repr(error)
    said = connection_failure(error, None, url)
    assert said is not None and said[1], said
    assert "not HTTP" in said[0]
