-- Ends a running job whose lease ran out: :state ('dead', 'failed' or 'cancelled') with :error.
-- :seq INTEGER (the row), :state TEXT, :error TEXT (JSON) or NULL, :now INTEGER (epoch ms).
UPDATE jobs
SET state = :state, error = coalesce(:error, error), finished_at = :now,
    expires_at = CASE WHEN :state = 'dead' THEN NULL ELSE :now + result_ttl_ms END,
    worker_id = NULL, lease_until = NULL
WHERE seq = :seq AND state = 'running'
