-- Appends one event to the log that events() tails.
-- :type TEXT, :jobId TEXT or NULL, :queue TEXT, :workerId TEXT or NULL, :at INTEGER (epoch ms).
INSERT INTO events (type, job_id, queue, worker_id, at) VALUES (:type, :jobId, :queue, :workerId, :at)
