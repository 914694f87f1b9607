-- The state and queue of one job, read inside the cancel transaction.
-- :id TEXT.
SELECT state, queue FROM jobs WHERE id = :id
