-- Storing new jobs, all or none, honouring idempotency keys and existing ids: enqueue_jobs, shared by
-- enqueue-jobs and by the completions that fire a join (complete-job, settle-and-claim). Pure function
-- of its arguments: no KEYS or ARGV are read here.

-- given: a list of jobs, each an array of the index k of the job's queue base in `bases`, then
-- field/value pairs (id, queue, task, payload, runAt, maxAttempts, resultTtlMs, and when not null:
-- timeLimitMs, idempotencyKey, group, parentId, canvas; priority when not 0; deadLetter '0' when false).
-- Returns {id_1, created_1, …}: created 0 when the id already exists or the idempotency key (in the
-- store, or earlier in this batch) names another job, whose id is returned instead.
-- Every check runs before the first write, so the batch is stored whole or not at all.
-- The queues that got a runnable (queued) job, base → queue name: where include/handoff.lua looks for
-- idle workers.
local enqueued_bases = {}
local function enqueue_jobs(store, now, maxlen, given_jobs, bases)
  local now_text = num_now(now)
  local jobs = {}
  for i, given in ipairs(given_jobs) do
    local job = { base = bases[tonumber(given[1])], pairs = {} }
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
  for _, job in ipairs(jobs) do
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
      -- No cancelRequested field until a cancel asks (every reader compares it with '1'): a field fewer
      -- for the claim to read, encode and send back for each job, about 4,000 Redis instructions a
      -- claimed job (callgrind, 4,000 jobs, claims of 128: 108.3k -> 104.2k). Likewise no attempt
      -- until the first claim writes one, and no priority when it is 0: an absent one reads as 0; and
      -- no deadLetter when it is true (newJobFields sends only '0'): an absent one reads as true.
      redis.call('HSET', job_key, 'state', state, 'createdAt', now_text, unpack(job.pairs))
      if state == 'queued' then
        redis.call('ZADD', base .. 'queued', f.priority or '0', queued_member(f.runAt, f.id))
        enqueued_bases[base] = f.queue
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
end
