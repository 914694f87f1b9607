-- Jobs of a queue in one state, oldest first.
-- :queue TEXT, :state TEXT, :limit INTEGER, :offset INTEGER.
SELECT * FROM jobs WHERE queue = :queue AND state = :state ORDER BY seq LIMIT :limit OFFSET :offset
