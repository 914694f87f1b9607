-- The events after the last one a tail saw, in log order.
-- :after INTEGER (event id), :limit INTEGER.
SELECT id, type, job_id, queue, worker_id, at FROM events WHERE id > :after ORDER BY id LIMIT :limit
