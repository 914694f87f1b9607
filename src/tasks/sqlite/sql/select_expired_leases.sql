-- Running jobs whose lease ran out before :now, oldest lease first (read through the small partial
-- index of running jobs).
-- :now INTEGER (epoch ms), :limit INTEGER.
SELECT seq, id, queue, worker_id, attempt, max_attempts, dead_letter, cancel_requested FROM jobs
WHERE state = 'running' AND lease_until < :now
ORDER BY lease_until
LIMIT :limit
