"""The jobs the queue runs on its worker threads: a transfer row in, a result dict out."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..store.transfers import Transfer
from .base import PermanentError, TransferContext

if TYPE_CHECKING:
    from . import upload

Job = Callable[[Transfer, TransferContext], dict[str, Any]]
#: what is left to do for a transfer canceled while not running (see ``TransferQueue``);
#: True when it is done (the server said it dropped what it held)
Cleanup = Callable[[Transfer, TransferContext], bool]

_HASH_BLOCK = 1024 * 1024


def download_job(t: Transfer, ctx: TransferContext) -> dict[str, Any]:
    from . import download

    found = _renamed_before(t, ctx)
    if found is None:
        found = _same_item_there(t, ctx)
    if found is not None:
        return found
    spec = download.DownloadSpec(
        url=t.source,
        dest=Path(t.destination),
        sha256=t.sha256,
        size=_expected_size(t),
        segments=t.options.get("segments"),
    )
    r = download.run(spec, ctx)
    return {
        "path": str(r.path),
        "size": r.size,
        "sha256": r.sha256,
        "bytes_fetched": r.bytes_fetched,
        "restarted": r.restarted,
        "size_checked": r.size_checked,
        "mtime_ns": r.mtime_ns,
    }


def _expected_size(t: Transfer) -> int | None:
    """The size ``t``'s caller gave (an item's), not the one an earlier attempt learned from
    the server: that one held a file replaced there by another of a new size (a new ETag,
    answered in full) to the old size for ever. Transfers queued before the two were told
    apart: a hub item's size was given, a URL's was learned."""
    if "expected_size" in t.options:
        value = t.options["expected_size"]
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return t.size if t.item_id else None


def _renamed_before(t: Transfer, ctx: TransferContext) -> dict[str, Any] | None:
    """The result of an earlier run of ``t`` that died after renaming its verified file into
    place but before the queue committed the transfer's end (a crash, kill -9, power cut).

    The download job never overwrites a file, so without this the next run would refuse the
    transfer's own file as a stranger's ("already there") and the transfer would fail with its
    file on disk, missing from the library and the history. The file is taken as ours only
    when this transfer ran before, no part file is left, and the file has the expected size
    and either the expected sha256 (read again here: the bytes are checked, not assumed) or,
    without one, the device, inode, size and modification time the checkpoint recorded of the
    part file just before its rename (a file someone else put there is another inode)."""
    dest = Path(t.destination)
    if t.attempts < 2 or not dest.is_file():
        return None
    checkpoint = ctx.checkpoint.load()
    # a part file means the download is under way; but a coded download (see download/
    # decode.py) renames its decoded copy into place before it removes its part file
    decoded = "decoding" in checkpoint
    if dest.with_name(dest.name + ".part").exists() and not decoded:
        return None
    st = dest.stat()
    size = st.st_size
    if t.size is not None and size != t.size:
        return None
    size_checked = True
    from .download.verify import PLACED

    # the file this run renamed there, known by its device, inode and time (in the checkpoint
    # from the rename on): another workstation's download of the same bytes to the same name,
    # on a shared folder, is another file (and the library would delete it as ours)
    ours = _placed_file(dest, checkpoint)
    if PLACED in checkpoint and ours is None:
        return None
    if t.sha256:
        digest = _sha256_of(dest, ctx)
        if digest != t.sha256.strip().lower():
            return None
    else:
        if ours is None:
            return None
        digest = str(ours.get("sha256") or "")
        size_checked = ours.get("size_checked") is not False
    restarted = checkpoint.get("restarted") is True
    if decoded:
        from . import download

        download.discard_part(dest, checkpoint)
    ctx.checkpoint.save({})
    ctx.progress(size, size)
    ctx.log.info("download %d: its verified file was already in place (an earlier run)", t.id)
    return {
        "path": str(dest),
        "size": size,
        "sha256": digest,
        "bytes_fetched": 0,
        "restarted": restarted,
        "size_checked": size_checked,
        # (as ``download_job``'s: the library keeps it) only when known as ours: a crash
        # between the rename and the checkpoint naming it leaves the size alone to tell
        "mtime_ns": st.st_mtime_ns if ours is not None else None,
    }


def _sha256_of(path: Path, ctx: TransferContext, progress: bool = False) -> str:
    """The sha256 of ``path``, read here (a pause or cancel stops the read); with ``progress``,
    shown as the transfer's."""
    h = hashlib.sha256()
    done = 0
    size = path.stat().st_size
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            ctx.control.check()
            h.update(block)
            done += len(block)
            if progress:
                ctx.progress(done, size)
    return h.hexdigest()


