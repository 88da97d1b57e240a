"""Publishing: a file becomes an item in the feed.

One path for agency pushes (``alu-hub publish``, the demo seed) and for member uploads (tus
completion). Order matters for "nothing half-written becomes visible": hash and probe the file,
make the proxy and thumbnail, put every file in storage, and only then insert the item and its
renditions in one transaction that also takes the next feed seq (and, for a member upload,
marks the upload published). A crash before that commit leaves files no item points to (removed
at start-up), never an item without its files; a member upload keeps its bytes until then, so
start-up publishes it again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .feed import item_json, member_out
from .hub import Hub, work_folder
from .media import MediaError, probe
from .mediapool import render
from .models import Item, Member, Rendition, Upload, utcnow

log = logging.getLogger(__name__)

LANGUAGES = ("en", "fr", "ar")
PRIORITIES = ("flash", "urgent", "routine")
KINDS = ("push", "member_upload")
_LIMITS = {"title": 500, "slug": 200, "dateline": 200, "category": 64, "region": 64}
#: the long texts (several lines each) and their limit
_LONG = ("restrictions", "script", "shotlist")
_LONG_LIMIT = 20_000
#: longest file name taken from a member (most file systems stop at 255)
MAX_FILENAME = 255
#: recorded_at may be this far ahead of the hub's clock (time zones, workstation clocks)
RECORDED_AHEAD = dt.timedelta(days=2)
EARLIEST_RECORDING = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
#: Lone surrogates: what Python makes of bytes that are not UTF-8 in a command line or a file
#: name (\udc80-\udcff), and what JSON's "\ud800" gives; UTF-8 (the database) cannot hold them.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_NOT_TEXT = (
    "is not text the hub can store: it holds bytes that are not UTF-8 (check the encoding of "
    "the terminal or the file it comes from)."
)


class PublishError(Exception):
    """Why a file could not be published, in words for the person who sent it."""


def clean_text(value: str, limit: int, *, multiline: bool = False) -> str:
    """Metadata text as stored: NFC, no leading byte order mark, no control or bidi-override
    characters, bounded."""
    # a text pasted or read from a file saved with a BOM (Windows Notepad) began with U+FEFF,
    # an invisible character that went on to every member's copy-paste and newsroom system
    value = unicodedata.normalize("NFC", value).removeprefix("\ufeff")
    if not multiline:
        value = value.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    value = _CONTROL.sub("", value).strip()
    return value[:limit]


@dataclass
class ItemFields:
    title: str
    slug: str = ""
    dateline: str = ""
    recorded_at: dt.datetime | None = None
    category: str = ""
    region: str = ""
    country: str = ""
    language: str = "en"
    priority: str = "routine"
    restrictions: str = ""
    script: str = ""
    shotlist: str = ""

    @classmethod
    def from_metadata(cls, meta: dict[str, str], *, default_title: str, country: str) -> ItemFields:
        """Item fields from tus Upload-Metadata; raises PublishError on values we cannot take."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in meta.items() if k in known}
        values.setdefault("title", default_title)
        values.setdefault("country", country)
        recorded = values.pop("recorded_at", None)
        item = cls(**values)
        if recorded:
            item.recorded_at = parse_recorded_at(str(recorded))
        return item.validated()

    def validated(self) -> ItemFields:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str) and _SURROGATE.search(value):
                raise PublishError(f"The {f.name} {_NOT_TEXT}")
        for name, limit in _LIMITS.items():
            setattr(self, name, clean_text(getattr(self, name) or "", limit))
        for name in _LONG:
            setattr(self, name, clean_text(getattr(self, name) or "", _LONG_LIMIT, multiline=True))
        self.language = (self.language or "en").strip().lower()
        self.priority = (self.priority or "routine").strip().lower()
        # (never cut: "Nigeria" became NI, Nicaragua)
        self.country = (self.country or "").strip().upper()
        if not self.title:
            raise PublishError("An item needs a title.")
        if self.language not in LANGUAGES:
            raise PublishError(
                f"language must be one of {', '.join(LANGUAGES)}, not {self.language!r}"
            )
        if self.priority not in PRIORITIES:
            raise PublishError(
                f"priority must be one of {', '.join(PRIORITIES)}, not {self.priority!r}"
            )
        if self.country and not re.fullmatch(r"[A-Z]{2}", self.country):
            raise PublishError(f"country must be a two-letter code, not {self.country!r}")
        return self


