-- What ghlsync knows of each person of the application (JSON), per location and subject.
-- `version` makes concurrent updates safe: a write names the version it read.

CREATE TABLE profiles (
    location_id TEXT NOT NULL,
    subject     TEXT NOT NULL,
    profile     TEXT NOT NULL,
    version     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (location_id, subject)
);
