-- Runnable jobs of a queue in claim order (priority, then runAt, then id), only of the tasks this
-- worker runs, skipping tasks and groups found full or rate-limited earlier in the same claim.
-- :queue TEXT; :tasks, :blockedTasks, :blockedGroups TEXT (JSON arrays of strings); :limit INTEGER.
SELECT * FROM jobs
WHERE state = 'queued' AND queue = :queue
  AND task IN (SELECT value FROM json_each(:tasks))
  AND task NOT IN (SELECT value FROM json_each(:blockedTasks))
  AND (grp IS NULL OR grp NOT IN (SELECT value FROM json_each(:blockedGroups)))
ORDER BY priority, run_at, id
LIMIT :limit
