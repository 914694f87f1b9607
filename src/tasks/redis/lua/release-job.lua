-- release-job: gives a claimed job back unstarted (graceful shutdown).
-- KEYS[1] queue base `{<prefix>:<queue>}:` (job:<id>, running, running-count, queued, state:*,
--         rate:<task or group:name>, expiring)
-- KEYS[2] store base `<prefix>:` (events, finished channel)
-- ARGV[1] now   ARGV[2] workerId   ARGV[3] job id   ARGV[4] queue name   ARGV[5] events maxlen
-- Returns 1 when released, 0 (and no change) when this worker does not hold the lease.
-- Guarantee: in one step the job is queued again at its old place with its attempt uncounted and its
-- rate-limit starts taken back; a job whose cancellation was requested ends cancelled instead.
local base = KEYS[1]
local store = KEYS[2]
local now = tonumber(ARGV[1])
local id = ARGV[3]
local job_key = base .. 'job:' .. id
if not holds(job_key, ARGV[2]) then
  return 0
end
local f = redis.call('HMGET', job_key, 'task', 'group', 'attempt', 'cancelRequested')
leave_running(base, job_key, id, f[1])
local start = id .. ':' .. f[3]
redis.call('ZREM', base .. 'rate:' .. f[1], start)
if f[2] then
  redis.call('ZREM', base .. 'rate:group:' .. f[2], start)
end
if f[4] == '1' then
  set_state(base, job_key, id, 'running', 'cancelled')
  finish(base, store, job_key, id, 'cancelled', now)
  emit(store, ARGV[5], 'cancelled', ARGV[4], id, ARGV[2], now)
  return 1
end
redis.call('HSET', job_key, 'attempt', math.max(0, tonumber(f[3]) - 1))
redis.call('HDEL', job_key, 'startedAt')
enqueue_ready(base, job_key, id)
set_state(base, job_key, id, 'running', 'queued')
return 1
