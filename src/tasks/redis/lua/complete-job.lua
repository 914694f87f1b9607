-- complete-job: records a job's success for the worker holding its lease.
-- KEYS[1] queue base `{<prefix>:<queue>}:` (job:<id>, running, running-count, state:*, expiring, finished)
-- KEYS[2] store base `<prefix>:` (events, finished channel)
-- ARGV[1] now   ARGV[2] workerId   ARGV[3] job id   ARGV[4] result (bytes)   ARGV[5] queue name
-- ARGV[6] events maxlen
-- Returns 1 when recorded, 0 (and no change) when this worker does not hold the lease.
-- Guarantee: the lease check and the move to succeeded are one step, so a job whose lease was lost
-- and handed to another worker is never completed by the first.
-- The work is complete_job of include/settle-job.lua, shared with settle-and-claim.
if complete_job(KEYS[1], KEYS[2], ARGV[6], ARGV[5], tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]) then
  return 1
end
return 0
