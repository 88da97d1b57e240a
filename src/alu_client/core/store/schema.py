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
    # 2: the library, hub profiles, sync, history, auto-download rules and hot folders
    """
    -- A command for the engine from another process (`alu queue pause 7` while the app runs):
    -- 'pause' or 'cancel', applied and cleared by the engine holding the data folder.
    ALTER TABLE transfers ADD COLUMN request TEXT NOT NULL DEFAULT '';
    -- A hub the workstation signs in to. The token is in the OS keyring, never here.
    CREATE TABLE profiles (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        username TEXT NOT NULL,
        device TEXT NOT NULL DEFAULT '',
        ca_bundle TEXT NOT NULL DEFAULT '',           -- '' = the system's trust store
        proxy TEXT NOT NULL DEFAULT '',               -- '' = the system's proxy settings
        allow_http INTEGER NOT NULL DEFAULT 0,        -- plain HTTP only when the user said so
        member TEXT NOT NULL DEFAULT '{}',            -- JSON: who signed in (name, role, country)
        created_at REAL NOT NULL
    );
    -- Every item seen in a hub's feed. Ordered by the hub's seq, never by clocks.
    CREATE TABLE items (
        pk INTEGER PRIMARY KEY,
        profile TEXT NOT NULL,
        id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        slug TEXT NOT NULL DEFAULT '',
        dateline TEXT NOT NULL DEFAULT '',
        recorded_at TEXT,                             -- ISO 8601 UTC, as the hub said
        published_at TEXT NOT NULL,                   -- same, fixed width: text order = time order
        category TEXT NOT NULL DEFAULT '',
        region TEXT NOT NULL DEFAULT '',
        country TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '',
        priority INTEGER NOT NULL DEFAULT 2,          -- 0 flash, 1 urgent, 2 routine
        restrictions TEXT NOT NULL DEFAULT '',
        script TEXT NOT NULL DEFAULT '',
        shotlist TEXT NOT NULL DEFAULT '',
        duration REAL NOT NULL DEFAULT 0,
        source_member TEXT NOT NULL DEFAULT '',       -- username, for member uploads
        thumbnail_url TEXT NOT NULL DEFAULT '',
        renditions TEXT NOT NULL DEFAULT '[]',        -- JSON list as the hub sent it
        first_seen_at REAL NOT NULL,
        read_at REAL,
        rules_done INTEGER NOT NULL DEFAULT 0,        -- auto-download rules evaluated (once)
        UNIQUE (profile, id)
    );
    -- Browsing and search, newest first: every filter column is in the index, so a filtered
    -- page reads only its own rows (with their long scripts), never the ones it skips.
    CREATE INDEX ix_items_seq ON items (
        profile, seq, id, published_at, priority, language, category, region, country, kind,
        read_at
    );
    CREATE INDEX ix_items_unread ON items (profile, seq) WHERE read_at IS NULL;
    CREATE INDEX ix_items_rules ON items (profile, rules_done) WHERE rules_done = 0;
    -- Full-text index over normalised text (Arabic diacritics and letter forms folded by the
    -- library code), kept by the library in the same transaction as the item row. Contentless:
    -- the text lives once, in items; an update first deletes the old terms ('delete' command).
    -- rowid = items.pk. No positions (detail=none: searches are words, not phrases; a third
    -- smaller and 2-3x faster on common words) and prefix indexes for the word being typed.
    CREATE VIRTUAL TABLE items_fts USING fts5(
        title, slug, dateline, script, shotlist,
        content='', detail=none, prefix='2 3', tokenize='unicode61 remove_diacritics 2'
    );
    -- A rendition file on this workstation, verified when it was written.
    CREATE TABLE library_files (
        id INTEGER PRIMARY KEY,
        profile TEXT NOT NULL,
        item_id TEXT NOT NULL,
        rendition TEXT NOT NULL,                      -- broadcast | proxy
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        verified_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'present' CHECK (state IN ('present', 'missing', 'removed')),
        reason TEXT NOT NULL DEFAULT '',              -- why missing (gone, size changed, ...)
        checked_at REAL,
        transfer_id INTEGER,
        probe TEXT,                                   -- JSON: duration, codecs, size, audio
        probe_error TEXT NOT NULL DEFAULT '',
        thumbnail TEXT NOT NULL DEFAULT '',           -- file under the cache folder
        UNIQUE (profile, item_id, rendition)
    );
    CREATE INDEX ix_library_files_verified ON library_files (state, verified_at);
    -- What the media worker has still to probe.
    CREATE INDEX ix_library_files_probe ON library_files (id)
        WHERE probe IS NULL AND probe_error = '' AND state = 'present';
    -- Transfer outcomes (written here first: the outbox) and the member's events from its
    -- other workstations (pulled from the hub).
    CREATE TABLE history (
        id TEXT PRIMARY KEY,                          -- event UUID, made where it happened
        profile TEXT NOT NULL,
        type TEXT NOT NULL,
        item_id TEXT,
        rendition TEXT NOT NULL DEFAULT '',
        bytes INTEGER NOT NULL DEFAULT 0,
        started_at REAL,
        ended_at REAL,
        device TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '{}',            -- JSON: label, speed, rule, error, ...
        transfer_id INTEGER,
        origin TEXT NOT NULL CHECK (origin IN ('here', 'hub')),
        hub_seq INTEGER,                              -- the hub's order, once known
        sent_at REAL                                  -- NULL and origin 'here': in the outbox
    );
    CREATE INDEX ix_history_outbox ON history (profile, origin, sent_at);
    CREATE INDEX ix_history_time ON history (profile, ended_at);
    -- Cursors and flags per profile: feed seq, history seq, last contact.
    CREATE TABLE sync_state (
        profile TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (profile, key)
    );
    CREATE TABLE rules (
        id INTEGER PRIMARY KEY,
        profile TEXT NOT NULL,
        name TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        position REAL NOT NULL,
        conditions TEXT NOT NULL DEFAULT '{}',        -- JSON: field -> accepted values, words
        action TEXT NOT NULL DEFAULT 'broadcast'
            CHECK (action IN ('broadcast', 'proxy', 'proxy_then_broadcast')),
        destination TEXT NOT NULL DEFAULT '',         -- '' = the download folder
        created_at REAL NOT NULL,
        UNIQUE (profile, name)
    );
    CREATE TABLE watch_folders (
        id INTEGER PRIMARY KEY,
        profile TEXT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        enabled INTEGER NOT NULL DEFAULT 1,
        defaults TEXT NOT NULL DEFAULT '{}',          -- JSON: item fields for files without sidecar
        sent_dir TEXT NOT NULL DEFAULT 'sent',        -- relative to the folder, or absolute
        settle_seconds REAL NOT NULL DEFAULT 10,
        created_at REAL NOT NULL
    );
    -- Every file a hot folder took: never uploaded twice, errors reported once.
    CREATE TABLE watch_files (
        id INTEGER PRIMARY KEY,
        folder_id INTEGER NOT NULL REFERENCES watch_folders (id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        sha256 TEXT,
        state TEXT NOT NULL CHECK (state IN ('uploading', 'sent', 'error')),
        transfer_id INTEGER,
        error TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL,
        UNIQUE (folder_id, path, size, mtime_ns)
    );
    CREATE INDEX ix_watch_files_sha ON watch_files (sha256)
    """,
    # failed attempts in a row without a byte moved: what the back-off grows with (attempts
    # counts them all; a long transfer that had outages must not wait minutes at the next one)
    """
    ALTER TABLE transfers ADD COLUMN failures INTEGER NOT NULL DEFAULT 0
    """,
    # 4: an event is kept once per profile (was once in all): a new profile for the same account
    # (the hub at another address) skipped every event the old one held and never showed them.
    # The rows keep their rowid: the outbox is sent in that order.
    """
    CREATE TABLE history_by_profile (
        id TEXT NOT NULL,                             -- event UUID, made where it happened
        profile TEXT NOT NULL,
        type TEXT NOT NULL,
        item_id TEXT,
        rendition TEXT NOT NULL DEFAULT '',
        bytes INTEGER NOT NULL DEFAULT 0,
        started_at REAL,
        ended_at REAL,
        device TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '{}',            -- JSON: label, speed, rule, error, ...
        transfer_id INTEGER,
        origin TEXT NOT NULL CHECK (origin IN ('here', 'hub')),
        hub_seq INTEGER,                              -- the hub's order, once known
        sent_at REAL,                                 -- NULL and origin 'here': in the outbox
        PRIMARY KEY (profile, id)
    );
    INSERT INTO history_by_profile (rowid, id, profile, type, item_id, rendition, bytes,
        started_at, ended_at, device, detail, transfer_id, origin, hub_seq, sent_at)
        SELECT rowid, id, profile, type, item_id, rendition, bytes, started_at, ended_at,
        device, detail, transfer_id, origin, hub_seq, sent_at FROM history;
    DROP TABLE history;
    ALTER TABLE history_by_profile RENAME TO history;
    CREATE INDEX ix_history_outbox ON history (profile, origin, sent_at);
    CREATE INDEX ix_history_time ON history (profile, ended_at)
    """,
    # 5: when an event was recorded on a clock no one sets (the time since the machine booted,
    # and which boot): a clock set right between an event and its sending moved the event by
    # as much in the hub's reports (``history.clock_now``)
    """
    ALTER TABLE history ADD COLUMN boot TEXT NOT NULL DEFAULT '';
    ALTER TABLE history ADD COLUMN boot_clock REAL
    """,
    # 6: the search index folds the Arabic article off words (``library.text.normalize``): the
    # terms stored before are made again from the items (``alu_search_text`` is that function,
    # registered by the store for its migrations), or "انتخابات" never found "الانتخاباتُ"
    """
    INSERT INTO items_fts (items_fts) VALUES ('delete-all');
    INSERT INTO items_fts (rowid, title, slug, dateline, script, shotlist)
        SELECT pk, alu_search_text(title), alu_search_text(slug), alu_search_text(dateline),
        alu_search_text(script), alu_search_text(shotlist) FROM items
    """,
    # 7: the history a profile skipped before 4 comes after all: a profile sharing its account
    # (user name) with another one skipped every event that one held, its cursor went past
    # them, and 4 left the cursor there. Such profiles read the member's history again from
    # the start (once; an event already here is kept once, ``HistorySync._store_remote``).
    """
    DELETE FROM sync_state WHERE key IN ('history_seq', 'history_seq_at') AND profile IN (
        SELECT p.name FROM profiles AS p WHERE EXISTS (SELECT 1 FROM profiles AS o
            WHERE lower(o.username) = lower(p.username) AND o.name <> p.name)
    )
    """,
    # 8: the files a hot folder sent lately (watched in the sent folder for a while, at every
    # scan): read without going through the folder's whole history, which is never pruned
    """
    CREATE INDEX IF NOT EXISTS ix_watch_files_recent ON watch_files (folder_id, state, at)
    """,
    # 9: a transfer's log stays bounded: attempts in a row that failed alike (a hub down for a
    # weekend, tried every few minutes) are one row counting them, its ``at`` the last one
    """
    ALTER TABLE transfer_log ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1
    """,
    # 10: what a hot folder knew only while it ran, lost at a restart: a file in error after a
    # fault that may pass is tried again (it stayed an error until it changed); a file put back
    # from sent/ waits for its sidecar still there (it went out without the sidecar's fields);
    # why a folder cannot be scanned is shown (Settings, `alu watch list`), not only logged
    """
    ALTER TABLE watch_files ADD COLUMN retry INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE watch_files ADD COLUMN sidecar_behind TEXT;
    ALTER TABLE watch_folders ADD COLUMN problem TEXT NOT NULL DEFAULT ''
    """,
    # 11: a file put back from sent/ that waits for its sidecar: the wait is a row of its own,
    # not a column of the put-back report's row. Retry (dismissing that report) deleted the
    # row and the wait with it, and after a restart the clip went out without its sidecar's
    # fields. (``watch_files.sidecar_behind`` stays the report's: which sidecar was left.)
    """
    CREATE TABLE IF NOT EXISTS watch_sidecar_waits (
        folder_id INTEGER NOT NULL REFERENCES watch_folders (id) ON DELETE CASCADE,
        path TEXT NOT NULL,                           -- the file put back, in the hot folder
        sidecar TEXT NOT NULL,                        -- its sidecar, left in the sent folder
        PRIMARY KEY (folder_id, path)
    );
    INSERT OR IGNORE INTO watch_sidecar_waits (folder_id, path, sidecar)
        SELECT folder_id, path, sidecar_behind FROM watch_files WHERE sidecar_behind IS NOT NULL
    """,
    # 12: a library file's modification time (``st_mtime_ns``) as its file system gave it once
    # the download had put it in place: on a download folder several workstations share, one's
    # retention deleted the file another had downloaded since to the same name at the same
    # size. A file whose time is no longer this one was written again since: it is not deleted
    # as ours (``library.files.delete_recorded``). NULL for files recorded before: their size
    # alone says, as it did
    """
    ALTER TABLE library_files ADD COLUMN mtime_ns INTEGER
    """,
    # 13: a hot folder's file that another workstation watching the same (shared) folder took
    # over while this one slept is no error: a state of its own, 'taken_over' (it was stored as
    # an error, listed among the files not sent with a Retry that would have sent it twice).
    # SQLite cannot change a CHECK in place: the table is made again under another name with
    # every row (its id kept: transfers and the app refer to it), then takes the old one's
    # place, as 4 did for the history; the rows that were such a report become the new state.
    # Run again (a library taken back a version number) it does the same harmlessly.
    # And the files other workstations are sending, as this one's last scan found them
    # (``HotFolders.sent_elsewhere``: Settings and `alu watch list` show them; they were only
    # in the engine's memory and its log).
    """
    DROP TABLE IF EXISTS watch_files_rebuilt;
    CREATE TABLE watch_files_rebuilt (
        id INTEGER PRIMARY KEY,
        folder_id INTEGER NOT NULL REFERENCES watch_folders (id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        sha256 TEXT,
        state TEXT NOT NULL CHECK (state IN ('uploading', 'sent', 'error', 'taken_over')),
        transfer_id INTEGER,
        error TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL,
        retry INTEGER NOT NULL DEFAULT 0,
        sidecar_behind TEXT,
        UNIQUE (folder_id, path, size, mtime_ns)
    );
    INSERT INTO watch_files_rebuilt (id, folder_id, path, size, mtime_ns, sha256, state,
        transfer_id, error, at, retry, sidecar_behind)
        SELECT id, folder_id, path, size, mtime_ns, sha256,
        CASE WHEN state = 'error' AND transfer_id IS NULL AND error LIKE '% was taken over by %,'
            || ' another workstation watching this folder, while this one was asleep or off the'
            || ' network: it is sent from there, and its upload here was canceled. Nothing needs'
            || ' to be done.' THEN 'taken_over' ELSE state END,
        transfer_id, error, at, retry, sidecar_behind FROM watch_files;
    DROP TABLE watch_files;
    ALTER TABLE watch_files_rebuilt RENAME TO watch_files;
    CREATE INDEX IF NOT EXISTS ix_watch_files_sha ON watch_files (sha256);
    CREATE INDEX IF NOT EXISTS ix_watch_files_recent ON watch_files (folder_id, state, at);
    CREATE TABLE IF NOT EXISTS watch_elsewhere (
        folder_id INTEGER NOT NULL REFERENCES watch_folders (id) ON DELETE CASCADE,
        path TEXT NOT NULL,                           -- the file, in the hot folder
        host TEXT NOT NULL,                           -- the workstation sending it (its claim)
        since REAL NOT NULL,                          -- epoch seconds: first seen so here
        PRIMARY KEY (folder_id, path)
    )
    """,
    # 14: who sent an item, as the Feed says it ("Sent by Kenya TV"): the uploading member's
    # name as people know it and its role (an agency account's upload is the agency's), which
    # the hub sends and were dropped (items stored before keep '' and show the user name).
    # The member's own uploads stored before are not unread news: marked read as the feed sync
    # now marks them when they arrive (``upsert_items``).
    """
    ALTER TABLE items ADD COLUMN source_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE items ADD COLUMN source_role TEXT NOT NULL DEFAULT '';
    UPDATE items SET read_at = first_seen_at WHERE read_at IS NULL
        AND kind = 'member_upload' AND source_member <> ''
        AND source_member = (SELECT p.username FROM profiles AS p WHERE p.name = items.profile)
    """,
    # 15: the search folds the ligatures œ and æ (sœur is soeur) and Arabic-Indic digits (٢٠٢٦
    # is 2026): the index is made again from the items with the new folding, as in 6
    """
    INSERT INTO items_fts (items_fts) VALUES ('delete-all');
    INSERT INTO items_fts (rowid, title, slug, dateline, script, shotlist)
        SELECT pk, alu_search_text(title), alu_search_text(slug), alu_search_text(dateline),
        alu_search_text(script), alu_search_text(shotlist) FROM items
    """,
    # 16: a rule's words are whole words ("UN" took "une" and "under"), a trailing * asks for
    # a prefix ("rain*" finds "rainfall"). The words of the rules saved before keep their
    # meaning, written with the * (``rules.conditions.legacy_word``), except acronyms and
    # words of fewer than four letters, which are whole from now on: they take fewer items,
    # never more. With such rules, Settings › Auto-download says it once
    # (``AppSettings.rule_words_notice``): it was only in the README
    """
    UPDATE rules SET conditions = alu_rule_words(conditions) WHERE conditions LIKE '%"words"%';
    INSERT OR IGNORE INTO settings (key, value) SELECT 'app.rule_words_notice', 'true'
        WHERE EXISTS (SELECT 1 FROM rules WHERE conditions LIKE '%"words"%')
    """,
    # 17: "older than a day" is now measured from when an item reached the workstation (it
    # was from the evaluation). Items stored before and never evaluated — `alu sync` and `alu
    # feed` ran no rule before 16 — would all be new to the first engine of this version: a
    # workstation synced for days queued days of old items. Those published more than a day
    # ago are marked evaluated, as the engine before would have skipped them
    """
    UPDATE items SET rules_done = 1
        WHERE rules_done = 0 AND julianday(published_at) < julianday('now') - 1
    """,
    # 18: the agency corrects and withdraws items it published (the hub's ``revision``,
    # ``corrected_at``, ``correction_note``, ``withdrawn_at``, ``withdrawn_reason``): kept with
    # the item, so the Feed, the Library and `alu feed` say it, the rules and `alu get` leave a
    # withdrawn item alone. Items stored before stand as published (revision 1)
    """
    ALTER TABLE items ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE items ADD COLUMN corrected_at TEXT;
    ALTER TABLE items ADD COLUMN correction_note TEXT NOT NULL DEFAULT '';
    ALTER TABLE items ADD COLUMN withdrawn_at TEXT;
    ALTER TABLE items ADD COLUMN withdrawn_reason TEXT NOT NULL DEFAULT ''
    """,
    # 19: this workstation's events are listed on the hub's clock, as the agency's report
    # counts them: ``hub_shift`` is how far the hub's time of the event is from the one this
    # workstation's clock gave it (the kept clock offset when it was recorded, then the hub's
    # own once the event comes back from it); ``ended_at`` stays this clock's, as it is sent.
    # A clock a year behind listed its own downloads a year back. The member's history is read
    # again from the start (once, as in 7) so that events sent before come back with the
    # hub's time (each event is kept once, ``HistorySync._store_remote``): the profiles that
    # sent events of their own only
    """
    ALTER TABLE history ADD COLUMN hub_shift REAL NOT NULL DEFAULT 0;
    CREATE INDEX IF NOT EXISTS ix_history_hub_time ON history (profile, ended_at + hub_shift);
    DELETE FROM sync_state WHERE key IN ('history_seq', 'history_seq_at') AND profile IN (
        SELECT DISTINCT profile FROM history WHERE origin = 'here' AND sent_at IS NOT NULL)
    """,
    # 20: how long a transfer ran, measured on the monotonic clock and summed over its runs
    # (a pause, a retry, an engine stopped and started): its history event's duration and
    # speed. They were the wall clock's finished_at - started_at, and a clock set during a
    # download made "176 bit/s, 1 d 0 h" of 19 s. Transfers ended before keep their events
    """
    ALTER TABLE transfers ADD COLUMN run_seconds REAL NOT NULL DEFAULT 0
    """,
]
