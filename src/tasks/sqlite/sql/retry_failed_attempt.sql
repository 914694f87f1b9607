-- Records a failed attempt that will be retried: queued when :retryAt is due, else scheduled; the
-- attempt count stays (it was counted at claim). A job whose cancellation was requested is not retried
-- but ends cancelled. Returns queue and the state reached (no row: the lease is not held).
-- :id TEXT, :workerId TEXT, :error TEXT (JSON), :retryAt INTEGER, :now INTEGER (epoch ms).
UPDATE jobs
SET state = CASE WHEN cancel_requested THEN 'cancelled' WHEN :retryAt <= :now THEN 'queued' ELSE 'scheduled' END,
    run_at = CASE WHEN cancel_requested THEN run_at ELSE :retryAt END,
    finished_at = CASE WHEN cancel_requested THEN :now ELSE NULL END,
    expires_at = CASE WHEN cancel_requested THEN :now + result_ttl_ms ELSE NULL END,
    error = :error, worker_id = NULL, lease_until = NULL
WHERE id = :id AND state = 'running' AND worker_id = :workerId
RETURNING queue, state