def parse_recorded_at(value: str) -> dt.datetime:
    """When footage was recorded: an ISO 8601 date or date-time (UTC when it has no zone),
    from 1900 to two days after the hub's today; PublishError otherwise."""
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PublishError(
            f"recorded_at {value[:40]!r} is not a date (use 2026-11-22 or 2026-11-22T14:30)."
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    if when < EARLIEST_RECORDING:
        raise PublishError(f"recorded_at {value[:40]!r} is before 1900.")
    now = utcnow()
    if when > now + RECORDED_AHEAD:
        # the hub's time said: a sender whose clock is off sees by how much
        raise PublishError(
            f"recorded_at {value[:40]!r} is in the future (hub time "
            f"{now:%Y-%m-%d %H:%M} UTC); check the date, and the clock of the computer that "
            "sent it."
        )
    return when


def check_metadata(meta: Mapping[str, str]) -> None:
    """The item fields of a member upload's ``Upload-Metadata``, checked when the upload is
    created, before any byte is sent, by the rules the item will be published under, but
    strictly: a text over its limit is refused rather than cut, a country code of three letters
    rather than shortened. Raises PublishError naming the field; unknown keys are ignored (tus
    clients add their own)."""
    for key, text in meta.items():
        if _SURROGATE.search(text):
            raise PublishError(f"The {key[:40]} {_NOT_TEXT}")
    filename = meta.get("filename", "")
    if len(filename) > MAX_FILENAME:
        raise PublishError(
            f"The filename is too long ({len(filename)} characters; at most {MAX_FILENAME})."
        )
    for name, limit, multiline in (
        *((n, lim, False) for n, lim in _LIMITS.items()),
        *((n, _LONG_LIMIT, True) for n in _LONG),
    ):
        value = meta.get(name)
        if value is None:
            continue
        size = len(clean_text(value, 1 << 30, multiline=multiline))
        if size > limit:
            raise PublishError(f"The {name} is too long ({size} characters; at most {limit}).")
    if "title" in meta and not clean_text(meta["title"], 1):
        raise PublishError("An item needs a title: the title is empty.")
    language = (meta.get("language") or "en").strip().lower()
    if language not in LANGUAGES:
        raise PublishError(
            f"language must be one of {', '.join(LANGUAGES)}, not {language[:20]!r}."
        )
    priority = (meta.get("priority") or "routine").strip().lower()
    if priority not in PRIORITIES:
        raise PublishError(
            f"priority must be one of {', '.join(PRIORITIES)}, not {priority[:20]!r}."
        )
    country = (meta.get("country") or "").strip().upper()
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        raise PublishError(f"country must be a two-letter code like KE, not {country[:20]!r}.")
    if meta.get("recorded_at"):
        parse_recorded_at(meta["recorded_at"])


def file_sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _extension(filename: str, mime: str) -> str:
    suffix = Path(filename.replace("\\", "/")).suffix.lower().lstrip(".")
    if re.fullmatch(r"[a-z0-9]{1,5}", suffix):
        return suffix
    return {"video/quicktime": "mov", "video/x-matroska": "mkv", "video/mxf": "mxf"}.get(
        mime, "mp4"
    )


def safe_filename(name: str, fallback: str) -> str:
    """A download name for Content-Disposition: the base name only, printable, bounded; bytes
    of a file name that were not UTF-8 become U+FFFD."""
    name = _SURROGATE.sub("\ufffd", name)
    base = clean_text(name.replace("\\", "/").rsplit("/", 1)[-1], 200)
    base = base.lstrip(".").strip()
    return base or fallback


@dataclass
class Prepared:
    """An item whose files are all in storage, not yet in the feed (``commit`` puts it there)."""

    row: Item
    prefix: str


def prepare(
    hub: Hub,
    src: Path,
    item: ItemFields,
    *,
    kind: str = "push",
    source_member: Member | None = None,
    filename: str = "",
    expected_sha256: str | None = None,
    move: bool = False,
    check: Callable[[str], None] | None = None,
) -> Prepared:
    """Check ``src``, make its proxy and thumbnail and put every file in storage.

    The slow part of publishing; safe to run for several files at once. Raises PublishError
    with words for the sender when the file cannot be published; then nothing is left behind.
    ``check`` is given the file's sha256 as soon as it is known, before the slow part; it
    raises PublishError to refuse the file.
    """
    if kind not in KINDS:
        raise PublishError(f"unknown kind {kind!r}")
    item.validated()
    filename = filename or src.name
    sha256, size = file_sha256(src)
    if expected_sha256 is not None and sha256 != expected_sha256.lower():
        raise PublishError(
            f"The file that arrived does not match its checksum (sha256 {sha256[:12]}…, "
            f"expected {expected_sha256[:12]}…); nothing was published. Send it again."
        )
    if size == 0:
        raise PublishError("The file is empty; nothing was published.")
    if check is not None:
        check(sha256)
    try:
        info = hub.media.run(probe, src)
    except MediaError as e:
        raise PublishError(f"{e} Nothing was published.") from None
    if not info.video_codec:
        raise PublishError("The file has no video; nothing was published.")
    if info.still:
        raise PublishError(
            f"The file is a still picture ({info.mime}), not a video; nothing was published."
            " Send a video clip."
        )

    item_id = uuid.uuid4().hex
    prefix = f"items/{item_id}"
    work = work_folder(hub.settings) / item_id
    work.mkdir(parents=True, exist_ok=True)
    try:
        proxy_path, thumb_path = work / "proxy.mp4", work / "thumbnail.jpg"
        try:
            proxy_info = hub.media.run(render, src, proxy_path, thumb_path).proxy
        except MediaError as e:
            raise PublishError(f"{e} Nothing was published.") from None
        proxy_sha, proxy_size = file_sha256(proxy_path)
        ext = _extension(filename, info.mime)
        broadcast_key = f"{prefix}/broadcast.{ext}"
        if move:
            hub.storage.put_file(src, broadcast_key)
        else:
            hub.storage.copy_file(src, broadcast_key)
        hub.storage.put_file(proxy_path, f"{prefix}/proxy.mp4")
        hub.storage.put_file(thumb_path, f"{prefix}/thumbnail.jpg")
    except BaseException:
        hub.storage.delete_prefix(prefix)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)

    stem = Path(safe_filename(filename, f"{item_id}.{ext}")).stem or item_id
    row = Item(
        id=item_id,
        kind=kind,
        title=item.title,
        slug=item.slug,
        dateline=item.dateline,
        recorded_at=item.recorded_at,
        category=item.category,
        region=item.region,
        country=item.country,
        language=item.language,
        priority=item.priority,
        restrictions=item.restrictions,
        script=item.script,
        shotlist=item.shotlist,
        duration=round(info.duration, 3),
        source_member_id=source_member.id if source_member else None,
        thumbnail_key=f"{prefix}/thumbnail.jpg",
    )
    row.renditions = [
        Rendition(
            name="broadcast",
            storage_key=broadcast_key,
            filename=f"{stem}.{ext}",
            size=size,
            sha256=sha256,
            mime=info.mime,
            width=info.width,
            height=info.height,
        ),
        Rendition(
            name="proxy",
            storage_key=f"{prefix}/proxy.mp4",
            filename=f"{stem}.proxy.mp4",
            size=proxy_size,
            sha256=proxy_sha,
            mime="video/mp4",
            width=proxy_info.width,
            height=proxy_info.height,
        ),
    ]
    return Prepared(row=row, prefix=prefix)


