"""tus implementations in Node.js that we did not write, for the interoperability tests: the
official tus Node.js server on 127.0.0.1 (``start_tus_node``; the client's uploads to a server
with the extensions creation, creation-with-upload, creation-defer-length, termination and
expiration, and neither checksum nor concatenation), and tus-js-client, the client of Uppy and
most web uploaders (``upload.mjs``, run by tests/hub/test_tus_js_client.py against the hub).

They are ``@tus/server`` with ``@tus/file-store`` (tus-node-server) and ``tus-js-client``, at the
versions pinned with their hashes in ``tests/support/tus-node/package-lock.json``; ``npm ci``
installs them beside it on first use (and again when the lock changes), which takes a few
seconds. They need Node.js 20.19 or newer: where the system's is older (Debian 12 packages
18), a newer one is fetched from the npm registry into ``tests/support/tus-node/.node``; npm
(and so a Node.js of any version) must be there: ``.ci/run`` installs both where missing.

``start_tus_node(directory, maxSize=…, expirationMs=…, relativeLocation=…)`` starts a server on
a free port (the options are ``server.mjs``'s); each upload lands in ``directory`` as a file
named by its id, beside ``<id>.json`` with its length and metadata.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import end_process, listening_port

HERE = Path(__file__).resolve().parent / "tus-node"
MIN_NODE = (20, 19)
#: installed from the npm registry when the system's Node.js is older than MIN_NODE
PRIVATE_NODE = "22.21.1"
START_TIMEOUT_S = 30.0


def _need(what: str) -> None:
    pytest.fail(
        f"{what} for the tus interoperability tests (tests/support/tus_node.py): install "
        "Node.js with npm (.ci/run does so on Debian)",
        pytrace=False,
    )


def _version(node: str) -> tuple[int, int]:
    said = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    found = re.match(r"v(\d+)\.(\d+)", said.stdout.strip())
    return (int(found[1]), int(found[2])) if found else (0, 0)


def _private_node(npm: str) -> str:
    """Node.js ``PRIVATE_NODE`` in ``HERE/.node``, from the npm registry (the ``node`` package
    fetches the build for this machine), for a system whose own is older than ``MIN_NODE``
    (Debian 12 packages 18)."""
    prefix = HERE / ".node"
    node = prefix / "node_modules" / "node" / "bin" / "node"
    if node.exists() and _version(str(node)) >= MIN_NODE:
        return str(node)
    done = subprocess.run(
        [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
            str(prefix),
            f"node@{PRIVATE_NODE}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0 or not node.exists():
        _need(f"a Node.js of {MIN_NODE[0]}.{MIN_NODE[1]} or newer could not be installed "
              f"({done.stderr.strip()[-500:]})")  # fmt: skip
    return str(node)


@functools.cache
def ensure_installed() -> str:
    """The path of a ``node`` new enough, once the pinned packages are in ``node_modules``
    (installed with ``npm ci`` when missing or out of date with the lock)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _need("node and npm are needed")
    assert node is not None and npm is not None
    if sys.platform == "win32":
        pytest.skip("the tus Node.js tests run on Linux and macOS (a flock guards npm ci)")
    import fcntl  # (here: the module is imported on Windows too, which has none)

    with open(HERE / ".install-lock", "w") as guard:  # another test run may be installing
        fcntl.flock(guard, fcntl.LOCK_EX)
        if _version(node) < MIN_NODE:
            node = _private_node(npm)
        lock = HERE / "package-lock.json"
        want = hashlib.sha256(lock.read_bytes() + (HERE / "package.json").read_bytes())
        stamp = HERE / "node_modules" / ".alu-stamp"
        if not stamp.exists() or stamp.read_text() != want.hexdigest():
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                pytest.fail(f"npm ci failed in {HERE}:\n{done.stderr[-3000:]}", pytrace=False)
            stamp.write_text(want.hexdigest())
    return node


@dataclass
class TusNode:
    port: int
    directory: Path
    proc: subprocess.Popen[str]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/files"

    def data(self, url: str) -> Path:
        """The file an upload's bytes land in."""
        return self.directory / url.rstrip("/").rsplit("/", 1)[-1]

    def info(self, url: str) -> dict[str, Any]:
        """What the server keeps about an upload (length, offset, decoded metadata)."""
        parsed: dict[str, Any] = json.loads(self.data(url).with_suffix(".json").read_text())
        return parsed

    def uploads(self) -> list[str]:
        """The ids of the uploads the server has (each with its ``.json``)."""
        return sorted(p.stem for p in self.directory.glob("*.json"))


@contextmanager
def start_tus_node(directory: Path, **options: Any) -> Iterator[TusNode]:
    node = ensure_installed()
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [node, str(HERE / "server.mjs"), str(directory), json.dumps(options)],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield TusNode(listening_port(proc, "the tus Node.js server"), directory, proc)
    finally:
        end_process(proc)
