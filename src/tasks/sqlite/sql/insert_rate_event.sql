-- Counts one start against a rate-limit key.
-- :queue TEXT, :key TEXT, :at INTEGER (epoch ms).
INSERT INTO rate_events (queue, key, at) VALUES (:queue, :key, :at)
