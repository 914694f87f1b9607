-- Sends a dead or failed job back to queued with a fresh attempt count, as if newly enqueued.
-- :id TEXT, :now INTEGER (epoch ms). Returns the queue (no row: not dead or failed).
UPDATE jobs
SET state = 'queued', attempt = 0, run_at = :now, error = NULL, result = NULL, progress = NULL,
    started_at = NULL, finished_at = NULL, expires_at = NULL, worker_id = NULL, lease_until = NULL,
    cancel_requested = 0
WHERE id = :id AND state IN ('dead', 'failed')
RETURNING queue