#: Run inside the publishing transaction, with the item: what must be true exactly when the
#: item is in the feed (a member upload marked published). Raising undoes the publication.
AlsoInTransaction = Callable[[Session, Item], None]


def commit(
    hub: Hub,
    prepared: Prepared,
    *,
    published_at: dt.datetime | None = None,
    received_at: dt.datetime | None = None,
    also: AlsoInTransaction | None = None,
) -> Item:
    """Put a prepared item in the feed: one transaction that also takes the next seq (and
    runs ``also``). ``received_at``: a member upload's time of arrival (``Item.received_at``)."""
    row = prepared.row
    row.published_at = published_at or utcnow()
    row.received_at = received_at
    try:
        with hub.db.session() as s:
            row.seq = hub.db.next_seq(s)
            row.feed_json = _feed_json(s, row)
            s.add(row)
            if also is not None:
                also(s, row)
    except BaseException:
        hub.storage.delete_prefix(prepared.prefix)
        raise
    log.info("published item %s seq %d (%s)", row.id, row.seq, row.kind)
    hub.broker.notify()
    with hub.db.session() as s:
        published = s.get(Item, row.id)
        assert published is not None
        s.expunge(published)
        return published


def _feed_json(s: Session, row: Item) -> str:
    """The item as the feed will serve it (``feed.item_json``), once its seq is known."""
    source = None
    if row.source_member_id is not None:
        m = s.get(Member, row.source_member_id)
        if m is not None:
            source = member_out(m.username, m.display_name, m.country, m.role)
    return item_json(row, source, row.renditions)


