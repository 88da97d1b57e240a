"""Hub settings: one frozen object built from the command line or the environment."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from alu_client.core.hub_types import EVENTS_KEEPALIVE_S

KIB = 1024
MIB = 1024**2
GIB = 1024**3
#: The trusted proxies by default: a proxy on the same machine.
LOOPBACK = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class Settings:
    """Everything the hub needs to run; tests build one per temp folder."""

    data_dir: Path
    #: SQLAlchemy URL; empty means SQLite in ``data_dir/hub.sqlite3``.
    database_url: str = ""
    #: Sign-in tokens live this long; a workstation signs in again after.
    token_ttl_s: int = 30 * 24 * 3600
    #: An unfinished tus upload is abandoned (and its bytes deleted) after this.
    upload_expiry_s: int = 7 * 24 * 3600
    #: Largest upload accepted (413 beyond it).
    max_upload_size: int = 64 * GIB
    #: Largest single PATCH (or creation-with-upload) body accepted, 413 ``chunk_too_large``
    #: beyond it, before a byte is read; None (the default): no cap but the upload's length
    #: (or, while it is deferred, ``max_upload_size``). A chunk costs no memory (bodies stream
    #: to disk in bounded writes), and tus clients other than ALU's send the whole file in one
    #: PATCH by default (tus-js-client, Uppy, tuspy) and give up on a 413; ALU's client halves
    #: its chunk on 413, so a cap only suits a hub behind something that limits bodies.
    max_chunk_size: int | None = None
    #: Signed download links (for players and other tools without the token) live this long.
    signed_url_ttl_s: int = 3600
    #: Seconds between keep-alive comments on the SSE stream (proxies cut idle streams). The
    #: client's read timeout on the stream is two and a half of these (``hub_types``): a hub
    #: set to send them less often would have its streams taken for cut.
    sse_keepalive_s: float = EVENTS_KEEPALIVE_S
    #: Probe, proxy and thumbnail in this many worker processes (``mediapool``), so that a
    #: transcode never holds the serving process's GIL; 0: on the publishing thread itself
    #: (the demo hub inside the desktop app, most tests). ``alu-hub serve`` uses 1.
    media_workers: int = 0
    #: The media workers' CPU priority, lower than the serving process's (``nice`` value).
    media_nice: int = 10
    #: The client version the hub advertises as current (update check).
    client_version: str = ""
    #: Sign-in rate limiting: sign-ins that did not succeed are counted in a sliding window of
    #: this length, in the database (so every replica sees the same counts). Beyond a limit the
    #: hub answers 429 with Retry-After, without checking the password, whether or not the user
    #: exists. A limit of 0 turns that limit off.
    signin_window_s: int = 15 * 60
    #: … per user name (a password guessed at one account).
    signin_max_failures_per_user: int = 10
    #: … per client address (one name tried after another from one place; IPv6 by /64). A
    #: newsroom's staff share one address behind its NAT, hence more room than per user.
    signin_max_failures_per_address: int = 50
    #: Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (addresses or networks
    #: such as ``10.0.0.0/8``); any other peer is the client itself. The default is loopback
    #: only (nginx on the same machine); empty: no proxy, forwarded headers are ignored.
    trusted_proxies: tuple[str, ...] = LOOPBACK
    #: The request line and headers together, at most (431 beyond, before they are all read).
    #: Room for the largest Upload-Metadata below plus the other headers.
    max_header_bytes: int = 256 * KIB
    #: Upload-Metadata as sent (base64), at most (413 beyond): room for the longest item fields
    #: the client allows (three 20,000-character texts in Arabic are about 160 KiB encoded).
    max_metadata_bytes: int = 192 * KIB
    #: JSON request bodies, at most (413 beyond, before they are all read): sign-in, …
    max_signin_body_bytes: int = 16 * KIB
    #: … a history batch (1000 events at their largest are under 5 MiB), …
    max_history_batch_bytes: int = 6 * MIB
    #: … and any other call outside tus (whose bodies are streamed to disk, see max_chunk_size).
    max_json_body_bytes: int = 64 * KIB
    #: Where renditions and thumbnails live: empty for ``data_dir/storage``, or
    #: ``s3://bucket/prefix`` for an S3-compatible store (credentials: boto3's usual chain).
    storage_url: str = ""
    #: The S3 API's address (MinIO, Ceph, R2, …); empty for AWS itself.
    s3_endpoint: str = ""
    #: The address presigned URLs name, when clients reach the store by another one than the hub.
    s3_public_endpoint: str = ""
    #: The bucket's region; empty: AWS_REGION / AWS_DEFAULT_REGION / the profile, else us-east-1.
    s3_region: str = ""
    #: A presigned download URL lives this long (each Range request asks the hub for a new one).
    s3_url_ttl_s: int = 600
    #: Files larger than this go up in multipart uploads of parts this size (at least 5 MiB).
    s3_part_size: int = 16 * MIB
    #: Start-up removes objects of items never committed only when older than this (replicas
    #: share the bucket: another one may be between storing an item's files and committing it).
    s3_orphan_grace_s: int = 24 * 3600
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'hub.sqlite3'}"

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "storage"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @classmethod
    def from_env(cls, data_dir: Path | str | None = None) -> Settings:
        """Settings from ``ALU_HUB_*`` variables, with ``data_dir`` taking precedence."""
        base = Path(data_dir or os.environ.get("ALU_HUB_DATA", "alu-hub-data")).resolve()
        return cls(
            data_dir=base,
            database_url=os.environ.get("ALU_HUB_DATABASE_URL", ""),
            # a lifetime, a size or a window of 0 or less would be taken without a word and
            # break the hub quietly (every token born expired, rate limiting off): refused
            token_ttl_s=env_int("ALU_HUB_TOKEN_TTL", 30 * 24 * 3600, least=1),
            max_upload_size=env_int("ALU_HUB_MAX_UPLOAD", 64 * GIB, least=1),
            # 0 (the default): no cap on a chunk but the upload's length
            max_chunk_size=env_int("ALU_HUB_MAX_CHUNK", 0, least=0) or None,
            max_metadata_bytes=_metadata_limit(),
            signin_window_s=env_int("ALU_HUB_SIGNIN_WINDOW", 15 * 60, least=1),
            # (a limit of 0 turns that limit off, on purpose)
            signin_max_failures_per_user=env_int("ALU_HUB_SIGNIN_MAX_PER_USER", 10, least=0),
            signin_max_failures_per_address=env_int("ALU_HUB_SIGNIN_MAX_PER_ADDRESS", 50, least=0),
            trusted_proxies=_proxies(os.environ.get("ALU_HUB_TRUSTED_PROXIES")),
            client_version=os.environ.get("ALU_HUB_CLIENT_VERSION", ""),
            media_workers=env_int("ALU_HUB_MEDIA_WORKERS", 1, least=0),
            media_nice=env_int("ALU_HUB_MEDIA_NICE", 10),
            storage_url=os.environ.get("ALU_HUB_STORAGE", ""),
            s3_endpoint=os.environ.get("ALU_HUB_S3_ENDPOINT", ""),
            s3_public_endpoint=os.environ.get("ALU_HUB_S3_PUBLIC_ENDPOINT", ""),
            s3_region=os.environ.get("ALU_HUB_S3_REGION", ""),
            s3_url_ttl_s=env_int("ALU_HUB_S3_URL_TTL", 600),
            s3_part_size=env_int("ALU_HUB_S3_PART_SIZE", 16 * MIB),
            s3_orphan_grace_s=env_int("ALU_HUB_S3_ORPHAN_GRACE", 24 * 3600, least=0),
        )


class SettingsError(ValueError):
    """A setting from the environment the hub cannot take, in words for the operator."""


def env_int(name: str, default: int, *, least: int | None = None) -> int:
    """The whole number in the environment variable ``name``, or ``default`` when unset; one
    below ``least`` is refused."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {value!r}.") from None
    if least is not None and number < least:
        raise SettingsError(f"{name} must be at least {least}, not {value!r}.")
    return number


