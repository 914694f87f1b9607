-- Jobs of a queue per state, each count read from the partial index of its state (a state with no
-- job has no row).
-- :queue TEXT.
SELECT 'queued' AS state, count(*) AS n FROM jobs WHERE state = 'queued' AND queue = :queue
UNION ALL
SELECT 'scheduled', count(*) FROM jobs WHERE state = 'scheduled' AND queue = :queue
UNION ALL
SELECT 'running', count(*) FROM jobs WHERE state = 'running' AND queue = :queue
UNION ALL
SELECT state, count(*) FROM jobs WHERE finished_at IS NOT NULL AND queue = :queue GROUP BY state
