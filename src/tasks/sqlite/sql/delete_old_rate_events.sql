-- Forgets rate-limit starts older than any window in use.
-- :before INTEGER (epoch ms, exclusive).
DELETE FROM rate_events WHERE at < :before
