-- complete-job: records a job's success for the worker holding its lease, and counts it toward its join.
-- KEYS[1] queue base `{<prefix>:<queue>}:` (job:<id>, running, running-count, state:*, expiring, finished)
-- KEYS[2] store base `<prefix>:` (events, finished channel, join:<key>)
-- KEYS[3…] with a join: the queue bases of the jobs it enqueues
-- ARGV[1] now   ARGV[2] workerId   ARGV[3] job id   ARGV[4] result (bytes)   ARGV[5] queue name
-- ARGV[6] events maxlen
-- ARGV[7…9] only with a join (broker.ts Join): its key, its size, and the jobs it enqueues as one
--   MessagePack array in the format of enqueue-jobs (each job's queue base given by its index in KEYS)
-- Returns 1 when recorded, 0 (and no change) when this worker does not hold the lease.
-- Guarantee: the lease check and the move to succeeded are one step, so a job whose lease was lost
-- and handed to another worker is never completed by the first; a join is counted in that same step,
-- and the completion that makes its count reach its size enqueues its jobs in it too, so the jobs are
-- enqueued exactly once, by whichever completion is last, and no crash falls between the two.
-- The work is complete_job and count_join of include/settle-job.lua, shared with settle-and-claim, and
-- enqueue_jobs of include/enqueue-jobs.lua.
local store = KEYS[2]
local now = tonumber(ARGV[1])
local ttl = complete_job(KEYS[1], store, ARGV[6], ARGV[5], now, ARGV[2], ARGV[3], ARGV[4])
if not ttl then
  return 0
end
if ARGV[7] and count_join(store, ARGV[7], tonumber(ARGV[8]), tonumber(ttl)) then
  enqueue_jobs(store, now, ARGV[6], cmsgpack.unpack(ARGV[9]), KEYS)
end
return 1
