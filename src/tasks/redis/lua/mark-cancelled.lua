-- mark-cancelled: records that the worker holding a job's lease stopped it after a cancel request.
-- KEYS[1] queue base `{<prefix>:<queue>}:` (job:<id>, running, running-count, state:*, expiring)
-- KEYS[2] store base `<prefix>:` (events, finished channel)
-- ARGV[1] now   ARGV[2] workerId   ARGV[3] job id   ARGV[4] queue name   ARGV[5] events maxlen
-- Returns 1 when recorded, 0 (and no change) when this worker does not hold the lease.
-- Guarantee: the lease check and the move to cancelled are one step.
local base = KEYS[1]
local store = KEYS[2]
local now = tonumber(ARGV[1])
local id = ARGV[3]
local job_key = base .. 'job:' .. id
if not holds(job_key, ARGV[2]) then
  return 0
end
leave_running(base, job_key, id, redis.call('HGET', job_key, 'task'))
set_state(base, job_key, id, 'running', 'cancelled')
finish(base, store, job_key, id, 'cancelled', now)
emit(store, ARGV[5], 'cancelled', ARGV[4], id, ARGV[2], now)
return 1
