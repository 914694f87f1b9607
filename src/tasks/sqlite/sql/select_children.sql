-- Children of a canvas parent in enqueue order.
-- :parentId TEXT.
SELECT * FROM jobs WHERE parent_id = :parentId ORDER BY seq
