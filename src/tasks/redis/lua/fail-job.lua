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
local base = KEYS[1]
local store = KEYS[2]
local now = tonumber(ARGV[1])
local id = ARGV[3]
local queue = ARGV[6]
local job_key = base .. 'job:' .. id
if not holds(job_key, ARGV[2]) then
  return 0
end
leave_running(base, job_key, id, redis.call('HGET', job_key, 'task'))
redis.call('HSET', job_key, 'error', ARGV[4])
if ARGV[5] ~= '' and redis.call('HGET', job_key, 'cancelRequested') == '1' then
  set_state(base, job_key, id, 'running', 'cancelled')
  finish(base, store, job_key, id, 'cancelled', now)
  emit(store, ARGV[7], 'cancelled', queue, id, ARGV[2], now)
elseif ARGV[5] ~= '' then
  redis.call('HSET', job_key, 'runAt', ARGV[5])
  if tonumber(ARGV[5]) <= now then
    enqueue_ready(base, job_key, id)
    set_state(base, job_key, id, 'running', 'queued')
  else
    redis.call('ZADD', base .. 'scheduled', ARGV[5], id)
    set_state(base, job_key, id, 'running', 'scheduled')
  end
  emit(store, ARGV[7], 'retrying', queue, id, ARGV[2], now)
else
  local state = 'failed'
  if redis.call('HGET', job_key, 'deadLetter') == '1' then
    state = 'dead'
  end
  set_state(base, job_key, id, 'running', state)
  finish(base, store, job_key, id, state, now)
  emit(store, ARGV[7], state, queue, id, ARGV[2], now)
end
return 1
