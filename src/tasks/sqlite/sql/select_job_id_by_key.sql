-- The id of the job holding an idempotency key in a queue.
-- :queue TEXT, :idempotencyKey TEXT.
SELECT id FROM jobs WHERE queue = :queue AND idempotency_key = :idempotencyKey
