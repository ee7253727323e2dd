-- When each mirrored value of a contact changed, as JSON `{"at": {key: ms}, "decided": {key:
-- ms}}` with keys `field:<name>`, `custom:<id>`, `tag:<name>`: when GHL got the value, and
-- for a value ghlsync wrote when the application decided it. Echo suppression and the
-- conflict rule between GHL's edits and the application's (last writer per value, by
-- time) read and keep it.

ALTER TABLE contacts ADD COLUMN value_times TEXT NOT NULL DEFAULT '{}';

-- A GHL webhook names the contact; its person is found through the id map.
CREATE INDEX id_map_contact ON id_map(location_id, contact_id);
