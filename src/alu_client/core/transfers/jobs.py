"""The jobs the queue runs on its worker threads: a transfer row in, a result dict out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..store.transfers import Transfer
from .base import PermanentError, TransferContext

Job = Callable[[Transfer, TransferContext], dict[str, Any]]


def download_job(t: Transfer, ctx: TransferContext) -> dict[str, Any]:
    from . import download

    spec = download.DownloadSpec(
        url=t.source,
        dest=Path(t.destination),
        sha256=t.sha256,
        size=t.size,
        segments=t.options.get("segments"),
    )
    r = download.run(spec, ctx)
    return {
        "path": str(r.path),
        "size": r.size,
        "sha256": r.sha256,
        "bytes_fetched": r.bytes_fetched,
        "restarted": r.restarted,
    }


def upload_job(t: Transfer, ctx: TransferContext) -> dict[str, Any]:
    from . import upload

    spec = upload.UploadSpec(
        path=Path(t.source),
        endpoint=t.destination,
        metadata=dict(t.options.get("metadata", {})),
        chunk_size=t.options.get("chunk_size"),
        parallel=t.options.get("parallel"),
    )
    r = upload.run(spec, ctx)
    state, item_id, error = r.state, r.item_id, r.error
    if state == "processing" and t.options.get("publish_wait"):
        # The ALU hub verifies, probes and publishes after the last byte; wait a while for its
        # word so the user hears "published" or why not (the item also arrives by the feed).
        # (Asked for by the hub verbs and the app; `alu tus-put` to any server does not wait.)
        wait = float(t.options["publish_wait"])
        state, item_id, error = upload.poll_outcome(r.url, ctx, wait)
        state = state or "processing"
    if state == "failed":
        raise PermanentError(f"The hub received {spec.path.name} but could not publish it: {error}")
    return {
        "url": r.url,
        "size": r.size,
        "bytes_sent": r.bytes_sent,
        "restarted": r.restarted,
        "state": state,
        "item_id": item_id,
        "error": error,
    }
