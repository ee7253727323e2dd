-- ghlsync schema, SQLite dialect. Times are milliseconds since the epoch; JSON is TEXT.

CREATE TABLE locations (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    integration_type TEXT NOT NULL,
    token_ciphertext BLOB NOT NULL,
    field_mapping    TEXT NOT NULL DEFAULT '{}',
    active           INTEGER NOT NULL DEFAULT 1,
    last_sync_at     INTEGER,
    last_sync_status TEXT,
    last_sync_error  TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE workflow_routes (
    name              TEXT PRIMARY KEY,
    location_id       TEXT NOT NULL REFERENCES locations(id),
    auth              TEXT NOT NULL,
    secret_ciphertext BLOB NOT NULL,
    action            TEXT NOT NULL,
    created_at        INTEGER NOT NULL
);

CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
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
-- Partial indexes: a new event touches only the primary key and the pending index, which
-- keeps group commits cheap; done events leave both claim indexes.
CREATE INDEX inbox_pending ON inbox(run_at) WHERE state = 'pending';
CREATE INDEX inbox_leases ON inbox(lease_until) WHERE state = 'running';

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    location_id     TEXT NOT NULL,
    kind            TEXT NOT NULL,
    command         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    ordering_key    TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    claims          INTEGER NOT NULL DEFAULT 0,
    run_at          INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_error      TEXT,
    result          TEXT,
    source_event    INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(run_at) WHERE state = 'queued';
CREATE INDEX jobs_leases ON jobs(lease_until) WHERE state = 'running';
CREATE INDEX jobs_open_by_key ON jobs(ordering_key, id) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_state ON jobs(state, id);

CREATE TABLE contacts (
    location_id   TEXT NOT NULL,
    contact_id    TEXT NOT NULL,
    email         TEXT,
    phone         TEXT,
    first_name    TEXT,
    last_name     TEXT,
    company_name  TEXT,
    tags          TEXT NOT NULL,
    custom_fields TEXT NOT NULL,
    payload       TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    deleted       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (location_id, contact_id)
);
CREATE INDEX contacts_email ON contacts(location_id, email);

CREATE TABLE notes (
    location_id TEXT NOT NULL,
    note_id     TEXT NOT NULL,
    contact_id  TEXT,
    body        TEXT,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (location_id, note_id)
);

CREATE TABLE opportunities (
    location_id    TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    contact_id     TEXT,
    name           TEXT,
    pipeline_id    TEXT,
    stage_id       TEXT,
    status         TEXT,
    monetary_value REAL,
    payload        TEXT NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (location_id, opportunity_id)
);

CREATE TABLE id_map (
    location_id TEXT NOT NULL,
    subject     TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (location_id, subject)
);

CREATE TABLE sync_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    location_id TEXT,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX sync_log_location ON sync_log(location_id, id);

CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat INTEGER NOT NULL
);