def publish_file(
    hub: Hub,
    src: Path,
    item: ItemFields,
    *,
    kind: str = "push",
    source_member: Member | None = None,
    filename: str = "",
    expected_sha256: str | None = None,
    move: bool = False,
    published_at: dt.datetime | None = None,
    received_at: dt.datetime | None = None,
    also: AlsoInTransaction | None = None,
    check: Callable[[str], None] | None = None,
) -> Item:
    """Publish ``src`` as a new item and return it (committed, with its seq)."""
    prepared = prepare(
        hub,
        src,
        item,
        kind=kind,
        source_member=source_member,
        filename=filename,
        expected_sha256=expected_sha256,
        move=move,
        check=check,
    )
    return commit(hub, prepared, published_at=published_at, received_at=received_at, also=also)


class _AlreadyFinished(Exception):
    """The upload was published or failed meanwhile (another replica): publish nothing."""


class _SameItem(Exception):
    """The member published these bytes with these details within a day: that item it is."""

    def __init__(self, item_id: str) -> None:
        super().__init__(item_id)
        self.item_id = item_id


#: a member's upload of the same bytes with the same details within this time is the same item
SAME_ITEM_WITHIN = dt.timedelta(days=1)
#: the details that make an item another one (the client's ``alu put`` compares the same)
_DETAILS = (
    "title", "slug", "dateline", "recorded_at", "category", "region", "country", "language",
    "priority", "restrictions", "script", "shotlist",
)  # fmt: skip


def _same_recent_item(s: Session, item: Item) -> str | None:
    """An item the same member published within ``SAME_ITEM_WITHIN`` with the same broadcast
    bytes and details: two workstations watching one shared hot folder, `alu put` then the same
    file dropped in a hot folder — each published it, twice in every member's feed and in the
    agency's counts. Read in the publishing transaction, after ``next_seq`` locked the counter
    row: publishes are serialized there, so the second of two at once sees the first."""
    sha = next((r.sha256 for r in item.renditions if r.name == "broadcast"), None)
    if sha is None or item.source_member_id is None:
        return None
    rows = s.scalars(
        select(Item)
        .join(Rendition, Rendition.item_id == Item.id)
        .where(
            Rendition.name == "broadcast",
            Rendition.sha256 == sha,
            Item.source_member_id == item.source_member_id,
            Item.kind == "member_upload",
            Item.published_at >= utcnow() - SAME_ITEM_WITHIN,
            Item.id != item.id,
        )
        .order_by(Item.seq)
    )
    for other in rows:
        if all(getattr(other, k) == getattr(item, k) for k in _DETAILS):
            return other.id
    return None


#: ``alu-hub publish`` of bytes that are already a live push (``file``, ``seq``, ``title``,
#: ``date``)
ALREADY_PUBLISHED = (
    '{file} is already item {seq} "{title}" (published {date}); nothing was published. Use '
    "--force to publish it again."
)