def _same_item_there(t: Transfer, ctx: TransferContext) -> dict[str, Any] | None:
    """The result of ``t`` without a byte fetched when the file queued beside it as maybe the
    same item (``same_as``: the item's own name, taken in the folder when it was queued, by
    another workstation's download on a shared folder or an earlier data folder's) has the
    item's size and sha256, read here: the transfer ends with that file, its destination from
    then on (``TransferStore.finish``). Anything else — other bytes, the file gone or being
    written, a download of ``t`` already under way — and ``t`` downloads to its own name."""
    same = t.options.get("same_as")
    if not isinstance(same, str) or not t.sha256 or t.size is None or ctx.checkpoint.load():
        return None
    path = Path(same)
    try:
        before = path.stat()
        if not stat.S_ISREG(before.st_mode) or before.st_size != t.size:
            return None
        if path.with_name(path.name + ".part").exists():
            return None
        digest = _sha256_of(path, ctx, progress=True)
        after = path.stat()
    except OSError as e:
        ctx.log.info("download %d: %s could not be read (%s); downloading it", t.id, path, e)
        return None
    if digest != t.sha256.strip().lower():
        ctx.log.info("download %d: %s holds other bytes; downloading the item", t.id, path)
        return None
    if (after.st_size, after.st_mtime_ns, after.st_ino) != (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    ):
        return None  # written while it was read: what was checked may not be what is there
    ctx.log.info("download %d: the item was already in the folder (checked); not fetched", t.id)
    return {
        "path": str(path),
        "size": after.st_size,
        "sha256": digest,
        "bytes_fetched": 0,
        "restarted": False,
        "size_checked": True,
        "mtime_ns": after.st_mtime_ns,
        "found_in_folder": True,
    }


def _placed_file(dest: Path, checkpoint: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint's record of the file this download renamed to ``dest`` when ``dest`` is
    still that file (same device, inode, size and modification time), else None."""
    from .download.verify import PLACED

    placed = checkpoint.get(PLACED)
    if not isinstance(placed, dict):
        return None
    try:
        st = os.lstat(dest)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or not st.st_ino:  # (no inode numbers: nothing to tell by)
        return None
    seen = {"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if any(placed.get(k) != v or isinstance(placed.get(k), bool) for k, v in seen.items()):
        return None
    return placed


def _upload_spec(t: Transfer) -> upload.UploadSpec:
    from . import upload

    return upload.UploadSpec(
        path=Path(t.source),
        endpoint=t.destination,
        metadata=dict(t.options.get("metadata", {})),
        chunk_size=t.options.get("chunk_size"),
        parallel=t.options.get("parallel"),
    )


def upload_cleanup(t: Transfer, ctx: TransferContext) -> bool:
    """A canceled upload that was not running: the server is told to drop what it holds."""
    from . import upload

    return upload.terminate(_upload_spec(t), ctx)


def upload_job(t: Transfer, ctx: TransferContext) -> dict[str, Any]:
    from . import upload

    spec = _upload_spec(t)
    r = upload.run(spec, ctx)
    state, item_id, error = r.state, r.item_id, r.error
    if state in ("receiving", "processing") and t.options.get("publish_wait"):
        # The ALU hub verifies, probes and publishes after the last byte; wait a while for its
        # word so the user hears "published" or why not (the item also arrives by the feed).
        # A parallel upload's final upload says "receiving" until the hub has joined its parts.
        # (Asked for by the hub verbs and the app; `alu tus-put` to any server does not wait.)
        wait = float(t.options["publish_wait"])
        state, item_id, error = upload.poll_outcome(r.url, ctx, wait, spec.endpoint)
        state = state or "processing"
    if state == "failed":
        refusal = upload.on_network(error)  # (the agency's file, or another member's)
        if refusal is not None:
            raise PermanentError(refusal)
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
