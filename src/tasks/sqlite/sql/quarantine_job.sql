-- Takes a damaged row out of circulation: dead with an error saying why, never claimed again.
-- :seq INTEGER (the row), :error TEXT (JSON), :now INTEGER (epoch ms).
UPDATE jobs
SET state = 'dead', error = :error, finished_at = :now, expires_at = NULL, worker_id = NULL,
    lease_until = NULL
WHERE seq = :seq