class AlreadyPublished(PublishError):
    """A push of bytes that are already the broadcast file of an agency item not withdrawn."""


def live_push(s: Session, sha256: str, publishing: str | None = None) -> Item | None:
    """The first agency push, not withdrawn, whose broadcast file has the bytes ``sha256``
    (``publishing``: the id of the item being published with them, which is not it)."""
    return s.scalars(
        select(Item)
        .join(Rendition, Rendition.item_id == Item.id)
        .where(
            Rendition.name == "broadcast",
            Rendition.sha256 == sha256,
            Item.kind == "push",
            Item.withdrawn_at.is_(None),
            Item.id != (publishing or ""),
        )
        .order_by(Item.seq)
        .limit(1)
    ).first()


def refuse_published_again(hub: Hub, file: str) -> tuple[Callable[[str], None], AlsoInTransaction]:
    """``prepare``'s check and ``commit``'s ``also`` for a push that must not be bytes already
    pushed (the same file published twice by mistake made a second item in every member's feed
    and in the council's counts): refused before the proxy is made, and again where publishes
    take turns (two at once)."""

    def refusal(item: Item) -> AlreadyPublished:
        title = item.title if len(item.title) <= _QUOTED_TITLE else item.title[:_QUOTED_TITLE]
        return AlreadyPublished(
            ALREADY_PUBLISHED.format(
                file=file, seq=item.seq, title=title, date=f"{item.published_at:%Y-%m-%d}"
            )
        )

    def check(sha256: str) -> None:
        with hub.db.session() as s:
            found = live_push(s, sha256)
            if found is not None:
                raise refusal(found)

    def also(s: Session, item: Item) -> None:
        sha = next((r.sha256 for r in item.renditions if r.name == "broadcast"), "")
        found = live_push(s, sha, publishing=item.id)
        if found is not None:
            raise refusal(found)

    return check, also


#: a member upload of a file already on the network: the agency's item (``title``, ``date``)
ON_NETWORK_AGENCY = (
    "This file is already on the network: it is the agency's “{title}” (published {date}). "
    "It was not published again."
)
#: … or another member's upload (``member``: its display name, or its user name)
ON_NETWORK_MEMBER = (
    "This file is already on the network: it is “{title}”, sent by {member} (published "
    "{date}). It was not published again."
)
#: the title as these messages quote it (the message goes in a header: ``Alu-Error``)
_QUOTED_TITLE = 200


class OnNetwork(PublishError):
    """A member upload whose bytes are a rendition of an item already on the network that is
    not the member's own (``on_network``); its words name that item."""

    code = "already_on_network"


def on_network(
    s: Session, sha256: str, member_id: int, publishing: str | None = None
) -> OnNetwork | None:
    """The refusal of a member's upload of bytes ``sha256``, or None to publish it.

    Bytes that are a rendition (broadcast or proxy) of an item already published by someone
    else — an agency push, or another member's upload — are that item, not the member's new
    footage: a hot folder on a share where another workstation saves its downloads sent the
    agency's clip back as the member's own, to every member, without its restrictions (an
    embargo, "No access Sudan"), and counted it in the member's uploads. The member's own
    earlier uploads are not looked at here (``_same_recent_item`` decides about those), and
    bytes the member itself published before are its own whoever published them since (a
    member's clip the agency pushed again: the member re-sending it was refused); the agency's
    staff may send the agency's own items (``alu put`` from an agency account). ``publishing``:
    the id of the item being published with these bytes, which is no earlier one."""
    sha = sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        return None
    uploader = s.get(Member, member_id)
    if uploader is not None and uploader.role == "agency":
        return None
    own = s.scalars(
        select(Item.id)
        .join(Rendition, Rendition.item_id == Item.id)
        .where(
            Rendition.sha256 == sha,
            Item.source_member_id == member_id,
            Item.id != (publishing or ""),
        )
        .limit(1)
    ).first()
    if own is not None:
        return None
    other = s.scalars(
        select(Item)
        .join(Rendition, Rendition.item_id == Item.id)
        .where(
            Rendition.sha256 == sha,
            or_(Item.source_member_id.is_(None), Item.source_member_id != member_id),
        )
        .order_by(Item.seq)
        .limit(1)
    ).first()
    if other is None:
        return None
    title = other.title if len(other.title) <= _QUOTED_TITLE else other.title[:_QUOTED_TITLE] + "…"
    date = other.published_at.strftime("%Y-%m-%d") + _withdrawal(other)
    source = other.source_member if other.kind == "member_upload" else None
    if source is None:
        return OnNetwork(ON_NETWORK_AGENCY.format(title=title, date=date))
    name = source.display_name or source.username
    return OnNetwork(ON_NETWORK_MEMBER.format(title=title, member=name, date=date))


