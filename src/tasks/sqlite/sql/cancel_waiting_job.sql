-- Cancels a job that has not started: scheduled or queued becomes cancelled.
-- :id TEXT, :now INTEGER (epoch ms).
UPDATE jobs
SET state = 'cancelled', finished_at = :now, expires_at = :now + result_ttl_ms
WHERE id = :id AND state IN ('scheduled', 'queued')
