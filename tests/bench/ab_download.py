"""Two versions of the download engine, interleaved, on one file served by nginx on 127.0.0.1.

Run once per tree and alternate (the machine's load moves: only runs side by side compare):

    for i in 1 2 3 4 5; do for tree in /path/to/before /path/to/after; do
        ALU_AB_TREE=$tree .venv/bin/python tests/bench/ab_download.py
    done; done

``ALU_AB_TREE`` is the checkout whose ``src`` is imported (default: this one); the file
(``ALU_AB_MIB``, 1024) is made once under ``ALU_AB_WORK`` (default: the system's temporary
folder) and kept for the next runs. Each run prints one line: seconds for segments auto and
segments=1 (sha256 checked), and ``curl -o FILE`` unless ``ALU_AB_NO_CURL`` is set.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
TREE = Path(os.environ.get("ALU_AB_TREE") or HERE)
sys.path[:0] = [str(TREE / "src"), str(HERE)]

from alu_client.core.transfers import download  # noqa: E402
from alu_client.core.transfers.base import (  # noqa: E402
    Control,
    MemoryCheckpoint,
    SessionPool,
    TransferContext,
    Tuning,
)
from tests.bench.helpers import MIB, nginx, random_file, run_timed  # noqa: E402


def main() -> None:
    work = Path(os.environ.get("ALU_AB_WORK") or tempfile.gettempdir()) / "alu-ab-download"
    www = work / "www"
    www.mkdir(parents=True, exist_ok=True)
    size = int(os.environ.get("ALU_AB_MIB", "1024")) * MIB
    big, known = www / "big.bin", www / "big.sha256"
    if big.exists() and known.exists() and big.stat().st_size == size:
        sha = known.read_text()
    else:
        sha = random_file(big, size)
        known.write_text(sha)
    times: dict[str, float] = {}
    with nginx(www, work / "nginx") as ng:
        url = ng.url("big.bin")
        if not os.environ.get("ALU_AB_NO_CURL"):
            out = work / "curl.bin"
            times["curl -o FILE"], _ = run_timed(
                ["curl", "-sS", "--fail", "-o", str(out), url], timeout=300
            )
            out.unlink()
        for name, segments in (("segments auto", None), ("segments=1", 1)):
            dest = work / "ours.bin"
            ctx = TransferContext(
                control=Control(),
                checkpoint=MemoryCheckpoint(),
                sessions=SessionPool(),
                tuning=Tuning(),
            )
            start = time.monotonic()
            result = download.run(
                download.DownloadSpec(url, dest, sha256=sha, segments=segments), ctx
            )
            times[name] = time.monotonic() - start
            ctx.sessions.close()
            assert result.sha256 == sha
            dest.unlink()
    print(TREE, " ".join(f"{k}: {v:.2f} s" for k, v in times.items()), flush=True)


if __name__ == "__main__":
    main()
