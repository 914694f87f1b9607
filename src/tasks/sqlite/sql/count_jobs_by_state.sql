-- Jobs of a queue per state.
-- :queue TEXT.
SELECT state, count(*) AS n FROM jobs WHERE queue = :queue GROUP BY state
