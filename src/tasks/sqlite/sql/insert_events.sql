-- Appends events to the log that events() tails, in the order given (ids grow in that order).
-- :events TEXT (JSON array of [type, jobId or null, queue, workerId or null]), :at INTEGER (epoch ms).
INSERT INTO events (type, job_id, queue, worker_id, at)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, :at FROM json_each(:events) ORDER BY key
