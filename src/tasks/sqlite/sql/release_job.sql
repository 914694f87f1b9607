-- Gives a claimed job back unstarted: queued again (cancelled when cancellation was requested), its
-- attempt uncounted. :id TEXT, :workerId TEXT, :now INTEGER (epoch ms). Returns queue and state.
UPDATE jobs
SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END,
    finished_at = CASE WHEN cancel_requested THEN :now ELSE NULL END,
    expires_at = CASE WHEN cancel_requested THEN :now + result_ttl_ms ELSE NULL END,
    attempt = max(attempt - 1, 0), started_at = NULL, worker_id = NULL, lease_until = NULL
WHERE id = :id AND state = 'running' AND worker_id = :workerId
RETURNING queue, state
