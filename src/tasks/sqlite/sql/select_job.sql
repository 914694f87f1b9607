-- One job by id.
-- :id TEXT.
SELECT * FROM jobs WHERE id = :id
