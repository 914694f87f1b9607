-- Records a success of a job whose lease this worker holds; returns its queue and expiry (no row: not
-- held).
-- :id TEXT, :workerId TEXT, :result BLOB, :now INTEGER (epoch ms).
UPDATE jobs
SET state = 'succeeded', result = :result, finished_at = :now, expires_at = :now + result_ttl_ms,
    worker_id = NULL, lease_until = NULL
WHERE id = :id AND state = 'running' AND worker_id = :workerId
RETURNING queue, expires_at
