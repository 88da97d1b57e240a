"""Numbered schema steps. Never edit a released step: add the next one."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the transfer queue
    """
    CREATE TABLE transfers (
        id INTEGER PRIMARY KEY,
        direction TEXT NOT NULL CHECK (direction IN ('download', 'upload')),
        state TEXT NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'active', 'paused', 'done', 'failed', 'canceled')),
        priority INTEGER NOT NULL DEFAULT 2,          -- 0 flash, 1 urgent, 2 routine
        position REAL NOT NULL,                       -- manual order within a priority
        label TEXT NOT NULL DEFAULT '',               -- what the user sees (title or file name)
        source TEXT NOT NULL,                         -- URL (download) or local path (upload)
        destination TEXT NOT NULL,                    -- local path (download), tus URL (upload)
        size INTEGER,
        bytes_done INTEGER NOT NULL DEFAULT 0,
        sha256 TEXT,
        item_id TEXT,
        rendition TEXT,
        options TEXT NOT NULL DEFAULT '{}',           -- JSON: segments, chunk size, metadata, limit
        result TEXT NOT NULL DEFAULT '{}',            -- JSON: what the job returned
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        next_attempt_at REAL,                         -- epoch seconds; NULL = now
        pause_reason TEXT NOT NULL DEFAULT '',
        limit_bps REAL,                               -- per-transfer bandwidth limit
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    );
    CREATE INDEX ix_transfers_runnable ON transfers (direction, state, priority, position);
    -- Where a job stands (segments, upload URLs). Upload URLs are secrets: kept apart from the
    -- rows the UI lists and exports, never logged.
    CREATE TABLE transfer_checkpoints (
        transfer_id INTEGER PRIMARY KEY REFERENCES transfers (id) ON DELETE CASCADE,
        data TEXT NOT NULL DEFAULT '{}',
        updated_at REAL NOT NULL
    );
    -- What happened to a transfer, in order: attempts, errors, notes ("upload restarted").
    CREATE TABLE transfer_log (
        id INTEGER PRIMARY KEY,
        transfer_id INTEGER NOT NULL REFERENCES transfers (id) ON DELETE CASCADE,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX ix_transfer_log ON transfer_log (transfer_id, id);
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
]
