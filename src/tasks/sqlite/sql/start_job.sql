-- Claims one queued job for a worker: running, leased, its attempt counted, its last progress cleared.
-- :seq INTEGER (the row), :workerId TEXT, :leaseUntil INTEGER, :now INTEGER (epoch ms).
UPDATE jobs
SET state = 'running', worker_id = :workerId, lease_until = :leaseUntil, attempt = attempt + 1,
    started_at = :now, progress = NULL
WHERE seq = :seq AND state = 'queued'
