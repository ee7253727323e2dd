-- Seed 004's broadcast queue, the dialer's reports and the outcomes waiting for GHL.
-- An owner's engine secret is kept sealed (outcome reports are signed with it) and as a
-- hash (a lease request is found by it).
CREATE TABLE owner_engine_secrets (
    owner_id    TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    sealed      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Numbers queued so far: the next one's position.
ALTER TABLE broadcasts ADD COLUMN queued BIGINT NOT NULL DEFAULT 0;

-- A number is in a broadcast once: the unique index is the duplicate check.
CREATE TABLE broadcast_queue (
    id           TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL,
    broadcast_id TEXT NOT NULL,
    position     BIGINT NOT NULL,
    phone        TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       BIGINT NOT NULL,
    lease_id     TEXT,
    lease_until  BIGINT,
    last_outcome TEXT,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (owner_id, broadcast_id, phone)
);
-- A lease reads the due numbers of one broadcast in due order.
CREATE INDEX broadcast_queue_due ON broadcast_queue(owner_id, broadcast_id, due_at) WHERE state <> 'done';
CREATE INDEX broadcast_queue_position ON broadcast_queue(owner_id, broadcast_id, position);

-- Every report once, by the engine's event id.
CREATE TABLE call_reports (
    owner_id      TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    queue_item_id TEXT NOT NULL,
    final_outcome BOOLEAN NOT NULL,
    body          TEXT NOT NULL,
    received_at   BIGINT NOT NULL,
    PRIMARY KEY (owner_id, event_id)
);

-- Final outcomes for GHL (seed 004's ghl_pending_updates); their status is read from the
-- jobs a callback run enqueued for them (broadcast_pending_jobs).
CREATE TABLE broadcast_pending (
    id            TEXT PRIMARY KEY,
    owner_id      TEXT NOT NULL,
    broadcast_id  TEXT NOT NULL,
    queue_item_id TEXT NOT NULL UNIQUE,
    body          TEXT NOT NULL,
    taken_at      BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX broadcast_pending_waiting ON broadcast_pending(owner_id, broadcast_id, created_at) WHERE taken_at IS NULL;
CREATE INDEX broadcast_pending_broadcast ON broadcast_pending(owner_id, broadcast_id);

CREATE TABLE broadcast_pending_jobs (
    pending_id TEXT NOT NULL,
    job_key    TEXT NOT NULL,
    PRIMARY KEY (pending_id, job_key)
);
