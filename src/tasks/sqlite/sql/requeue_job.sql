-- Sends a running job whose lease ran out back to queued; the attempt it used stays counted.
-- :seq INTEGER (the row).
UPDATE jobs SET state = 'queued', worker_id = NULL, lease_until = NULL
WHERE seq = :seq AND state = 'running'
