"""tuspyserver, a tus 1.0 server for FastAPI we did not write, on 127.0.0.1 in a process of
its own (so that a test can kill it, and so that its event loop is not the test's).

tuspyserver 4.4 lists creation, creation-defer-length, creation-with-upload, expiration,
termination and concatenation, but not checksum; it keeps each upload as a file with a JSON
sidecar in its folder, takes a file lock per upload (a second PATCH waits up to 30 s for it,
then gets 503), and answers OPTIONS only at ``/files/`` (``/files`` is redirected there).

    with start_tus_py(tmp_path / "store") as server:
        ... server.endpoint ...   # http://127.0.0.1:<port>/files
        server.data(url), server.info(url), server.uploads()

Run as a script, it serves until killed: ``python tests/support/tus_py.py DIR [OPTIONS_JSON]``
prints ``LISTENING <port>`` once it accepts connections.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()


def _serve(directory: str, options: dict[str, Any]) -> None:
    import uvicorn
    from fastapi import FastAPI
    from tuspyserver import create_tus_router
    from tuspyserver.lock import acquire_upload_lock

    # the server's own setting, which its router does not take: how long a request waits for an
    # upload's file lock before its 503 (30 s unless said)
    lock_timeout = options.pop("lock_timeout", None)
    if lock_timeout is not None:
        *others, _ = acquire_upload_lock.__wrapped__.__defaults__
        acquire_upload_lock.__wrapped__.__defaults__ = (*others, float(lock_timeout))

    app = FastAPI()
    app.include_router(create_tus_router(prefix="files", files_dir=directory, **options))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", timeout_keep_alive=5)
    server = uvicorn.Server(config)
    # tell the parent once the socket listens (uvicorn calls listen on start-up)
    sock.listen(128)
    print(f"LISTENING {sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])


@dataclass
class TusPy:
    port: int
    directory: Path
    proc: subprocess.Popen[str]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/files"

    def uid(self, url: str) -> str:
        return url.rstrip("/").rsplit("/", 1)[-1]

    def data(self, url: str) -> Path:
        """The file an upload's bytes land in."""
        return self.directory / self.uid(url)

    def info(self, url: str) -> dict[str, Any]:
        """The server's sidecar for an upload: size, offset, metadata, concatenation."""
        parsed: dict[str, Any] = json.loads((self.directory / f"{self.uid(url)}.info").read_text())
        return parsed

    def uploads(self) -> list[str]:
        """The ids of the uploads the server has (each with its ``.info``)."""
        return sorted(p.stem for p in self.directory.glob("*.info"))


@contextmanager
def start_tus_py(directory: Path, **options: Any) -> Iterator[TusPy]:
    from tests.support.waiting import end_process, listening_port

    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, str(HERE), str(directory), json.dumps(options)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield TusPy(listening_port(proc, "tuspyserver"), directory, proc)
    finally:
        end_process(proc)


if __name__ == "__main__":
    _serve(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