def _withdrawal(item: Item) -> str:
    """``; withdrawn DATE: REASON`` for a withdrawn item (a re-upload must not undo it), else
    nothing: the member is told why the item it looks for says "do not use"."""
    if item.withdrawn_at is None:
        return ""
    reason = " ".join(item.withdrawn_reason.split())[:_QUOTED_TITLE]
    return f"; withdrawn {item.withdrawn_at:%Y-%m-%d}" + (f": {reason}" if reason else "")


def _refuse_on_network(hub: Hub, member_id: int) -> Callable[[str], None]:
    """``prepare``'s check of a member upload: refused before its proxy is made."""

    def check(sha256: str) -> None:
        with hub.db.session() as s:
            refusal = on_network(s, sha256, member_id)
        if refusal is not None:
            raise refusal

    return check


class _MemberDisabled(Exception):
    """The upload's member was disabled (or removed) before its upload was published."""


#: what an upload of a member disabled before it was published fails with (as a sign-in is told)
MEMBER_DISABLED = "This account is disabled; ask the agency."


def _member_active(s: Session, member_id: int | None) -> bool:
    """Whether the member is (still) active. In the publishing transaction it holds the row
    shared until the commit (PostgreSQL; SQLite has one writer at a time anyway): a disable
    committed meanwhile waits, and comes after the item, not between the check and it."""
    active = s.execute(
        select(Member.active).where(Member.id == member_id).with_for_update(read=True)
    ).scalar_one_or_none()
    return bool(active)


