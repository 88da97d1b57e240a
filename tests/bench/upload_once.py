"""One 1 GiB upload of the loopback benchmark (target 2), in a process of its own.

    python tests/bench/upload_once.py CLIENT ENDPOINT TOKEN FILE SHA256

``CLIENT``: ``tuspy`` (tuspy 1.1.0 ``Uploader``, 8 MiB chunks), or ``ours:PARALLEL:CHECKSUMS``
(``upload.run``; PARALLEL ``auto`` or a number; CHECKSUMS the algorithms offered to the
server, comma-separated, ``default`` for the engine's own list, empty for none). Prints one JSON
line: the seconds from the upload's start to its end in this process (the interpreter's start
and imports not counted, for either client) and the upload's URL.

Each upload runs in a fresh process, as on a workstation: run in the benchmark's own process,
the run after tuspy's (which allocates and frees 128 chunks of 8 MiB) was slower than the same
code run next, in all passes (2.6-2.9 s against 1.3-1.7 s, 2026-12-07).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

MIB = 1024 * 1024


def tuspy(endpoint: str, token: str, path: Path, sha: str) -> tuple[float, str]:
    from tusclient.client import TusClient

    client = TusClient(endpoint, headers={"Authorization": f"Bearer {token}"})
    t0 = time.perf_counter()
    uploader = client.uploader(
        file_path=str(path), chunk_size=8 * MIB, metadata={"filename": path.name, "sha256": sha}
    )
    uploader.upload()
    return time.perf_counter() - t0, str(uploader.url)


def ours(
    parallel: str, checksums: str, endpoint: str, token: str, path: Path, sha: str
) -> tuple[float, str]:
    from alu_client.core.transfers import upload
    from alu_client.core.transfers.base import (
        Control,
        MemoryCheckpoint,
        SessionPool,
        TransferContext,
        Tuning,
    )

    if checksums != "default":
        # (the package's tuple: what the job offers the server; as the benchmark patched it)
        upload.CHECKSUM_PREFERENCE = tuple(a for a in checksums.split(",") if a)  # type: ignore[assignment]
    ctx = TransferContext(
        control=Control(), checkpoint=MemoryCheckpoint(), sessions=SessionPool(), tuning=Tuning()
    )
    ctx.headers["Authorization"] = f"Bearer {token}"
    meta = {"filename": path.name, "sha256": sha}
    spec = upload.UploadSpec(
        path, endpoint, meta, parallel=None if parallel == "auto" else int(parallel)
    )
    try:
        t0 = time.perf_counter()
        result = upload.run(spec, ctx)
        return time.perf_counter() - t0, str(result.url)
    finally:
        ctx.sessions.close()


def main(argv: list[str]) -> None:
    client, endpoint, token, file, sha = argv
    path = Path(file)
    if client == "tuspy":
        took, url = tuspy(endpoint, token, path, sha)
    else:
        _, parallel, checksums = client.split(":", 2)
        took, url = ours(parallel, checksums, endpoint, token, path, sha)
    print(json.dumps({"seconds": took, "url": url}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