def _metadata_limit() -> int:
    """``ALU_HUB_MAX_METADATA``: lowers the Upload-Metadata limit to what the members' own tus
    clients can read back when they resume (docs/operations.md); it cannot be raised, the
    request headers' room (``max_header_bytes``) is made for 192 KiB."""
    default = Settings.max_metadata_bytes
    limit = env_int("ALU_HUB_MAX_METADATA", default, least=KIB)
    if limit > default:
        raise SettingsError(
            f"ALU_HUB_MAX_METADATA can lower the limit of {default} bytes, not raise it "
            f"(not {limit})."
        )
    return limit


def _proxies(value: str | None) -> tuple[str, ...]:
    """``ALU_HUB_TRUSTED_PROXIES``: comma-separated addresses or networks; unset: loopback;
    empty or ``none``: no proxy is trusted; ``*``: every peer. Anything else is refused:
    uvicorn took a name (``localhost``) or a list separated otherwise for a literal no peer
    ever matches, so the hub trusted no proxy, and behind TLS built ``http://`` upload
    addresses that failed."""
    if value is None:
        return LOOPBACK
    if value.strip().lower() in ("", "none"):
        return ()
    if value.strip() == "*":
        return ("*",)  # every peer (uvicorn's word): a hub only a proxy can reach, e.g. in Docker
    proxies = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            if "/" in part:  # as uvicorn reads it (10.0.0.1/8 is 10.0.0.0/8: it took a name)
                part = str(ipaddress.ip_network(part, strict=False))
            else:
                ipaddress.ip_address(part)
        except ValueError:
            raise SettingsError(
                f"ALU_HUB_TRUSTED_PROXIES must be IP addresses or networks separated by commas "
                f"(like 127.0.0.1,10.0.0.0/8), or none; {part[:60]!r} is not one."
            ) from None
        proxies.append(part)
    return tuple(proxies)
