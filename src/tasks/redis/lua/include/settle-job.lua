-- Settling a finished attempt for the worker holding its lease: complete_job (complete-job) and fail_job
-- (fail-job), shared with settle-and-claim, which applies a batch of them in one script; count_join
-- counts a completion toward its join. Each checks the
-- lease and moves the job in one step and returns true, or returns false and changes nothing when this
-- worker does not hold the lease. Pure functions of their arguments: no KEYS or ARGV are read here.

-- Records a success: running → succeeded with its result. Returns the job's resultTtlMs (text, for
-- count_join), or false when this worker does not hold the lease.
-- With a batch (new_batch of include/job-state.lua), its sorted-set and running-count writes are
-- deferred to the batch's flush.
local function complete_job(base, store, maxlen, queue, now, worker_id, id, result, batch)
  local job_key = base .. 'job:' .. id
  -- One read of what the steps below need, instead of one per helper: this is the hot path.
  local f = redis.call('HMGET', job_key, 'state', 'workerId', 'task', 'createdAt', 'resultTtlMs')
  if f[1] ~= 'running' or f[2] ~= worker_id then
    return false
  end
  if batch then
    defer_zrem(batch, base, 'running', id)
    local counts = batch.counts[base]
    if not counts then
      counts = {}
      batch.counts[base] = counts
    end
    counts[f[3]] = (counts[f[3]] or 0) - 1
    -- workerId and leaseUntil stay in the hash (one HDEL fewer on the hot path): every script reads
    -- them only with state 'running', and job-codec.ts decodeJob only then.
    defer(batch, base, 'state:succeeded', f[4], id)
  else
    leave_running(base, job_key, id, f[3])
    move_state_index(base, job_key, id, 'running', 'succeeded', f[4])
  end
  finish_in(batch, base, store, job_key, id, 'succeeded', now, f[4], f[5], 'state', 'succeeded', 'result', result)
  emit(store, maxlen, 'succeeded', queue, id, worker_id, now)
  return f[5] or '0'
end

-- The least a join counter is kept (ms), whatever its jobs' resultTtlMs: a job's result outlives its
-- expiresAt until the next purge-expired, and the counter should too.
local JOIN_MIN_TTL_MS = 60000

-- Counts a recorded completion toward a join (broker.ts Join): true when this completion brings the
-- count to `size` (the counter is then dropped), false before. The counter is kept at least as long as
-- the result of the latest job counted (`ttl`, its resultTtlMs).
local function count_join(store, key, size, ttl)
  local join_key = store .. 'join:' .. key
  local count = redis.call('INCR', join_key)
  if count == size then
    redis.call('DEL', join_key)
    return true
  end
  ttl = math.max(ttl, JOIN_MIN_TTL_MS)
  if redis.call('PTTL', join_key) < ttl then
    redis.call('PEXPIRE', join_key, ttl)
  end
  return false
end

-- Records a failed attempt with its error (JSON): a retry at retry_at (scheduled, or queued when due),
-- or, when retry_at is '', the final outcome (dead with deadLetter, else failed). A job whose
-- cancellation was requested is not retried but ends cancelled.
local function fail_job(base, store, maxlen, queue, now, worker_id, id, error_json, retry_at)
  local job_key = base .. 'job:' .. id
  local f = redis.call('HMGET', job_key, 'state', 'workerId', 'task', 'cancelRequested', 'deadLetter')
  if f[1] ~= 'running' or f[2] ~= worker_id then
    return false
  end
  leave_running(base, job_key, id, f[3])
  redis.call('HSET', job_key, 'error', error_json)
  if retry_at ~= '' and f[4] == '1' then
    set_state(base, job_key, id, 'running', 'cancelled')
    finish(base, store, job_key, id, 'cancelled', now)
    emit(store, maxlen, 'cancelled', queue, id, worker_id, now)
  elseif retry_at ~= '' then
    redis.call('HSET', job_key, 'runAt', retry_at)
    if tonumber(retry_at) <= now then
      enqueue_ready(base, job_key, id)
      set_state(base, job_key, id, 'running', 'queued')
    else
      redis.call('ZADD', base .. 'scheduled', retry_at, id)
      set_state(base, job_key, id, 'running', 'scheduled')
    end
    emit(store, maxlen, 'retrying', queue, id, worker_id, now)
  else
    local state = 'failed'
    -- No deadLetter field: dead-lettered (the default; enqueue stores only '0').
    if f[5] ~= '0' then
      state = 'dead'
    end
    set_state(base, job_key, id, 'running', state)
    finish(base, store, job_key, id, state, now)
    emit(store, maxlen, state, queue, id, worker_id, now)
  end
  return true
end
