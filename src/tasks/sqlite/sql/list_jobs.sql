-- Jobs of a queue in one state, oldest (first enqueued) first. The inner query picks the rows from
-- the partial index of the state asked for (only the branch whose constant test holds runs) and sorts
-- their row numbers alone, so only the rows returned are read in full.
-- :queue TEXT, :state TEXT, :limit INTEGER, :offset INTEGER.
-- The LIMIT is an expression, not a bare parameter: SQLite re-prepares a statement whose bare LIMIT
-- parameter is bound again, at every call (sqlite-broker.test.ts checks every statement for this).
SELECT * FROM jobs WHERE seq IN (
  SELECT seq FROM jobs WHERE :state = 'queued' AND state = 'queued' AND queue = :queue
  UNION ALL
  SELECT seq FROM jobs WHERE :state = 'scheduled' AND state = 'scheduled' AND queue = :queue
  UNION ALL
  SELECT seq FROM jobs WHERE :state = 'running' AND state = 'running' AND queue = :queue
  UNION ALL
  SELECT seq FROM jobs WHERE finished_at IS NOT NULL AND queue = :queue AND state = :state
  ORDER BY seq
  LIMIT CAST(:limit AS INTEGER) OFFSET :offset
)
ORDER BY seq
