-- Enqueue-to-finish times in ms of the jobs of a queue that finished (succeeded, failed, dead) since
-- :since. :queue TEXT, :since INTEGER (epoch ms).
SELECT finished_at - created_at AS ms FROM jobs
WHERE finished_at IS NOT NULL AND queue = :queue AND state IN ('succeeded', 'failed', 'dead')
  AND finished_at >= :since
