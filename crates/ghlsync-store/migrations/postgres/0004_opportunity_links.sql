-- The application's key for an opportunity (`project:42`) and the GHL opportunity it became,
-- per location: how a later rule finds the opportunity to update.

CREATE TABLE opportunity_links (
    location_id    TEXT NOT NULL,
    app_key        TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    PRIMARY KEY (location_id, app_key)
);
