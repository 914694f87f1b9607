-- Forgets the starts of a rate-limit key that fell out of its window.
-- :queue TEXT, :key TEXT, :until INTEGER (epoch ms, inclusive).
DELETE FROM rate_events WHERE queue = :queue AND key = :key AND at <= :until
