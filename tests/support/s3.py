"""A real S3-compatible server on 127.0.0.1 for the hub's S3 storage: moto's S3 server in a
thread, with a recording layer in front of moto's WSGI app.

The layer records every request that reaches the server (method, path, query, headers, status,
bytes of body sent back), so a test can show what the hub's clients sent there (never the hub's
token) and how many rendition bytes the store served. It also refuses presigned URLs past their
lifetime (``X-Amz-Date`` + ``X-Amz-Expires`` before now: 403 ``AccessDenied``, "Request has
expired", as S3 answers), because moto 5 does not check a presigned URL's expiry at all; that
check is the only thing the layer adds to moto's answers.

    with S3Server() as s3:
        s3.client().create_bucket(Bucket="alu-test")
        ... s3.endpoint ...   # http://127.0.0.1:<port>
        s3.requests_for("/alu-test/hub/items/")

Moto keeps its buckets in process memory, shared by every server in the process: give each
test its own bucket name (``unique_bucket``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import boto3
from botocore.config import Config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

#: Credentials for the tests (moto takes any); set in the environment by ``aws_env``.
ACCESS_KEY = "AKIAALUTESTKEY000000"
SECRET_KEY = "alu-test-secret"

_buckets = itertools.count(1)


def unique_bucket() -> str:
    return f"alu-test-{os.getpid()}-{next(_buckets)}"


def aws_env() -> dict[str, str]:
    """The environment boto3 needs to talk to the test server and nothing else: credentials
    from variables (so the chain never asks an instance-metadata address), no config files."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@dataclass
class Seen:
    """One request that reached the S3 server, and what it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: dict[str, str]
    status: int = 0
    sent: int = 0  # bytes of response body

    @property
    def presigned(self) -> bool:
        return "X-Amz-Signature" in self.query


_EXPIRED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>Request has expired</Message><X-Amz-Expires>{expires}</X-Amz-Expires>"
    "<Expires>{at}</Expires><ServerTime>{now}</ServerTime></Error>"
)


class _Recorder:
    """WSGI middleware in front of moto's app (see the module docstring)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        headers = {
            k[5:].replace("_", "-").lower(): str(v)
            for k, v in environ.items()
            if k.startswith("HTTP_")
        }
        seen = Seen(
            method=environ["REQUEST_METHOD"],
            path=environ.get("PATH_INFO", ""),
            query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
            raw_query=environ.get("QUERY_STRING", ""),
            headers=headers,
        )
        with self.lock:
            self.seen.append(seen)
        expired = _expired(seen.query)
        if expired is not None:
            seen.status = 403
            body = expired.encode()
            seen.sent = len(body)
            start_response(
                "403 Forbidden",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
            )
            return [body]

        def recording_start(status: str, hdrs: list[tuple[str, str]], *exc: Any) -> Any:
            seen.status = int(status.split()[0])
            return start_response(status, hdrs, *exc)

        return self._counted(self.app(environ, recording_start), seen)

    @staticmethod
    def _counted(body: Iterable[bytes], seen: Seen) -> Iterator[bytes]:
        try:
            for chunk in body:
                seen.sent += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()


def _expired(query: dict[str, list[str]]) -> str | None:
    """S3's answer to a presigned URL past its lifetime, or None."""
    date, expires = query.get("X-Amz-Date"), query.get("X-Amz-Expires")
    if not date or not expires:
        return None
    signed = dt.datetime.strptime(date[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    at = signed + dt.timedelta(seconds=int(expires[0]))
    now = dt.datetime.now(dt.UTC)
    if now <= at:
        return None
    return _EXPIRED.format(
        expires=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        at=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        now=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


class _QuietHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class S3Server(ThreadedMotoServer):
    """moto's S3 server on 127.0.0.1 (a free port) behind the recording layer."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.recorder = _Recorder(DomainDispatcherApplication(create_backend_app))

    def _server_entry(self) -> None:
        self._server = make_server(
            self._ip_address, self._port, self.recorder, True, request_handler=_QuietHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()

    def __enter__(self) -> S3Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def seen(self) -> list[Seen]:
        with self.recorder.lock:
            return list(self.recorder.seen)

    def url_of(self, seen: Seen, base: str) -> str:
        """The URL ``seen`` was made with, at ``base`` (the address it was sent to)."""
        return f"{base}{seen.path}?{seen.raw_query}"

    def requests_for(self, path_prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(path_prefix)]

    def client(self) -> Any:
        """A boto3 client for checking what the store holds (path-style, like the hub's)."""
        return boto3.session.Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY
        ).client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
