"""A refused certificate needs a person; a TLS handshake cut by the link is worth a retry."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from alu_client.core.http import certificate_problem


@pytest.fixture
def cuts_handshakes() -> Iterator[str]:
    """Accepts TCP, reads the ClientHello, then closes: what a dropped link looks like."""
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
                conn.recv(1024)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"https://127.0.0.1:{srv.getsockname()[1]}/"
    stop.set()
    t.join(5)
    srv.close()


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