def _mark_published(upload_id: str) -> AlsoInTransaction:
    def mark(s: Session, item: Item) -> None:
        if not _member_active(s, item.source_member_id):
            raise _MemberDisabled()
        # again here, where publishes are serialized (``next_seq``): of two members sending
        # the same new file at once, the second is refused
        sha = next((r.sha256 for r in item.renditions if r.name == "broadcast"), "")
        assert item.source_member_id is not None
        refusal = on_network(s, sha, item.source_member_id, publishing=item.id)
        if refusal is not None:
            raise refusal
        same = _same_recent_item(s, item)
        if same is not None:
            raise _SameItem(same)
        done = s.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.state == "processing")
            .values(state="published", error="", item_id=item.id, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if getattr(done, "rowcount", 0) != 1:
            raise _AlreadyFinished(upload_id)

    return mark


def _link_or_copy(src: Path, dest: Path) -> None:
    """``dest`` with the bytes of ``src``: a hard link (instant, no space) where the file system
    has them, else a copy. Only for files the hub owns and never writes again."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def complete_upload(hub: Hub, upload_id: str) -> None:
    """tus completion: verify the whole file's sha256 and publish it as a member upload.

    Runs on a worker thread. The outcome is written to the upload row (state published with the
    item id, or failed with the reason), where the client reads it with HEAD or GET. The upload
    is marked published in the transaction that puts its item in the feed, and its bytes stay
    in ``uploads/`` until then (storage takes a hard link of them), so a crash at any moment
    leaves an upload that start-up publishes again, or one published exactly once — never an
    item twice, nor an upload whose bytes went with a half publish.
    """
    path = hub.settings.uploads_dir / upload_id
    with hub.db.session() as s:
        upload = s.get(Upload, upload_id)
        if upload is None or upload.state != "processing":
            return
        if upload.received_at is None:
            # Set by tus as the last byte is stored; an upload that was processing at the
            # upgrade to migration 0005 has none: its ``updated_at`` is still the time it became
            # ``processing`` at the first try (the heartbeat first moves it 15 s later). Kept
            # before the slow part, so that a publish again after a crash or a failed try
            # still counts the upload on the day it arrived, not the day it was published.
            upload.received_at = upload.updated_at
        received_at = upload.received_at
        member = s.get(Member, upload.member_id)
        if member is not None and member.active:
            s.expunge(member)
        else:
            member = None
        meta = dict(upload.meta)
    if member is None:
        _refuse_disabled(hub, upload_id)
        return
    staging = work_folder(hub.settings) / f"upload-{upload_id}"
    try:
        filename = meta.get("filename", "") or f"{upload_id}.mp4"
        fields_ = ItemFields.from_metadata(
            meta, default_title=Path(safe_filename(filename, "upload")).stem, country=member.country
        )
        staging.mkdir(parents=True, exist_ok=True)
        staged = staging / "upload"
        _link_or_copy(path, staged)
        publish_file(
            hub,
            staged,
            fields_,
            kind="member_upload",
            source_member=member,
            filename=filename,
            expected_sha256=meta.get("sha256", ""),
            move=True,
            received_at=received_at,
            also=_mark_published(upload_id),
            check=_refuse_on_network(hub, member.id),
        )
    except _AlreadyFinished:
        log.info("upload %s was finished elsewhere meanwhile", upload_id[:8])
        return
    except _MemberDisabled:  # (its prepared files went with the rolled-back commit)
        _refuse_disabled(hub, upload_id)
        return
    except _SameItem as same:
        # (its prepared files went with the rolled-back commit)
        log.info("upload %s is item %s again (same member, bytes, details)", upload_id[:8],
                 same.item_id)  # fmt: skip
        _finish_upload(hub, upload_id, state="published", item_id=same.item_id)
    except PublishError as e:
        _finish_upload(hub, upload_id, state="failed", error=str(e))
        path.unlink(missing_ok=True)
        log.info("upload %s not published: %s", upload_id[:8], e)
        return
    except Exception:
        # Not the file's fault (the storage or the database away, a full disk, a bug): the
        # upload stays in ``processing`` with its bytes, and is published again once its
        # heartbeat has stopped (``republish_uploads``: at the next start, and by the
        # housekeeping every 10 minutes). It was marked failed, for good: the member's bytes
        # were lost to a passing outage, and no retry from the workstation could bring it back.
        log.exception("upload %s: publishing failed; it is tried again later", upload_id[:8])
        _note_retry(hub, upload_id)
        return
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    path.unlink(missing_ok=True)  # the item has the bytes now (start-up drops them otherwise)


def _refuse_disabled(hub: Hub, upload_id: str) -> None:
    """The upload of a member the agency disabled is not published: the bytes of a PATCH under
    way at the disable (or an upload left in ``processing``, republished at a start) reached
    every member's feed. It fails for good, and its bytes go."""
    _finish_upload(hub, upload_id, state="failed", error=MEMBER_DISABLED)
    (hub.settings.uploads_dir / upload_id).unlink(missing_ok=True)
    log.info("upload %s not published: its member is disabled", upload_id[:8])


#: said (``Alu-Error``) of an upload whose publishing failed for a reason that may pass
RETRY_NOTE = (
    "The hub could not publish the file yet; it tries again every few minutes (nothing to do "
    "on the workstation)."
)
#: what such an upload was marked failed with before; start-up publishes those again
OLD_FAILURE = "The hub could not publish the file; the agency has been told. Try again later."


def _note_retry(hub: Hub, upload_id: str) -> None:
    with hub.db.session() as s:
        upload = s.get(Upload, upload_id)
        if upload is not None and upload.state == "processing":
            upload.error = RETRY_NOTE
            upload.updated_at = utcnow()  # from now: the retry comes after the stale time


def _finish_upload(
    hub: Hub, upload_id: str, *, state: str, error: str = "", item_id: str | None = None
) -> None:
    with hub.db.session() as s:
        upload = s.get(Upload, upload_id)
        if upload is not None and upload.state == "processing":
            upload.state = state
            upload.error = error
            upload.item_id = item_id
            upload.updated_at = utcnow()
