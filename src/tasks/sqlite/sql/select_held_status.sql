-- What a worker's attempts have become: one row per given job that still exists.
-- :ids TEXT (JSON array of job ids).
SELECT id, state, worker_id, attempt, cancel_requested FROM jobs
WHERE id IN (SELECT value FROM json_each(:ids))
