-- The inbox, rebuilt for two reasons:
-- * AUTOINCREMENT rewrote sqlite_sequence in every group commit, one more page to write and
--   sync per commit. Without it an id is one more than the largest stored, just as unique
--   and increasing because events are never deleted (done events stay, for audit and replay).
-- * The pending index is keyed by id (run_at is in it to filter on) instead of run_at, so a
--   claim reads due events through it in id order instead of walking the whole table.
CREATE TABLE inbox_rebuilt (
    id           INTEGER PRIMARY KEY,
    source       TEXT NOT NULL,
    -- Repeats are recognised in memory (see sqlite.rs): a unique index on random keys
    -- would write a random page per event at every group commit.
    dedupe_key   TEXT,
    event_type   TEXT NOT NULL,
    location_id  TEXT,
    route        TEXT,
    meta         TEXT NOT NULL,
    body         BLOB NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    claims       INTEGER NOT NULL DEFAULT 0,
    run_at       INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  INTEGER,
    last_error   TEXT,
    received_at  INTEGER NOT NULL,
    processed_at INTEGER
);
INSERT INTO inbox_rebuilt (id, source, dedupe_key, event_type, location_id, route, meta, body,
    state, attempts, claims, run_at, lease_owner, lease_until, last_error, received_at,
    processed_at)
SELECT id, source, dedupe_key, event_type, location_id, route, meta, body, state, attempts,
    claims, run_at, lease_owner, lease_until, last_error, received_at, processed_at
FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_rebuilt RENAME TO inbox;
CREATE INDEX inbox_pending ON inbox(id, run_at) WHERE state = 'pending';
CREATE INDEX inbox_leases ON inbox(lease_until) WHERE state = 'running';
