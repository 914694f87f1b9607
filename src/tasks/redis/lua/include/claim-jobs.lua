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
-- and tasks or groups past their rate limit. Returns the claimed jobs, each packed as pack_job packs
-- it but with its text fields still a table (`{ text, name, bytes, … }`): frame_job (after encoding the
-- table) makes one message of it for a handoff, frame_claimed one reply of them all for a claim; and
-- their ids.
-- The binary fields but the payload, which claim_jobs looks up first.
local RARE_BINARY_FIELDS = { 'canvas', 'result', 'progress' }

-- The attempt after each attempt count as stored (text), worked out once per script and count: a claim's
-- jobs nearly all come with '0', and a tonumber() and num() per job cost about 3,000 Redis instructions
-- a claimed job (callgrind, 4,000 jobs, claims of 128: 104.2k -> 101.2k).
local next_attempt = {}

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
  local claimed_ids = {}
  local examined = 0
  local offset = 0
  local PAGE = 100
  -- Pages start at the number of jobs still wanted (a claim of 4 reads 4 members, not 100) and double,
  -- up to PAGE, only while members are skipped.
  local page = math.min(PAGE, math.ceil(max))
  while #claimed < max and examined < scan_limit do
    local size = math.min(page, scan_limit - examined)
    local members = redis.call('ZRANGE', base .. 'queued', offset, offset + size - 1)
    if #members == 0 then
      break
    end
    page = math.min(PAGE, math.max(2 * size, math.ceil(max - #claimed)))
    examined = examined + #members
    local removed = 0
    -- The index moves of this page's claims, applied in one call per key after the page (the script is
    -- one step, so no one sees them late): queued and state:queued removals, running additions,
    -- running-count increments per task.
    local gone, left, running, counts = {}, {}, {}, {}
    for _, member in ipairs(members) do
      if #claimed >= max then
        break
      end
      local id = string.sub(member, 18)
      local job_key = base .. 'job:' .. id
      -- One read of the whole hash, as a RESP3 map: Redis builds the table of its fields itself, which
      -- is then the table of its text fields (the filter fields now, the claimed job's JSON after) once
      -- the binary fields are moved out into pack_job's form. Against a flat HGETALL walked here into a
      -- presized table: about 9,500 fewer instructions per claimed job (callgrind, 120k -> 110.6k).
      redis.setresp(3)
      local text = redis.call('HGETALL', job_key).map
      redis.setresp(2)
      -- The binary fields (BINARY_FIELDS of include/job-state.lua) one by one, not through pairs(): a
      -- job has its payload, and rarely the others.
      local packed = { false }
      if text.payload then
        packed[2], packed[3], text.payload = 'payload', text.payload, nil
      end
      if text.canvas or text.result or text.progress then
        for _, name in ipairs(RARE_BINARY_FIELDS) do
          local value = text[name]
          if value then
            packed[#packed + 1] = name
            packed[#packed + 1] = value
            text[name] = nil
          end
        end
      end
      local task, group = text.task, text.group
      if not task then
        -- An index entry without its job (deleted by hand): drop it rather than trip over it forever.
        gone[#gone + 1] = member
        removed = removed + 1
      elseif wanted[task] and not blocked[task] and not (group and blocked['group:' .. group]) then
        local open = true
        if caps[task] and (tonumber(redis.call('HGET', base .. 'running-count', task)) or 0) + (counts[task] or 0) >= caps[task] then
          blocked[task] = true
          open = false
        elseif not rate_open(task) then
          blocked[task] = true
          open = false
        elseif group and not rate_open('group:' .. group) then
          blocked['group:' .. group] = true
          open = false
        end
        if open then
          -- A job never claimed has no attempt field (enqueue_jobs): attempt 0.
          local stored = text.attempt or '0'
          local attempt = next_attempt[stored]
          if not attempt then
            attempt = num(tonumber(stored) + 1)
            next_attempt[stored] = attempt
          end
          gone[#gone + 1] = member
          removed = removed + 1
          left[#left + 1] = id
          running[#running + 1] = lease_until
          running[#running + 1] = id
          counts[task] = (counts[task] or 0) + 1
          redis.call('HSET', job_key, 'state', 'running', 'workerId', worker_id, 'leaseUntil', lease_until,
            'startedAt', started_at, 'attempt', attempt)
          -- The reply shows the job as written.
          text.state, text.workerId, text.leaseUntil, text.startedAt, text.attempt =
            'running', worker_id, lease_until, started_at, attempt
          if rates[task] then
            rate_take(task, id .. ':' .. attempt)
          end
          if group and rates['group:' .. group] then
            rate_take('group:' .. group, id .. ':' .. attempt)
          end
          emit(store, maxlen, 'started', queue, id, worker_id, now)
          packed[1] = text
          claimed[#claimed + 1] = packed
          claimed_ids[#claimed_ids + 1] = id
        end
      end
    end
    if #gone > 0 then
      redis.call('ZREM', base .. 'queued', unpack(gone))
    end
    if #left > 0 then
      redis.call('ZADD', base .. 'running', unpack(running))
      redis.call('ZREM', base .. 'state:queued', unpack(left))
    end
    for task, n in pairs(counts) do
      redis.call('HINCRBY', base .. 'running-count', task, n)
    end
    offset = offset + #members - removed
  end
  return claimed, claimed_ids
end

-- The jobs of claim_jobs as a claim's reply: two strings, the JSON array of their text fields (one
-- cjson.encode for the batch, not one string and one frame per job: fewer Lua strings to make here, and
-- one reply string and one JSON.parse for the client instead of one per job), and their binary fields:
-- per job `\1`, then `\n<name>\n<length>\n<bytes>` per binary field, in the order of the array.
-- Both are empty when no job was claimed (cjson would write an empty table as `{}`).
-- The fields the claim itself wrote, the same for every job of it and known to the client that asked
-- (state running, workerId, leaseUntil = now + leaseMs, startedAt = now, and the claim's queue), are
-- left out of the JSON: a third of its bytes, for cjson to write and the client to parse.
-- job-codec.ts unframeClaimed reads them.
local payload_heads = {}
local function frame_claimed(claimed)
  if #claimed == 0 then
    return { '', '' }
  end
  local texts, parts = {}, {}
  for k, packed in ipairs(claimed) do
    local text = packed[1]
    text.queue, text.state, text.workerId, text.leaseUntil, text.startedAt = nil, nil, nil, nil, nil
    texts[k] = text
    if #packed == 3 and packed[2] == 'payload' then
      -- The usual job, whose only binary field is its payload: its head made once per script and length
      -- (about 2,000 Redis instructions a claimed job, callgrind, 4,000 jobs, claims of 128: 101.2k ->
      -- 99.1k); string.format('%d'), not the number's own conversion ('%.14g', twice the cost).
      local length = #packed[3]
      local head = payload_heads[length]
      if not head then
        head = '\1\npayload\n' .. string.format('%d', length) .. '\n'
        payload_heads[length] = head
      end
      parts[#parts + 1] = head
      parts[#parts + 1] = packed[3]
    else
      parts[#parts + 1] = '\1'
      for i = 2, #packed, 2 do
        parts[#parts + 1] = '\n' .. packed[i] .. '\n' .. string.format('%d', #packed[i + 1]) .. '\n'
        parts[#parts + 1] = packed[i + 1]
      end
    end
  end
  return { cjson.encode(texts), table.concat(parts) }
end
