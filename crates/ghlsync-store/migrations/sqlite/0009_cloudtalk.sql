-- Seed 003's bridge. A GHL contact and its CloudTalk twin, per bridge (one GHL location and
-- one CloudTalk company): found from either side, one twin each way.
CREATE TABLE cloudtalk_links (
    bridge               TEXT NOT NULL,
    location_id          TEXT NOT NULL,
    ghl_contact_id       TEXT NOT NULL,
    cloudtalk_contact_id BIGINT NOT NULL,
    created_by_bridge    BOOLEAN NOT NULL,
    updated_at           BIGINT NOT NULL,
    PRIMARY KEY (bridge, ghl_contact_id)
);
CREATE UNIQUE INDEX cloudtalk_links_twin ON cloudtalk_links(bridge, cloudtalk_contact_id);

-- Fixed-window limits (CloudTalk counts operations per company per minute): how much of
-- the current window each key has used. One row per key; a new window replaces the old.
CREATE TABLE rate_windows (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    used         BIGINT NOT NULL
);
