-- complete-job: records a job's success for the worker holding its lease.
-- KEYS[1] queue base `{<prefix>:<queue>}:` (job:<id>, running, running-count, state:*, expiring, finished)
-- KEYS[2] store base `<prefix>:` (events, finished channel)
-- ARGV[1] now   ARGV[2] workerId   ARGV[3] job id   ARGV[4] result (bytes)   ARGV[5] queue name
-- ARGV[6] events maxlen
-- Returns 1 when recorded, 0 (and no change) when this worker does not hold the lease.
-- Guarantee: the lease check and the move to succeeded are one step, so a job whose lease was lost
-- and handed to another worker is never completed by the first.
local base = KEYS[1]
local store = KEYS[2]
local now = tonumber(ARGV[1])
local id = ARGV[3]
local job_key = base .. 'job:' .. id
-- One read of what the steps below need, instead of one per helper: this is the hot path.
local f = redis.call('HMGET', job_key, 'state', 'workerId', 'task', 'createdAt', 'resultTtlMs')
if f[1] ~= 'running' or f[2] ~= ARGV[2] then
  return 0
end
leave_running(base, job_key, id, f[3])
redis.call('HSET', job_key, 'result', ARGV[4])
set_state(base, job_key, id, 'running', 'succeeded', f[4])
finish(base, store, job_key, id, 'succeeded', now, f[4], f[5])
emit(store, ARGV[6], 'succeeded', ARGV[5], id, ARGV[2], now)
return 1
