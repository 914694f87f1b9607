-- Moves the scheduled jobs of a queue whose time has come to queued.
-- :queue TEXT, :now INTEGER (epoch ms).
UPDATE jobs SET state = 'queued' WHERE state = 'scheduled' AND queue = :queue AND run_at <= :now
