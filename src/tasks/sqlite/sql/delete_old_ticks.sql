-- Forgets fired ticks long past, which no scheduler will try again.
-- :before INTEGER (epoch ms, exclusive).
DELETE FROM ticks WHERE tick_at < :before
