-- Shared helpers, prepended to every script of this folder when it is loaded (scripts.ts). They keep
-- the indexes of a job in step with its hash: the per-state sets, the running counters, the expiry
-- set, the finished-times set, the event stream and the finished channel. Pure functions of their
-- arguments: no KEYS or ARGV are read here.

-- Numbers written back to Redis: integers in full (never 1.7e+12), infinities as inf/-inf. Integers
-- (times and durations in ms, nearly every number written) take '%d', which costs less than half of
-- '%.17g' (0.25 against 0.6 µs, measured in a script loop).
local function num(x)
  if x == math.floor(x) and x > -1e15 and x < 1e15 then
    return string.format('%d', x)
  end
  return string.format('%.17g', x)
end

-- num(now) for the `now` a script works at, formatted once instead of once per job and field.
local now_seen, now_text
local function num_now(now)
  if now ~= now_seen then
    now_seen, now_text = now, num(now)
  end
  return now_text
end

-- Member of the queued set: score is the priority, and equal scores order by member, so runAt (16
-- zero-padded digits) then id (time-ordered) gives the contract's priority, runAt, id order.
local function queued_member(run_at, id)
  return string.format('%016.0f', math.max(0, tonumber(run_at))) .. ':' .. id
end

-- The states with an index set `state:<state>` of their own (score createdAt): all but running. A running
-- job is in the running set (score leaseUntil), which list() and stats() read instead: a second set cost
-- every job two more sorted-set writes on its hot path, and list('running') sorting the running set
-- costs little, as it holds no more jobs than the workers' run slots.
local STATE_SETS = {
  scheduled = true, queued = true, succeeded = true, failed = true, dead = true, cancelled = true,
}

-- Moves a job between the per-state index sets (score createdAt) without writing its state field: for
-- callers that write `state` in an HSET of their own, together with other fields (the hot paths).
-- created_at may be passed when the caller has read it already.
local function move_state_index(base, job_key, id, from, to, created_at)
  if from and STATE_SETS[from] then
    redis.call('ZREM', base .. 'state:' .. from, id)
  end
  if STATE_SETS[to] then
    redis.call('ZADD', base .. 'state:' .. to, created_at or redis.call('HGET', job_key, 'createdAt'), id)
  end
end

-- Moves a job between the per-state index sets and writes its state field.
local function set_state(base, job_key, id, from, to, created_at)
  move_state_index(base, job_key, id, from, to, created_at)
  redis.call('HSET', job_key, 'state', to)
end

