-- Ends a running job as cancelled on behalf of the worker holding its lease.
-- :id TEXT, :workerId TEXT, :now INTEGER (epoch ms). Returns the queue (no row: not held).
UPDATE jobs
SET state = 'cancelled', finished_at = :now, expires_at = :now + result_ttl_ms,
    worker_id = NULL, lease_until = NULL
WHERE id = :id AND state = 'running' AND worker_id = :workerId
RETURNING queue
