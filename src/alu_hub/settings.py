"""Hub settings: one frozen object built from the command line or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

GIB = 1024**3


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
    #: Largest single PATCH body accepted; clients shrink their chunks on 413.
    max_chunk_size: int = 1 * GIB
    #: Signed download links (for players and other tools without the token) live this long.
    signed_url_ttl_s: int = 3600
    #: Seconds between keep-alive comments on the SSE stream (proxies cut idle streams).
    sse_keepalive_s: float = 15.0
    #: Make proxies and thumbnails for uploads in a worker pool of this size.
    media_workers: int = 1
    #: The client version the hub advertises as current (update check).
    client_version: str = ""
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
            token_ttl_s=int(os.environ.get("ALU_HUB_TOKEN_TTL", 30 * 24 * 3600)),
            max_upload_size=int(os.environ.get("ALU_HUB_MAX_UPLOAD", 64 * GIB)),
        )
