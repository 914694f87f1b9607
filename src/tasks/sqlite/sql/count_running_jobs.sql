-- How many jobs of a task run now in a queue, across every worker (for concurrency caps).
-- :queue TEXT, :task TEXT.
SELECT count(*) AS n FROM jobs WHERE state = 'running' AND queue = :queue AND task = :task
