"""The crash soak's engine: the real client engine on a data folder, run until the queue is empty.

Run by tests/reliability/test_crash_soak.py as a subprocess (the same interpreter)::

    ALU_CLIENT_HOME=DIR ALU_SECRETS=insecure-file python -m tests.support.soak_engine

It opens the data folder the test signed in and filled with transfers, starts the engine
through ``Services.start_engine`` (the real persistent ``TransferQueue`` with the real download
and upload jobs and the library and history outcome hooks; feed sync, rules, hot folders and the
media worker off), waits until no transfer is open any more, sends the history outbox to the hub
(``HistorySync.push``) and exits 0. It prints ``soak-engine: started`` once the engine runs.

``ALU_SOAK_WRITES=FILE`` (with ``ALU_SOAK_RUN=<n>``) appends a line ``<run> <dev> <inode>
<offset> <length>`` to FILE for every block a download writes into its part file (the inode
survives the rename into place), so the test can tell which bytes a later run fetched again.
The lines are appended with ``O_APPEND`` writes, which the kernel keeps through a SIGKILL.

``ALU_SOAK_KILL=<point>:<n>`` makes the process SIGKILL itself the n-th time it reaches one of
the dangerous moments below (each a thin wrapper around the real code, installed before the
engine starts); it writes ``soak-engine: SIGKILL at <point> #<n>`` to stderr first.

==========================  =====================================================================
download-write              a block was written into the part file (mid-chunk: written, not yet
                            in the checkpoint)
download-checkpoint         the part file is fsynced, the checkpoint that counts it not yet saved
download-verified           size and sha256 checked, the part file not yet renamed
download-renamed            the part file renamed to its final name; neither the checkpoint nor
                            the transfer's end committed
upload-block                a block of a PATCH body handed to the connection (mid-chunk)
upload-created              the hub created an upload (POST answered), its URL not yet stored
upload-acked                the hub acknowledged a PATCH (new offset), nothing stored (the
                            offset lives on the hub)
upload-complete-acked       the same, for the PATCH that gave the hub the last byte of a
                            single-stream upload (the hub starts publishing it)
upload-joined               the hub answered the final POST of a parallel upload (tus
                            concatenation), before the checkpoint holds its URL: the early
                            one (concatenation-unfinished, parts still being sent) or the
                            one after the last byte
transfer-commit             inside the transaction that ends a transfer as done, after the
                            library and history hooks ran, before the commit
transfer-committed          the transfer's end committed, before the worker's own end
history-acked               the hub accepted a history batch, before the outbox marks it sent
==========================  =====================================================================
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

from alu_client.core import durable
from alu_client.core import hub as hub_module
from alu_client.core.credentials import open_secrets
from alu_client.core.paths import default_paths
from alu_client.core.services import Services
from alu_client.core.store.transfers import OPEN_STATES, TransferStore
from alu_client.core.transfers import download as download_package
from alu_client.core.transfers.base import Tuning
from alu_client.core.transfers.download import verify as download_verify
from alu_client.core.transfers.retry import Backoff, RetryPolicy
from alu_client.core.transfers.upload import services as upload_services
from alu_client.core.transfers.upload import storage as upload_storage
from alu_client.core.transfers.upload import uploader as upload_uploader

MIB = 1024 * 1024

#: every kill point, in the order of a transfer's life (see the module doc)
POINTS = (
    "download-write",
    "download-checkpoint",
    "download-verified",
    "download-renamed",
    "upload-block",
    "upload-created",
    "upload-acked",
    "upload-complete-acked",
    "upload-joined",
    "transfer-commit",
    "transfer-committed",
    "history-acked",
)

#: small files, small pieces: a soak of tens of MiB goes through every code path that a real
#: queue of GiB files does (segments, stolen ranges, checkpoints every MiB)
TUNING = Tuning(
    connect_timeout=10.0,
    stall_timeout=20.0,
    segment_threshold=8 * MIB,
    max_segments=4,
    segment_piece=4 * MIB,
    min_split=1 * MIB,
    endgame=1 * MIB,
    checkpoint_every=1 * MIB,
    max_parallel_uploads=3,
)
MAX_DOWNLOADS = 2
MAX_UPLOADS = 2
ENV_KILL = "ALU_SOAK_KILL"
ENV_WRITES = "ALU_SOAK_WRITES"
ENV_RUN = "ALU_SOAK_RUN"


class Trap:
    """SIGKILL this process the ``nth`` time ``point`` is reached (thread-safe)."""

    def __init__(self, point: str, nth: int) -> None:
        if point not in POINTS:
            raise SystemExit(f"soak-engine: unknown kill point {point!r}")
        self.point = point
        self.nth = nth
        self.count = 0
        self.lock = threading.Lock()

    def reached(self, point: str) -> None:
        if point != self.point:
            return
        with self.lock:
            self.count += 1
            if self.count != self.nth:
                return
        sys.stderr.write(f"soak-engine: SIGKILL at {point} #{self.nth}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def parse_kill(value: str) -> Trap | None:
    if not value:
        return None
    point, _, nth = value.partition(":")
    return Trap(point, int(nth or "1"))


def log_writes(path: str, run: int) -> None:
    """Record every block a download writes (see the module doc)."""
    log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    write_at = download_package._write_at

    def logged_write_at(fd: int, data: bytes, pos: int, io_lock: threading.Lock) -> None:
        write_at(fd, data, pos, io_lock)
        st = os.fstat(fd)
        os.write(log_fd, f"{run} {st.st_dev} {st.st_ino} {pos} {len(data)}\n".encode())

    download_package._write_at = logged_write_at


def install(trap: Trap) -> None:
    """Wrap the real code at each kill point (only the armed point can fire)."""
    reached = trap.reached

    # --- downloads ------------------------------------------------------------------------
    # download.run reads ``_write_at`` from the package at every run (the disk-full test
    # patches it the same way).
    write_at = download_package._write_at

    def soak_write_at(fd: int, data: bytes, pos: int, io_lock: threading.Lock) -> None:
        write_at(fd, data, pos, io_lock)
        reached("download-write")

    download_package._write_at = soak_write_at

    save_checkpoint = TransferStore.save_checkpoint

    def soak_save_checkpoint(self: TransferStore, tid: int, data: dict[str, Any]) -> None:
        if data.get("segments"):  # a download's progress (an upload's holds its URLs)
            reached("download-checkpoint")
        save_checkpoint(self, tid, data)

    TransferStore.save_checkpoint = soak_save_checkpoint  # type: ignore[method-assign]

    hash_rest = download_verify._VerifyJob._hash_rest

    def soak_hash_rest(self: download_verify._VerifyJob, size: int) -> str:
        digest = hash_rest(self, size)
        reached("download-verified")
        return digest

    download_verify._VerifyJob._hash_rest = soak_hash_rest  # type: ignore[method-assign]

    fsync_dir = durable.fsync_dir  # verify.py's own name for it is patched

    def soak_fsync_dir(path: Path) -> None:  # called right after the rename into place
        fsync_dir(path)
        reached("download-renamed")

    download_verify.fsync_dir = soak_fsync_dir

    # --- uploads --------------------------------------------------------------------------
    account = upload_services._JobServices.account

    def soak_account(self: upload_services._JobServices, n: int) -> None:
        account(self, n)
        reached("upload-block")

    upload_services._JobServices.account = soak_account  # type: ignore[method-assign]

    set_item = upload_storage.StoreUrlStorage.set_item

    def soak_set_item(self: upload_storage.StoreUrlStorage, key: str, value: str) -> None:
        reached("upload-created")
        set_item(self, key, value)

    upload_storage.StoreUrlStorage.set_item = soak_set_item  # type: ignore[method-assign]

    upload_chunk = upload_uploader._TusUpload.upload_chunk

    def soak_upload_chunk(self: upload_uploader._TusUpload) -> None:
        upload_chunk(self)
        reached("upload-acked")
        if self.offset >= self.stop_at and not self.partial:
            reached("upload-complete-acked")

    upload_uploader._TusUpload.upload_chunk = soak_upload_chunk  # type: ignore[method-assign]

    mark_complete = upload_storage.StoreUrlStorage.mark_complete

    def soak_mark_complete(self: upload_storage.StoreUrlStorage, url: str) -> None:
        if self.finalizing():  # the final POST of a parallel upload was answered
            reached("upload-joined")
        mark_complete(self, url)

    upload_storage.StoreUrlStorage.mark_complete = soak_mark_complete  # type: ignore[method-assign]

    set_early_final = upload_storage.StoreUrlStorage.set_early_final

    def soak_set_early_final(self: upload_storage.StoreUrlStorage, url: str | None) -> None:
        if url:  # the early final POST was answered (or a part named it): not stored yet
            reached("upload-joined")
        set_early_final(self, url)

    upload_storage.StoreUrlStorage.set_early_final = soak_set_early_final  # type: ignore[method-assign]

    # --- the store and the history --------------------------------------------------------
    ended = TransferStore._ended

    def soak_ended(self: TransferStore, c: sqlite3.Connection, tid: int) -> None:
        ended(self, c, tid)  # the outcome hooks: library, history outbox
        row = c.execute("SELECT state FROM transfers WHERE id = ?", (tid,)).fetchone()
        if row is not None and row[0] == "done":
            reached("transfer-commit")

    TransferStore._ended = soak_ended  # type: ignore[method-assign]

    finish = TransferStore.finish

    def soak_finish(self: TransferStore, tid: int, state: str, **kw: Any) -> None:
        finish(self, tid, state, **kw)
        if state == "done":
            reached("transfer-committed")

    TransferStore.finish = soak_finish  # type: ignore[method-assign]

    post_history = hub_module.HubClient.post_history

    def soak_post_history(self: hub_module.HubClient, *args: Any, **kw: Any) -> tuple[int, int]:
        answer = post_history(self, *args, **kw)
        reached("history-acked")
        return answer

    hub_module.HubClient.post_history = soak_post_history  # type: ignore[method-assign]


def _open_count(services: Services) -> int:
    row = services.store.query_one(
        f"SELECT COUNT(*) FROM transfers WHERE state IN ({','.join('?' * len(OPEN_STATES))})",
        OPEN_STATES,
    )
    return int(row[0]) if row else 0


def run() -> int:
    writes = os.environ.get(ENV_WRITES)
    if writes:
        log_writes(writes, int(os.environ.get(ENV_RUN) or 0))
    trap = parse_kill(os.environ.get(ENV_KILL, ""))
    if trap is not None:
        install(trap)
    paths = default_paths().ensure()
    logging.basicConfig(
        filename=str(paths.log_dir / "soak-engine.log"),
        level=logging.INFO,
        format=f"%(asctime)s {os.getpid()} %(threadName)s %(name)s %(levelname)s %(message)s",
    )
    services = Services(paths, open_secrets(paths))
    try:
        queue = services.start_engine(
            sync=False,
            rules=False,
            hot_folders=False,
            media=False,
            tuning=TUNING,
            policy=RetryPolicy(Backoff(base=0.2, cap=2.0)),
            max_downloads=MAX_DOWNLOADS,
            max_uploads=MAX_UPLOADS,
            progress_interval=0.1,
        )
        print("soak-engine: started", flush=True)
        idle = threading.Event()  # never set: a pause between two looks at the store
        while _open_count(services):
            idle.wait(0.1)
        services.history().push()  # the outbox, sent like the sync service does
        states = {
            t.id: {"state": t.state, "error": t.last_error, "attempts": t.attempts}
            for t in queue.transfers.all()
        }
        print("soak-engine: done " + json.dumps(states), flush=True)
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(run())
