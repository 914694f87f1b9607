-- The events of the given types (broker.ts NEWS_TYPES) after the last one a tail saw and up to a bound
-- read just before, in log order: a worker's wake-ups without reading every job's start and end.
-- :after, :upto INTEGER (event ids); :types TEXT (JSON array of strings); :limit INTEGER.
-- The LIMIT is an expression, not a bare parameter: SQLite re-prepares a statement whose bare LIMIT
-- parameter is bound again, at every call (sqlite-broker.test.ts checks every statement for this).
SELECT id, type, job_id, queue, worker_id, at FROM events
WHERE id > :after AND id <= :upto AND type IN (SELECT value FROM json_each(:types))
ORDER BY id
LIMIT CAST(:limit AS INTEGER)
