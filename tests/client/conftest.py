"""Fixtures for the client tests: a random payload, a real Range-capable file server, the live
hub served over HTTPS with a self-signed certificate."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from alu_client.core.transfers.base import SessionPool
from alu_hub.files import file_response, strong_etag
from alu_hub.server import RunningHub, free_port, serve_in_thread
from tests.client.test_doctor import self_signed
from tests.client.test_upload import Ctx
from tests.support.livehub import LiveHub
from tests.support.waiting import wait_until

MIB = 1024 * 1024
SIZE = 24 * MIB


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "source.mxf"
    path.write_bytes(os.urandom(SIZE))
    return path


@pytest.fixture
def file_server(payload: Path) -> Iterator[RunningHub]:
    sha = hashlib.sha256(payload.read_bytes()).hexdigest()
    app = FastAPI()

    @app.api_route("/files/source.mxf", methods=["GET", "HEAD"])
    def serve(request: Request) -> Response:
        return file_response(request, payload, etag=strong_etag(sha), media_type="application/mxf")

    server = serve_in_thread(app)
    yield server
    server.stop()


@pytest.fixture
def new_ctx() -> Iterator[Callable[..., Ctx]]:
    """Makes upload contexts for servers other than the hub; closes their sessions after."""
    pools: list[SessionPool] = []

    def make(**tuning: object) -> Ctx:
        # the server checks no credentials; the header goes out as it would to the hub
        return Ctx("not-checked", tuning=dict(tuning), pools=pools)

    yield make
    for pool in pools:
        pool.close()


@pytest.fixture
def tls_hub(live_hub: LiveHub, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The live hub's app served over HTTPS as well; yields (https URL, its certificate)."""
    cert, key = self_signed(tmp_path)
    port = free_port()
    config = uvicorn.Config(
        live_hub.server.app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), what="TLS hub started")
    assert server.started
    yield f"https://127.0.0.1:{port}", cert
    server.should_exit = True
    server.force_exit = True  # (at once: a tunnel's kept-alive connection held it for 10 s)
    thread.join(10)
