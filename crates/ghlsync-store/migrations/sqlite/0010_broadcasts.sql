-- Seed 004's voice broadcasts. An owner (a dialer user) has webhook keys (hashed), a
-- Do-Not-Call list and broadcasts; every read of them is scoped to one owner. Owners and
-- broadcasts are kept whole as JSON beside the columns their queries use.
CREATE TABLE owners (
    id          TEXT PRIMARY KEY,
    location_id TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE owner_keys (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX owner_keys_owner ON owner_keys(owner_id);

CREATE TABLE broadcasts (
    owner_id   TEXT NOT NULL,
    id         TEXT NOT NULL,
    status     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (owner_id, id)
);

CREATE TABLE dnc (
    owner_id TEXT NOT NULL,
    phone    TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (owner_id, phone)
);
