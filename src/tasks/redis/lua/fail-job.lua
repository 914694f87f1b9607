-- fail-job: records a failed attempt for the worker holding the lease: a retry or the final outcome.
-- KEYS[1] queue base `{<prefix>:<queue>}:` (job:<id>, running, running-count, scheduled, queued,
--         state:*, expiring, finished)
-- KEYS[2] store base `<prefix>:` (events, finished channel)
-- ARGV[1] now   ARGV[2] workerId   ARGV[3] job id   ARGV[4] error (JSON)
-- ARGV[5] retryAt (epoch ms), or '' for a final failure   ARGV[6] queue name   ARGV[7] events maxlen
-- Returns 1 when recorded, 0 (and no change) when this worker does not hold the lease.
-- Guarantee: one step from running to retry (scheduled at retryAt, or queued when it is due) or to
-- dead (deadLetter) / failed; the error is kept on the job either way. A job whose cancellation was
-- requested is not retried but ends cancelled.
-- The work is fail_job of include/settle-job.lua, shared with settle-and-claim.
if fail_job(KEYS[1], KEYS[2], ARGV[7], ARGV[6], tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]) then
  return 1
end
return 0
