-- Claims queued jobs for a worker: running, leased, each attempt counted, each last progress cleared.
-- :seqs TEXT (JSON array of the rows' seq), :workerId TEXT, :leaseUntil INTEGER, :now INTEGER (epoch ms).
UPDATE jobs
SET state = 'running', worker_id = :workerId, lease_until = :leaseUntil, attempt = attempt + 1,
    started_at = :now, progress = NULL
WHERE seq IN (SELECT value FROM json_each(:seqs)) AND state = 'queued'
