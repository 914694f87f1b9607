-- cancel-job: cancels a waiting job at once, or flags a running one for its worker.
-- KEYS[1] queue base `{<prefix>:<queue>}:` (job:<id>, scheduled, queued, state:*, expiring)
-- KEYS[2] store base `<prefix>:` (events, finished channel)
-- ARGV[1] now   ARGV[2] job id   ARGV[3] queue name   ARGV[4] events maxlen
-- Returns 'cancelled', 'requested' (running: cancelRequested set and a 'cancelled' event for its
-- worker), 'finished' or 'not-found'.
-- Guarantee: reading the state and acting on it are one step, so a job is never both claimed and
-- cancelled-while-queued.
local base = KEYS[1]
local store = KEYS[2]
local now = tonumber(ARGV[1])
local id = ARGV[2]
local job_key = base .. 'job:' .. id
local f = redis.call('HMGET', job_key, 'state', 'runAt')
local state = f[1]
if not state then
  return 'not-found'
end
if state == 'running' then
  redis.call('HSET', job_key, 'cancelRequested', '1')
  -- A 'cancelled' event for a job still running tells its worker, wherever it is, to look at
  -- cancelRequested; the job's state says whether it really ended.
  emit(store, ARGV[4], 'cancelled', ARGV[3], id, nil, now)
  return 'requested'
end
if state == 'scheduled' then
  redis.call('ZREM', base .. 'scheduled', id)
elseif state == 'queued' then
  redis.call('ZREM', base .. 'queued', queued_member(f[2], id))
else
  return 'finished'
end
set_state(base, job_key, id, state, 'cancelled')
finish(base, store, job_key, id, 'cancelled', now)
emit(store, ARGV[4], 'cancelled', ARGV[3], id, nil, now)
return 'cancelled'
