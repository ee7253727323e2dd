-- Jobs are claimed location by location (see CLAIM_JOBS): the queued jobs of each location
-- in the order they are due, and the running jobs of each location with their leases, so
-- that a claim counts what a location already runs and takes its next jobs without reading
-- any other location's backlog. The index on run_at alone served the claim that took the
-- oldest jobs first, whichever location they were for; nothing else reads it.
DROP INDEX jobs_due;
CREATE INDEX jobs_lanes ON jobs(location_id, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_running ON jobs(location_id, lease_until) WHERE state = 'running';
