-- Shared helpers, prepended to every script of this folder when it is loaded (scripts.ts). They keep
-- the indexes of a job in step with its hash: the per-state sets, the running counters, the expiry
-- set, the finished-times set, the event stream and the finished channel. Pure functions of their
-- arguments: no KEYS or ARGV are read here.

-- Numbers written back to Redis: integers in full (never 1.7e+12), infinities as inf/-inf.
local function num(x)
  return string.format('%.17g', x)
end

-- Member of the queued set: score is the priority, and equal scores order by member, so runAt (16
-- zero-padded digits) then id (time-ordered) gives the contract's priority, runAt, id order.
local function queued_member(run_at, id)
  return string.format('%016.0f', math.max(0, tonumber(run_at))) .. ':' .. id
end

-- Moves a job between the per-state index sets (score createdAt) without writing its state field: for
-- callers that write `state` in an HSET of their own, together with other fields (the hot paths).
-- created_at may be passed when the caller has read it already.
local function move_state_index(base, job_key, id, from, to, created_at)
  if from then
    redis.call('ZREM', base .. 'state:' .. from, id)
  end
  redis.call('ZADD', base .. 'state:' .. to, created_at or redis.call('HGET', job_key, 'createdAt'), id)
end

-- Moves a job between the per-state index sets and writes its state field.
local function set_state(base, job_key, id, from, to, created_at)
  move_state_index(base, job_key, id, from, to, created_at)
  redis.call('HSET', job_key, 'state', to)
end

-- Appends one event to the store's stream, trimmed to about maxlen entries.
local function emit(store, maxlen, event_type, queue, job_id, worker_id, now)
  local args = { 'XADD', store .. 'events', 'MAXLEN', '~', maxlen, '*', 'type', event_type, 'queue', queue, 'at', num(now) }
  if job_id then
    args[#args + 1] = 'jobId'
    args[#args + 1] = job_id
  end
  if worker_id then
    args[#args + 1] = 'workerId'
    args[#args + 1] = worker_id
  end
  redis.call(unpack(args))
end

-- True when the job is running under this worker's lease.
local function holds(job_key, worker_id)
  local f = redis.call('HMGET', job_key, 'state', 'workerId')
  return f[1] == 'running' and f[2] == worker_id
end

-- Takes a job out of the running set and its task's running counter (the concurrency caps), and
-- clears its lease fields.
local function leave_running(base, job_key, id, task)
  task = task or redis.call('HGET', job_key, 'task')
  redis.call('ZREM', base .. 'running', id)
  local left = redis.call('HINCRBY', base .. 'running-count', task, -1)
  if left <= 0 then
    redis.call('HDEL', base .. 'running-count', task)
  end
  redis.call('HDEL', job_key, 'workerId', 'leaseUntil')
end

-- Puts a job in the queued set at its (priority, runAt, id) place.
local function enqueue_ready(base, job_key, id)
  local f = redis.call('HMGET', job_key, 'priority', 'runAt')
  redis.call('ZADD', base .. 'queued', f[1], queued_member(f[2], id))
end

-- Stamps a job finished: finishedAt, expiresAt and the expiry set (dead jobs are kept until retried
-- by hand, so they get none), the finished-times set of stats() (not for cancelled jobs), and a
-- message on the finished channel for waitUntilFinished.
-- created_at and ttl (resultTtlMs) may be passed when the caller has read them already; further
-- arguments are field/value pairs written in the same HSET (one call instead of one per field).
local function finish(base, store, job_key, id, state, now, created_at, ttl, ...)
  if state ~= 'dead' then
    local expires_at = num(now + tonumber(ttl or redis.call('HGET', job_key, 'resultTtlMs')))
    redis.call('HSET', job_key, 'finishedAt', num(now), 'expiresAt', expires_at, ...)
    redis.call('ZADD', base .. 'expiring', expires_at, id)
  else
    redis.call('HSET', job_key, 'finishedAt', num(now), ...)
  end
  if state ~= 'cancelled' then
    created_at = tonumber(created_at or redis.call('HGET', job_key, 'createdAt'))
    redis.call('ZADD', base .. 'finished', num(now), num(now - created_at) .. '|' .. id)
    redis.call('ZREMRANGEBYSCORE', base .. 'finished', '-inf', '(' .. num(now - 60000))
  end
  redis.call('PUBLISH', store .. 'finished', id)
end
