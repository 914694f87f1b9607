-- Stores the last progress value of a running job held by this worker. Returns the queue.
-- :id TEXT, :workerId TEXT, :progress BLOB.
UPDATE jobs SET progress = :progress
WHERE id = :id AND state = 'running' AND worker_id = :workerId
RETURNING queue
