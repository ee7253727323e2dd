-- How a workflow route recognises a resent event (`RouteDedupe` as JSON): the sender's id
-- from a header or a body field, else the body's digest within a window. Routes made
-- before this have neither a field nor a window of their own.
ALTER TABLE workflow_routes ADD COLUMN dedupe TEXT NOT NULL DEFAULT '{}';
