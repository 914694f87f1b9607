-- Flags a running job for cancellation; its worker aborts the task and calls cancelled().
-- :id TEXT.
UPDATE jobs SET cancel_requested = 1 WHERE id = :id AND state = 'running'
