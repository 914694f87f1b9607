-- Running jobs whose lease ran out before :now, oldest lease first (read through the small partial
-- index of running jobs).
-- :now INTEGER (epoch ms), :limit INTEGER.
-- The LIMIT is an expression, not a bare parameter: SQLite re-prepares a statement whose bare LIMIT
-- parameter is bound again, at every call (sqlite-broker.test.ts checks every statement for this).
SELECT seq, id, queue, worker_id, attempt, max_attempts, dead_letter, cancel_requested FROM jobs
WHERE state = 'running' AND lease_until < :now
ORDER BY lease_until
LIMIT CAST(:limit AS INTEGER)
