-- report-progress: stores the progress value of a running job for the worker holding its lease.
-- KEYS[1] queue base `{<prefix>:<queue>}:` (job:<id>)
-- KEYS[2] store base `<prefix>:` (events)
-- ARGV[1] now   ARGV[2] workerId   ARGV[3] job id   ARGV[4] progress (bytes)   ARGV[5] queue name
-- ARGV[6] events maxlen
-- Returns 1 when stored, 0 (and no change) when this worker does not hold the lease.
-- Guarantee: a former lease holder never overwrites the progress of the job's current attempt.
local base = KEYS[1]
local id = ARGV[3]
local job_key = base .. 'job:' .. id
if not holds(job_key, ARGV[2]) then
  return 0
end
redis.call('HSET', job_key, 'progress', ARGV[4])
emit(KEYS[2], ARGV[6], 'progress', ARGV[5], id, ARGV[2], tonumber(ARGV[1]))
return 1
