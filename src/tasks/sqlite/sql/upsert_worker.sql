-- Records a worker's heartbeat.
-- :workerId TEXT, :queue TEXT, :info TEXT (JSON), :now INTEGER (epoch ms).
INSERT INTO workers (worker_id, queue, info, last_seen) VALUES (:workerId, :queue, :info, :now)
ON CONFLICT (worker_id) DO UPDATE SET queue = excluded.queue, info = excluded.info, last_seen = excluded.last_seen
