-- enqueue-jobs: stores new jobs, all or none, honouring idempotency keys and existing ids.
-- KEYS[1]        store base `<prefix>:` (job-queue, queues, seq, children:<parent>, events)
-- KEYS[2…]       the distinct queue bases `{<prefix>:<queue>}:` of the jobs (job:<id>, queued,
--                scheduled, state:*, idem)
-- ARGV[1] now (epoch ms)   ARGV[2] events maxlen
-- ARGV[3] the jobs: one MessagePack array (one argument for the whole batch) of arrays, each the index
--   k of the job's queue base in KEYS, then field/value pairs (id, queue, task, payload, priority,
--   runAt, maxAttempts, resultTtlMs, deadLetter 0|1, and when not null: timeLimitMs, idempotencyKey,
--   group, parentId, canvas)
-- Returns {id_1, created_1, …}: created 0 when the id already exists or the idempotency key (in the
-- store, or earlier in this batch) names another job, whose id is returned instead.
-- Guarantee: every check runs before the first write, so the batch is stored whole or not at all, and
-- no two jobs of a queue ever share an idempotency key.
local store = KEYS[1]
local now = tonumber(ARGV[1])
local now_text = ARGV[1]
local maxlen = ARGV[2]
local jobs = {}
for i, given in ipairs(cmsgpack.unpack(ARGV[3])) do
  local job = { base = KEYS[tonumber(given[1])], pairs = {} }
  local fields = {}
  for k = 2, #given, 2 do
    fields[given[k]] = given[k + 1]
    job.pairs[#job.pairs + 1] = given[k]
    job.pairs[#job.pairs + 1] = given[k + 1]
  end
  job.fields = fields
  jobs[i] = job
end

-- Checks first: nothing is written until every job is resolved.
local seen = {}
local result = {}
for i, job in ipairs(jobs) do
  local f = job.fields
  local existing = nil
  if redis.call('HEXISTS', store .. 'job-queue', f.id) == 1 or seen['id:' .. f.id] then
    existing = f.id
  elseif f.idempotencyKey then
    local tag = job.base .. '\0' .. f.idempotencyKey
    existing = redis.call('HGET', job.base .. 'idem', f.idempotencyKey) or seen[tag]
    if not existing then
      seen[tag] = f.id
    end
  end
  if existing then
    job.skip = true
    result[#result + 1] = existing
    result[#result + 1] = 0
  else
    seen['id:' .. f.id] = true
    result[#result + 1] = f.id
    result[#result + 1] = 1
  end
end

for _, job in ipairs(jobs) do
  if not job.skip then
    local f = job.fields
    local base = job.base
    local job_key = base .. 'job:' .. f.id
    local state = 'queued'
    if tonumber(f.runAt) > now then
      state = 'scheduled'
    end
    redis.call('HSET', job_key, 'state', state, 'attempt', '0', 'createdAt', now_text, 'cancelRequested', '0', unpack(job.pairs))
    if state == 'queued' then
      redis.call('ZADD', base .. 'queued', f.priority, queued_member(f.runAt, f.id))
    else
      redis.call('ZADD', base .. 'scheduled', f.runAt, f.id)
    end
    redis.call('ZADD', base .. 'state:' .. state, now_text, f.id)
    redis.call('HSET', store .. 'job-queue', f.id, f.queue)
    redis.call('SADD', store .. 'queues', f.queue)
    if f.idempotencyKey then
      redis.call('HSET', base .. 'idem', f.idempotencyKey, f.id)
    end
    if f.parentId then
      redis.call('ZADD', store .. 'children:' .. f.parentId, redis.call('INCR', store .. 'seq'), f.id)
    end
    emit(store, maxlen, 'enqueued', f.queue, f.id, nil, now)
  end
end
return result
