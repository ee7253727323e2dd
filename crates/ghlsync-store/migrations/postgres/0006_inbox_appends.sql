-- The claim reads due events through this index in id order (run_at is in it to filter
-- on), and a new event's entry is appended to its last page.
DROP INDEX inbox_pending;
CREATE INDEX inbox_pending ON inbox(id, run_at) WHERE state = 'pending';
