-- Runnable jobs of a queue in claim order (priority, then runAt, then id), only of the tasks this
-- worker runs, skipping tasks and groups found full or rate-limited earlier in the same claim.
-- :queue TEXT; :tasks, :blockedTasks, :blockedGroups TEXT (JSON arrays of strings); :limit INTEGER.
-- The LIMIT is an expression, not a bare parameter: SQLite re-prepares a statement whose bare LIMIT
-- parameter is bound again, at every call (sqlite-broker.test.ts checks every statement for this).
SELECT * FROM jobs
WHERE state = 'queued' AND queue = :queue
  AND task IN (SELECT value FROM json_each(:tasks))
  AND task NOT IN (SELECT value FROM json_each(:blockedTasks))
  AND (grp IS NULL OR grp NOT IN (SELECT value FROM json_each(:blockedGroups)))
ORDER BY priority, run_at, id
LIMIT CAST(:limit AS INTEGER)