-- The events and finished-job ids of this script, written once at its end by flush_events (scripts.ts
-- runs every script body inside a function followed by flush_events, so no return path skips it).
-- Events become one stream entry per script instead of one per job: `at`, then one field per run of
-- events sharing type, queue and worker, in emission order (so each job's events keep their order):
-- field = the type, value = `<queue>\t<workerId or empty>\t<jobId>\n<jobId>…` (queue names, worker ids
-- and job ids hold no control characters: options.ts checkName). Finished ids go out in one PUBLISH,
-- newline-separated.
local event_runs = {}
local last_run = nil
local event_store, event_maxlen, event_at
local finished_store
local finished_ids = {}
local awaited_keys = {}
local waiters_listening = nil
-- The createdAt (as stored, text) of the jobs this script finished, per queue base, for the
-- finished-times set of stats(): { at = now, id = the first job's id, ms = { … } }. The reader takes
-- each from the member's score (now, their finishedAt) for the latency: the text as read goes into
-- the member, where a latency worked out here cost a tonumber() and a num() per job, about 5,000 Redis
-- instructions a completed job (callgrind, 4,000 jobs, batches of 128: 73.9k -> 68.8k).
local finished_latencies = {}
local finished_bases = {}

-- Records one event for this script's stream entry (job_id and worker_id may be nil).
local function emit(store, maxlen, event_type, queue, job_id, worker_id, now)
  event_store, event_maxlen, event_at = store, maxlen, now
  local worker = worker_id or ''
  -- The last run and its length are kept at hand: `#` walks a table, and this runs twice per job.
  local run = last_run
  if not run or run.type ~= event_type or run.queue ~= queue or run.worker ~= worker then
    run = { type = event_type, queue = queue, worker = worker, ids = {}, n = 0 }
    event_runs[#event_runs + 1] = run
    last_run = run
  end
  if job_id then
    local n = run.n + 1
    run.n = n
    run.ids[n] = job_id
  end
end

-- A job hash (flat HGETALL reply) packed for the client: { JSON object of its text fields, then name,
-- bytes pairs of its binary fields }. One JSON string to parse costs the client far less than a reply
-- string per field (the claim's hot path); cjson escapes whatever a damaged field holds.
local BINARY_FIELDS = { payload = true, canvas = true, result = true, progress = true }
local function pack_job(h)
  local text = {}
  local packed = { '' }
  for i = 1, #h, 2 do
    if BINARY_FIELDS[h[i]] then
      packed[#packed + 1] = h[i]
      packed[#packed + 1] = h[i + 1]
    else
      text[h[i]] = h[i + 1]
    end
  end
  packed[1] = cjson.encode(text)
  return packed
end

-- A packed job (pack_job) as one pub/sub message: `\1<JSON of the text fields>`, then
-- `\n<name>\n<length>\n<bytes>` per binary field (cjson escapes every control character, so the JSON
-- holds no newline). job-codec.ts unframeJob reads it.
local function frame_job(packed)
  if #packed == 3 then
    -- The usual job, whose only binary field is its payload: one concatenation, no parts table.
    return '\1' .. packed[1] .. '\n' .. packed[2] .. '\n' .. #packed[3] .. '\n' .. packed[3]
  end
  local parts = { '\1', packed[1] }
  for i = 2, #packed, 2 do
    parts[#parts + 1] = '\n' .. packed[i] .. '\n' .. #packed[i + 1] .. '\n'
    parts[#parts + 1] = packed[i + 1]
  end
  return table.concat(parts)
end

-- The types a queue's workers act on (broker.ts NEWS_TYPES): each run of them is also published on
-- the queue's news channel, `<at>\t<type>\t<queue>\t<workerId>\t<ids>`, so workers need not read the stream.
local NEWS_TYPES = { enqueued = true, retrying = true, ['expired-lease'] = true, cancelled = true }

-- Jobs this script enqueued and then handed to an idle worker (include/handoff.lua): already running,
-- so their `enqueued` news would only send every worker of the queue to claim nothing.
local handed_ids = {}

-- The ids of a run that its news should name: all, but for `enqueued` runs the jobs not handed off.
local function news_ids(run)
  if run.type ~= 'enqueued' or next(handed_ids) == nil then
    return run.ids
  end
  local ids = {}
  for _, id in ipairs(run.ids) do
    if not handed_ids[id] then
      ids[#ids + 1] = id
    end
  end
  return ids
end

local function flush_events()
  -- At most 200 runs an entry: unpack() has a limit on the values it spreads.
  for first = 1, #event_runs, 200 do
    local args = { 'XADD', event_store .. 'events', 'MAXLEN', '~', event_maxlen, '*', 'at', num(event_at) }
    for i = first, math.min(first + 199, #event_runs) do
      local run = event_runs[i]
      args[#args + 1] = run.type
      args[#args + 1] = run.queue .. '\t' .. run.worker .. '\t' .. table.concat(run.ids, '\n')
    end
    redis.call(unpack(args))
  end
  for _, run in ipairs(event_runs) do
    if NEWS_TYPES[run.type] then
      local ids = news_ids(run)
      -- A run of jobs that were all handed off has no news (a run without ids, e.g. none so far, has).
      if #ids > 0 or #run.ids == 0 then
        redis.call('PUBLISH', event_store .. 'news:' .. run.queue,
          num(event_at) .. '\t' .. run.type .. '\t' .. run.queue .. '\t' .. run.worker .. '\t' .. table.concat(ids, '\n'))
      end
    end
  end
  event_runs = {}
  last_run = nil
  handed_ids = {}
  -- Jobs someone waits on (waitUntilFinished set `awaited:<id>`) go out whole first (frame_job), so that
  -- the waiter needs no read after the message.
  for _, job_key in ipairs(awaited_keys) do
    redis.call('PUBLISH', finished_store .. 'finished', frame_job(pack_job(redis.call('HGETALL', job_key))))
  end
  awaited_keys = {}
  -- One member per queue and script, `c<createdAt>,<createdAt>…|<first job id>` at score `now` (the
  -- jobs' finishedAt), rather than one per job: a sorted-set insert per batch instead of per job. (The
  -- `c` tells these from the `<latency>,<latency>…|<id>` members of earlier versions, which stats()
  -- still reads.) The trim drops what fell out of the one-minute window of stats().
  for _, base in ipairs(finished_bases) do
    local run = finished_latencies[base]
    redis.call('ZREMRANGEBYSCORE', base .. 'finished', '-inf', '(' .. num(run.at - 60000))
    redis.call('ZADD', base .. 'finished', num(run.at), 'c' .. table.concat(run.ms, ',') .. '|' .. run.id)
  end
  finished_latencies = {}
  finished_bases = {}
  if #finished_ids > 0 then
    -- finish_in asked whether anyone listens (once per script): a waiter subscribes before it reads
    -- the job, and no subscribe lands inside a script, so with none the message would reach no one.
    if waiters_listening then
      redis.call('PUBLISH', finished_store .. 'finished', table.concat(finished_ids, '\n'))
    end
    finished_ids = {}
  end
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

-- Puts a job in the queued set at its (priority, runAt, id) place (no priority field: 0).
local function enqueue_ready(base, job_key, id)
  local f = redis.call('HMGET', job_key, 'priority', 'runAt')
  redis.call('ZADD', base .. 'queued', f[1] or '0', queued_member(f[2], id))
end

-- Deferred sorted-set writes of a batch (settle-and-claim), applied by flush in one call per key:
-- batch.zadd[key] holds score/member pairs, batch.zrem[key] members, batch.counts[base][task] the
-- running-count change, batch.expiring[key][expiresAt] the ids that expire then. The script is one
-- step, so no client sees them late.
local function new_batch()
  return { zadd = {}, zrem = {}, counts = {}, keys = {}, expiring = {} }
end

-- base .. set, made once per script rather than once per job (defer and defer_zrem are called per job).
local set_keys = {}
local function set_key(base, set)
  local of_base = set_keys[base]
  if not of_base then
    of_base = {}
    set_keys[base] = of_base
  end
  local key = of_base[set]
  if not key then
    key = base .. set
    of_base[set] = key
  end
  return key
end

local function defer(batch, base, set, score, member)
  local key = set_key(base, set)
  local t = batch.zadd[key]
  if not t then
    t = {}
    batch.zadd[key] = t
    batch.keys[#batch.keys + 1] = key
  end
  t[#t + 1] = score
  t[#t + 1] = member
end

-- Jobs a batch completed that expire at one time share one member of the expiry set (their ids joined
-- by '\n', which no id holds): an insert per batch instead of per job. Succeeded jobs never change state
-- again, and purge-expired checks each id's own state and expiresAt besides.
local function defer_expiring(batch, base, expires_at, id)
  local key = set_key(base, 'expiring')
  local at_key = batch.expiring[key]
  if not at_key then
    at_key = {}
    batch.expiring[key] = at_key
  end
  local ids = at_key[expires_at]
  if not ids then
    ids = {}
    at_key[expires_at] = ids
  end
  ids[#ids + 1] = id
end

local function defer_zrem(batch, base, set, member)
  local key = set_key(base, set)
  local t = batch.zrem[key]
  if not t then
    t = {}
    batch.zrem[key] = t
  end
  t[#t + 1] = member
end

local function flush(batch)
  for key, members in pairs(batch.zrem) do
    for i = 1, #members, 500 do
      redis.call('ZREM', key, unpack(members, i, math.min(i + 499, #members)))
    end
  end
  for key, at_key in pairs(batch.expiring) do
    for expires_at, ids in pairs(at_key) do
      redis.call('ZADD', key, expires_at, table.concat(ids, '\n'))
    end
  end
  for _, key in ipairs(batch.keys) do
    local pairs_ = batch.zadd[key]
    for i = 1, #pairs_, 1000 do
      redis.call('ZADD', key, unpack(pairs_, i, math.min(i + 999, #pairs_)))
    end
  end
  for base, counts in pairs(batch.counts) do
    for task, n in pairs(counts) do
      if redis.call('HINCRBY', base .. 'running-count', task, n) <= 0 then
        redis.call('HDEL', base .. 'running-count', task)
      end
    end
  end
end

-- num(now + ttl) for a resultTtlMs as stored (text), worked out once per script and ttl: a batch's jobs
-- nearly all share one, and a tonumber() and num() per job cost about 3,000 Redis instructions a
-- completed job (callgrind, 4,000 jobs, batches of 128: 68.8k -> 65.6k).
local expiry_now, expiry_of = nil, {}
local function expiry_at(now, ttl)
  if now ~= expiry_now then
    expiry_now, expiry_of = now, {}
  end
  local at = expiry_of[ttl]
  if not at then
    at = num(now + tonumber(ttl))
    expiry_of[ttl] = at
  end
  return at
end

-- Stamps a job finished: finishedAt, its place in the expiry set (dead jobs are kept until retried by
-- hand, so they get none), the finished-times set of stats() (not for cancelled jobs), and its id in
-- the script's message on the finished channel for waitUntilFinished (see flush_events).
-- A finished job's expiresAt is finishedAt + resultTtlMs, worked out by its readers (job-codec.ts
-- decodeJob, purge-expired) rather than written: one field fewer in the hot path's HSET, about 4,000
-- Redis instructions a completed job (callgrind, 4,000 jobs, batches of 128: 78.0k -> 74.0k).
-- created_at and ttl (resultTtlMs) may be passed when the caller has read them already; further
-- arguments are field/value pairs written in the same HSET (one call instead of one per field).
local function finish_in(batch, base, store, job_key, id, state, now, created_at, ttl, ...)
  if state ~= 'dead' then
    local expires_at = expiry_at(now, ttl or redis.call('HGET', job_key, 'resultTtlMs'))
    redis.call('HSET', job_key, 'finishedAt', num_now(now), ...)
    if batch then
      defer_expiring(batch, base, expires_at, id)
    else
      redis.call('ZADD', base .. 'expiring', expires_at, id)
    end
  else
    redis.call('HSET', job_key, 'finishedAt', num_now(now), ...)
  end
  if state ~= 'cancelled' then
    created_at = created_at or redis.call('HGET', job_key, 'createdAt')
    local run = finished_latencies[base]
    if not run then
      run = { at = now, id = id, ms = {} }
      finished_latencies[base] = run
      finished_bases[#finished_bases + 1] = base
    end
    run.ms[#run.ms + 1] = created_at
  end
  finished_store = store
  finished_ids[#finished_ids + 1] = id
  -- A waiter subscribes before it sets its mark: with no subscriber there is no mark to look for (asked
  -- once per script, not once per job). The mark is spent here: the job goes out whole, once, and the
  -- waiter has no DEL of its own to send.
  if waiters_listening == nil then
    waiters_listening = redis.call('PUBSUB', 'NUMSUB', store .. 'finished')[2] > 0
  end
  if waiters_listening and redis.call('DEL', store .. 'awaited:' .. id) == 1 then
    awaited_keys[#awaited_keys + 1] = job_key
  end
end

local function finish(base, store, job_key, id, state, now, created_at, ttl, ...)
  finish_in(nil, base, store, job_key, id, state, now, created_at, ttl, ...)
end
