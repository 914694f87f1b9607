-- Records the last failed attempt: dead (kept until retried by hand, no expiry) when the job asked for
-- dead-lettering, else failed (kept for its result TTL). Returns queue and the state reached.
-- :id TEXT, :workerId TEXT, :error TEXT (JSON), :now INTEGER (epoch ms).
UPDATE jobs
SET state = CASE WHEN dead_letter THEN 'dead' ELSE 'failed' END, error = :error, finished_at = :now,
    expires_at = CASE WHEN dead_letter THEN NULL ELSE :now + result_ttl_ms END,
    worker_id = NULL, lease_until = NULL
WHERE id = :id AND state = 'running' AND worker_id = :workerId
RETURNING queue, state
