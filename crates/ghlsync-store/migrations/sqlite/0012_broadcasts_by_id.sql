-- An admin names a broadcast by its id alone (seed 004's process_broadcast with the
-- service role): its owner is found without reading every owner's broadcasts.
CREATE INDEX broadcasts_by_id ON broadcasts (id);
