-- Claiming queued jobs for one worker: read_claim_filters (the task list, caps and rate limits as the
-- scripts receive them in ARGV) and claim_jobs, shared by claim-jobs and settle-and-claim. Pure functions
-- of their arguments: no KEYS or ARGV are read here (the ARGV table is passed in).

-- Reads, from argv[at] on: a task count t, then t task addresses; a cap count c, then c pairs (task,
-- cap); a rate-limit count r, then r triples (task or `group:<name>`, limit, intervalMs).
-- Returns the wanted-task set, the caps, the rate limits and the index after them.
local function read_claim_filters(argv, at)
  local wanted = {}
  for i = at + 1, at + tonumber(argv[at]) do
    wanted[argv[i]] = true
  end
  at = at + tonumber(argv[at]) + 1
  local caps = {}
  for i = 1, tonumber(argv[at]) do
    caps[argv[at + 2 * i - 1]] = tonumber(argv[at + 2 * i])
  end
  at = at + 2 * tonumber(argv[at]) + 1
  local rates = {}
  for i = 1, tonumber(argv[at]) do
    local k = at + 3 * (i - 1)
    rates[argv[k + 1]] = { limit = tonumber(argv[k + 2]), interval = tonumber(argv[k + 3]) }
  end
  at = at + 3 * tonumber(argv[at]) + 1
  return wanted, caps, rates, at
end

-- Promotes due scheduled jobs (at most 1000), then claims up to `max` queued jobs for the worker in
-- priority, runAt, id order, skipping (not removing) jobs of tasks not in `wanted`, tasks at their cap
-- and tasks or groups past their rate limit. Returns the claimed jobs as flat HGETALL arrays.
local function claim_jobs(base, store, maxlen, queue, now, worker_id, max, lease_ms, scan_limit, wanted, caps, rates)
  local lease_until = num(now + lease_ms)
  local started_at = num(now)
  local due = redis.call('ZRANGEBYSCORE', base .. 'scheduled', '-inf', num(now), 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    local job_key = base .. 'job:' .. id
    redis.call('ZREM', base .. 'scheduled', id)
    if redis.call('EXISTS', job_key) == 1 then
      enqueue_ready(base, job_key, id)
      set_state(base, job_key, id, 'scheduled', 'queued')
    end
  end

  -- Sliding window: starts within (now - interval, now] count against the limit.
  local function rate_open(name)
    local rate = rates[name]
    if not rate then
      return true
    end
    local key = base .. 'rate:' .. name
    redis.call('ZREMRANGEBYSCORE', key, '-inf', num(now - rate.interval))
    return redis.call('ZCARD', key) < rate.limit
  end

  local function rate_take(name, member)
    local rate = rates[name]
    if rate then
      local key = base .. 'rate:' .. name
      redis.call('ZADD', key, num(now), member)
      redis.call('PEXPIRE', key, math.ceil(rate.interval))
    end
  end

  local blocked = {}
  local claimed = {}
  local examined = 0
  local offset = 0
  local PAGE = 100
  while #claimed < max and examined < scan_limit do
    local members = redis.call('ZRANGE', base .. 'queued', offset, offset + math.min(PAGE, scan_limit - examined) - 1)
    if #members == 0 then
      break
    end
    examined = examined + #members
    local removed = 0
    for _, member in ipairs(members) do
      if #claimed >= max then
        break
      end
      local id = string.sub(member, 18)
      local job_key = base .. 'job:' .. id
      local f = redis.call('HMGET', job_key, 'task', 'group', 'attempt', 'createdAt')
      local task = f[1]
      if not task then
        -- An index entry without its job (deleted by hand): drop it rather than trip over it forever.
        redis.call('ZREM', base .. 'queued', member)
        removed = removed + 1
      elseif wanted[task] and not blocked[task] and not (f[2] and blocked['group:' .. f[2]]) then
        local open = true
        if caps[task] and (tonumber(redis.call('HGET', base .. 'running-count', task)) or 0) >= caps[task] then
          blocked[task] = true
          open = false
        elseif not rate_open(task) then
          blocked[task] = true
          open = false
        elseif f[2] and not rate_open('group:' .. f[2]) then
          blocked['group:' .. f[2]] = true
          open = false
        end
        if open then
          local attempt = tonumber(f[3]) + 1
          redis.call('ZREM', base .. 'queued', member)
          removed = removed + 1
          redis.call('ZADD', base .. 'running', lease_until, id)
          redis.call('HSET', job_key, 'state', 'running', 'workerId', worker_id, 'leaseUntil', lease_until, 'startedAt', started_at, 'attempt', attempt)
          move_state_index(base, job_key, id, 'queued', 'running', f[4])
          redis.call('HINCRBY', base .. 'running-count', task, 1)
          rate_take(task, id .. ':' .. attempt)
          if f[2] then
            rate_take('group:' .. f[2], id .. ':' .. attempt)
          end
          emit(store, maxlen, 'started', queue, id, worker_id, now)
          claimed[#claimed + 1] = redis.call('HGETALL', job_key)
        end
      end
    end
    offset = offset + #members - removed
  end
  return claimed
end
