-- Extends the leases a worker still holds among the given jobs; returns the ids it holds.
-- :workerId TEXT, :ids TEXT (JSON array of job ids), :leaseUntil INTEGER (epoch ms).
UPDATE jobs SET lease_until = :leaseUntil
WHERE state = 'running' AND worker_id = :workerId AND id IN (SELECT value FROM json_each(:ids))
RETURNING id
