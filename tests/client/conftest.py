"""Fixtures for the client tests: a random payload and a real Range-capable file server."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response

from alu_client.core.transfers.base import SessionPool
from alu_hub.files import file_response, strong_etag
from alu_hub.server import RunningHub, serve_in_thread
from tests.client.test_upload import Ctx

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
