"""The jobs the queue runs on its worker threads: a transfer row in, a result dict out."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable, Container
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..safe_names import unique_path
from ..store.transfers import Transfer
from .base import PermanentError, RetryableError, TransferContext

if TYPE_CHECKING:
    from . import upload

Job = Callable[[Transfer, TransferContext], dict[str, Any]]
#: what is left to do for a transfer canceled while not running (see ``TransferQueue``);
#: True when it is done (the server said it dropped what it held)
Cleanup = Callable[[Transfer, TransferContext], bool]

_HASH_BLOCK = 1024 * 1024

#: seconds another download's part file of the item may stay unchanged before that download
#: counts as stopped (a workstation switched off, its link down) and this one goes its own way
OTHER_STALE_S: Final = 600.0
#: the shortest wait between two looks at it (the queue's back-off then grows, up to 5 min)
OTHER_LOOK_S: Final = 30.0
#: the checkpoint's note of what was seen of them: one {"part", "size", "mtime_ns", "since"}
#: a part file (a list; one such dict alone in checkpoints saved before)
_OTHER: Final = "other_download"
#: the note (the transfer's history) of a download that saves the item under a name of its
#: own because another download stopped for good at the name it had
MSG_SAVED_AS: Final = (
    "Another download left “{name}” unfinished; this one saves the file as “{new}”."
)


def download_job(t: Transfer, ctx: TransferContext) -> dict[str, Any]:
    from . import download

    found = _renamed_before(t, ctx)
    if found is None:
        found = _same_item_there(t, ctx)
    if found is not None:
        return found
    t = _to_the_items_name(t, ctx)
    t = _wait_for_another_download(t, ctx)
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
    if _OTHER in checkpoint and not _began(checkpoint):
        return None  # (it waited for another download, and never began its own)
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
    """The result of ``t`` without a byte fetched when a file at one of the item's names
    (``_item_names``: the item's own, taken in the folder when it was queued by another
    workstation's download on a shared folder or an earlier data folder's; and ``t``'s own)
    has the item's size and sha256, read here: the transfer ends with that file, its
    destination from then on (``TransferStore.finish``).

    Before ``t``'s own download began, and also when it resumes: a workstation killed
    mid-download and started again once the other's file was in place fetched the rest of its
    own copy beside it. Its own part file then goes (``discard_part``: only when it is its
    own), and the checkpoint with the transfer's end; a kill in between finds the same file
    again. Anything else (other bytes, the file gone or being written) and ``t`` downloads, or
    goes on downloading, to its own name."""
    if not t.sha256 or t.size is None:
        return None
    checkpoint = ctx.checkpoint.load()
    began = _began(checkpoint)
    dest = Path(t.destination)
    for path in _item_names(t):
        # our own part beside our own name is no other download writing it
        own = checkpoint if began and path == dest else None
        found = _checked_file(t, ctx, path, own_part=own, progress=not began)
        if found is None:
            continue
        if began:
            from .download import discard_part

            left = discard_part(dest, checkpoint)
            ctx.log.info("download %d: its own part file not needed (%s)", t.id, left)
        else:
            ctx.checkpoint.save({})  # (what was seen of another download: done with)
        return found
    return None


def _item_names(t: Transfer) -> list[Path]:
    """Where another download may put the item's file: the item's own name when it was taken
    as the transfer was queued (``same_as``), and the transfer's destination (two
    workstations that queued it at the same moment both chose the item's name)."""
    same = t.options.get("same_as")
    dest = Path(t.destination)
    names = [Path(same)] if isinstance(same, str) and same and Path(same) != dest else []
    return [*names, dest]


def _began(checkpoint: dict[str, Any]) -> bool:
    """The transfer's own download has begun: its checkpoint holds more than what it saw of
    another download."""
    return any(key != _OTHER for key in checkpoint)


#: files found to hold other bytes than an item's: (path, device, inode, size, modification
#: time, the item's sha256). A download resumed again and again on a lossy link looks at the
#: item's names at each run (``_same_item_there``): a file of the item's size there with other
#: bytes is read once, not at every resume, while it stays as it was
_NOT_THE_ITEM: dict[tuple[str, int, int, int, int, str], None] = {}
_NOT_THE_ITEM_MAX: Final = 256
_NOT_THE_ITEM_LOCK = threading.Lock()


def _checked_file(
    t: Transfer,
    ctx: TransferContext,
    path: Path,
    *,
    own_part: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any] | None:
    """The result of ``t`` with the file at ``path`` when it is the item's (its size and
    sha256, read here, and not changed while read), else None. A part file beside it is
    another download still writing it, but for ``t``'s own (``own_part``: its checkpoint)."""
    from .download import part_is_ours

    assert t.sha256 is not None
    wanted = t.sha256.strip().lower()
    try:
        before = path.stat()
    except FileNotFoundError:
        return None
    try:
        if not stat.S_ISREG(before.st_mode) or before.st_size != t.size:
            return None
        part = path.with_name(path.name + ".part")
        if part.exists() and (own_part is None or not part_is_ours(part, own_part)):
            return None
        seen = (str(path), before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns)
        with _NOT_THE_ITEM_LOCK:
            if (*seen, wanted) in _NOT_THE_ITEM:
                return None
        digest = _sha256_of(path, ctx, progress=progress)
        after = path.stat()
    except OSError as e:
        ctx.log.info("download %d: %s could not be read (%s); downloading it", t.id, path, e)
        return None
    if (after.st_size, after.st_mtime_ns, after.st_ino) != (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    ):
        return None  # written while it was read: what was checked may not be what is there
    if digest != wanted:
        ctx.log.info("download %d: %s holds other bytes; downloading the item", t.id, path)
        with _NOT_THE_ITEM_LOCK:
            _NOT_THE_ITEM[(*seen, wanted)] = None
            while len(_NOT_THE_ITEM) > _NOT_THE_ITEM_MAX:
                del _NOT_THE_ITEM[next(iter(_NOT_THE_ITEM))]
        return None
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


def _moved(t: Transfer, moved: tuple[Path, Path | None]) -> Transfer:
    """``t`` as its row now stands, its destination moved (``TransferContext.move_download``)."""
    dest, same = moved
    options = {k: v for k, v in t.options.items() if k != "same_as"}
    if same is not None and same != dest:
        options["same_as"] = str(same)
    return dataclasses.replace(t, destination=str(dest), options=options)


def _free(path: Path) -> bool:
    """Nothing at ``path``, nor a part file beside it."""
    return not os.path.lexists(path) and not os.path.lexists(path.with_name(path.name + ".part"))


def _to_the_items_name(t: Transfer, ctx: TransferContext) -> Transfer:
    """``t`` moved to the item's own name (``same_as``) when that name is free again. It was
    taken when ``t`` was queued — another workstation's download wrote there, or a file of the
    item's size was there — and is no more: that download was canceled (its part file
    removed, no file made), the file went. The item is then saved under its own name, not as
    "NAME (2)" beside nothing. Only before ``t``'s own download began, with no part file at
    its own name, and when the services would choose that name now (``unique_path``: no other
    download of this workstation writes to it, by the queue's word under its lock)."""
    same = t.options.get("same_as")
    if ctx.move_download is None or not isinstance(same, str) or not same:
        return t
    name, dest = Path(same), Path(t.destination)
    if name == dest or name.parent != dest.parent or _began(ctx.checkpoint.load()):
        return t
    if not _free(name) or os.path.lexists(dest.with_name(dest.name + ".part")):
        return t

    def choose(taken: Container[str]) -> tuple[Path, Path | None] | None:
        # the name the services would give it now (free, of no download of this workstation,
        # short enough for Windows without long paths), if that is the item's own
        return (name, None) if unique_path(dest.parent, name.name, taken) == name else None

    moved = ctx.move_download(choose)
    if moved is None:
        return t
    ctx.log.info("download %d: the item's own name is free (again): saved as %s", t.id, name)
    return _moved(t, moved)


def _wait_for_another_download(t: Transfer, ctx: TransferContext) -> Transfer:
    """Wait (``RetryableError``, looked at again later) while another download writes the
    item's file in this folder: another workstation sharing the download folder whose rule or
    user took the same item, its ``.part`` beside one of ``_item_names``. When its file is in
    place, whole, the next run takes it (``_same_item_there``): the item crosses the member's
    link once. A part file that has not changed for ``OTHER_STALE_S`` (seen on this machine's
    clock: the other's clock is never compared with ours) is a download that stopped. Every
    part file there is looked at: a stopped one at the item's name may stand beside a live one
    at ``t``'s own (a third workstation that chose the same "NAME (2)" at the same moment), and
    ``t`` waits while any changes. Once all those there stopped, ``t`` goes its own way: to its
    own name, or, when one of them is at its own name, to a name of its own (``_away_from``:
    its row says so before a byte is written there). ``t`` as it then stands.
    Only for an item's file (a sha256 to check the other's by), and before ``t``'s own
    download began."""
    from .download import part_is_ours

    checkpoint = ctx.checkpoint.load()
    if not t.sha256 or t.size is None or _began(checkpoint):
        return t
    note = checkpoint.get(_OTHER)
    seen = _parts_seen(note)
    own = Path(t.destination + ".part")
    now = time.time()
    marks: list[dict[str, Any]] = []
    busy: Path | None = None
    for path in _item_names(t):
        part = path.with_name(path.name + ".part")
        try:
            st = os.lstat(part)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or (part == own and part_is_ours(part, {})):
            continue  # (an empty one at our own name: the download makes it its own)
        mark: dict[str, Any] = {"part": str(part), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        before = seen.get(str(part), {})
        since = before.get("since")
        if (
            not isinstance(since, int | float)
            or {k: before.get(k) for k in mark} != mark
            or now < since  # (our clock was put back)
        ):
            since, moved = now, True  # (seen now: waited for at least once more)
        else:
            moved = False
        if busy is None and (moved or now - since < OTHER_STALE_S):
            busy = part
        marks.append({**mark, "since": since})
    if busy is not None:
        if marks != note:
            ctx.checkpoint.save({_OTHER: marks})
        from .download.protocol import MSG_PART_BUSY

        raise RetryableError(MSG_PART_BUSY.format(name=busy.name), retry_after=OTHER_LOOK_S)
    if marks:
        ctx.log.info(
            "download %d: %s unchanged for %d s at least; downloading the item",
            t.id,
            ", ".join(m["part"] for m in marks),
            int(min(now - m["since"] for m in marks)),
        )
        stopped = {m["part"] for m in marks}
        return _away_from(t, ctx) if str(own) in stopped else t
    if note is not None:
        ctx.checkpoint.save({})  # (the other download went: nothing more to watch)
    return t


def _parts_seen(note: object) -> dict[str, dict[str, Any]]:
    """The checkpoint's note of other downloads' part files (``_OTHER``), by path: a list of
    marks, one a part file, or one mark alone (as saved before the list: by a transfer under
    way when the app was updated)."""
    listed = note if isinstance(note, list) else [note]
    return {m["part"]: m for m in listed if isinstance(m, dict) and isinstance(m.get("part"), str)}


def _away_from(t: Transfer, ctx: TransferContext) -> Transfer:
    """``t`` moved to a free name of its own: another download stopped for good at its name
    (its part file, never written into nor removed). The name is chosen as the services
    choose one for a clash ("NAME (2).ext", ``unique_path``), from the item's own name, and
    none this workstation's downloads write to; the item's own name stays looked at
    (``same_as``): the other download, back, may yet put its file there. No row to move: ``t``
    as it was (the download then says the part file is not its own)."""
    if ctx.move_download is None:
        return t
    dest = Path(t.destination)
    same = t.options.get("same_as")
    item = Path(same) if isinstance(same, str) and same else dest

    def choose(taken: Container[str]) -> tuple[Path, Path | None]:
        return unique_path(dest.parent, item.name, taken), item

    moved = ctx.move_download(choose)
    if moved is None:
        return t
    ctx.log.info("download %d: saved as %s instead", t.id, moved[0])
    ctx.note(MSG_SAVED_AS.format(name=dest.name, new=moved[0].name))
    return _moved(t, moved)


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
    from .upload.spec import MIN_CHOSEN_CHUNK

    chunk = t.options.get("chunk_size")
    if not isinstance(chunk, int) or chunk < MIN_CHOSEN_CHUNK:
        # (`alu tus-put --chunk-size 1` was taken before there was a floor: one request per
        # byte, for every later run of that upload) adapted to the link instead
        chunk = None
    return upload.UploadSpec(
        path=Path(t.source),
        endpoint=t.destination,
        metadata=dict(t.options.get("metadata", {})),
        chunk_size=chunk,
        parallel=t.options.get("parallel"),
        no_follow=bool(t.options.get("hot_folder")),
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
