-- The pending index is keyed by id (run_at is in it to filter on) instead of run_at, so a
-- claim reads due events through it in id order instead of walking the primary key.
DROP INDEX inbox_pending;
CREATE INDEX inbox_pending ON inbox(id, run_at) WHERE state = 'pending';
