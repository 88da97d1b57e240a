"""The client side of the memory benchmark, in a process of its own so that its peak RSS is the
engine's alone: one ``TransferQueue`` (max_downloads=2, max_uploads=2) running the downloads and
uploads it is given at the same time. Prints one JSON line: memory, concurrency, outcomes.

    python -m tests.bench.rss_driver '{"home": DIR, "token": T, "timeout": S,
        "downloads": [[url, dest, sha256, size], ...], "uploads": [[path, endpoint, sha256], ...]}'
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.bench.helpers import vm_kib


def main() -> int:
    args = json.loads(sys.argv[1])
    from alu_client.core.store import Store
    from alu_client.core.transfers.queue import TransferQueue

    auth = {"Authorization": f"Bearer {args['token']}"}
    store = Store(Path(args["home"]) / "library.sqlite3")
    queue = TransferQueue(
        store,
        max_downloads=2,
        max_uploads=2,
        headers_for=lambda t: dict(auth) if t.direction == "upload" else {},
    )
    results: dict[int, dict[str, Any]] = {}
    queue.on_result = lambda tid, result: results.__setitem__(tid, dict(result))
    idle_kib = vm_kib("VmRSS")
    samples = {"rss_max_kib": idle_kib, "active_max": 0, "n": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            samples["rss_max_kib"] = max(samples["rss_max_kib"], vm_kib("VmRSS"))
            samples["n"] += 1
            if samples["n"] % 5 == 0:  # the snapshot reads the store: not too often
                active = sum(1 for p in queue.snapshot() if p.state == "active")
                samples["active_max"] = max(samples["active_max"], active)

    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    outcome: list[dict[str, Any]] = []
    try:
        queue.start()
        ids = [
            queue.add_download(url, Path(dest), sha256=sha, size=size)
            for url, dest, sha, size in args["downloads"]
        ]
        ids += [
            queue.add_upload(Path(path), endpoint, {"filename": Path(path).name, "sha256": sha})
            for path, endpoint, sha in args["uploads"]
        ]
        deadline = time.monotonic() + float(args["timeout"])
        for tid in ids:
            t = queue.wait_for(tid, timeout=max(1.0, deadline - time.monotonic()))
            # the result (the upload's URL) is handed over just after the row says done
            handed = time.monotonic() + 5
            while t.state == "done" and tid not in results and time.monotonic() < handed:
                time.sleep(0.02)
            outcome.append(
                {
                    "id": tid,
                    "direction": t.direction,
                    "state": t.state,
                    "error": t.last_error,
                    "url": results.get(tid, {}).get("url", ""),
                }
            )
        elapsed = time.perf_counter() - t0
    finally:
        stop.set()
        sampler.join(5)
        queue.stop()
        store.close()
    print(
        json.dumps(
            {
                "idle_rss_kib": idle_kib,
                "rss_max_kib": samples["rss_max_kib"],
                "hwm_kib": vm_kib("VmHWM"),
                "active_max": samples["active_max"],
                "elapsed": elapsed,
                "transfers": outcome,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
