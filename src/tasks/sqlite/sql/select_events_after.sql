-- The events after the last one a tail saw, in log order.
-- :after INTEGER (event id), :limit INTEGER.
-- The LIMIT is an expression, not a bare parameter: SQLite re-prepares a statement whose bare LIMIT
-- parameter is bound again, at every call (sqlite-broker.test.ts checks every statement for this).
SELECT id, type, job_id, queue, worker_id, at FROM events WHERE id > :after ORDER BY id LIMIT CAST(:limit AS INTEGER)
