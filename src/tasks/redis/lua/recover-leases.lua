-- recover-leases: sends jobs whose lease ran out (leaseUntil < now) back to queued, or ends them.
-- KEYS[1]       store base `<prefix>:` (events, finished channel)
-- KEYS[1 + i]   queue base of queue i (running, running-count, queued, state:*, job:<id>, expiring,
--               finished)
-- ARGV[1] now   ARGV[2] events maxlen   ARGV[2 + i] name of queue i
-- Returns how many jobs were recovered.
-- Guarantee: each expired job leaves running exactly once (the lease check and the move are one
-- step), so a late complete/fail/extend from the old holder finds it not held. A job out of attempts
-- becomes dead (or failed, per deadLetter) with a SKEIN_TASKS_LEASE_EXPIRED error; one whose cancellation was
-- requested becomes cancelled; any other is queued at its old place with the lost attempt counted.
local store = KEYS[1]
local now = tonumber(ARGV[1])
local maxlen = ARGV[2]
local recovered = 0
for i = 2, #KEYS do
  local base = KEYS[i]
  local queue = ARGV[1 + i]
  local expired = redis.call('ZRANGEBYSCORE', base .. 'running', '-inf', '(' .. num(now))
  for _, id in ipairs(expired) do
    local job_key = base .. 'job:' .. id
    local f = redis.call('HMGET', job_key, 'task', 'attempt', 'maxAttempts', 'workerId', 'cancelRequested', 'deadLetter', 'state')
    if f[7] ~= 'running' then
      redis.call('ZREM', base .. 'running', id)
    else
      leave_running(base, job_key, id, f[1])
      recovered = recovered + 1
      emit(store, maxlen, 'expired-lease', queue, id, f[4], now)
      if f[5] == '1' then
        set_state(base, job_key, id, 'running', 'cancelled')
        finish(base, store, job_key, id, 'cancelled', now)
        emit(store, maxlen, 'cancelled', queue, id, f[4], now)
      elseif tonumber(f[2]) >= tonumber(f[3]) then
        local state = 'failed'
        -- No deadLetter field: dead-lettered (the default; enqueue stores only '0').
        if f[6] ~= '0' then
          state = 'dead'
        end
        redis.call('HSET', job_key, 'error', cjson.encode({
          name = 'SkeinError',
          code = 'SKEIN_TASKS_LEASE_EXPIRED',
          message = 'The lease of job ' .. id .. ' expired on attempt ' .. f[2] .. ' of ' .. f[3] .. ' (worker '
            .. tostring(f[4]) .. ' stopped extending it: it died, hung or lost the store), and no attempt is left',
        }))
        set_state(base, job_key, id, 'running', state)
        finish(base, store, job_key, id, state, now)
        emit(store, maxlen, state, queue, id, f[4], now)
      else
        enqueue_ready(base, job_key, id)
        set_state(base, job_key, id, 'running', 'queued')
      end
    end
  end
end
return recovered
