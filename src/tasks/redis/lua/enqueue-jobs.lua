-- enqueue-jobs: stores new jobs, all or none, honouring idempotency keys and existing ids.
-- KEYS[1]        store base `<prefix>:` (job-queue, queues, seq, children:<parent>, events)
-- KEYS[2…]       the distinct queue bases `{<prefix>:<queue>}:` of the jobs (job:<id>, queued,
--                scheduled, idem)
-- ARGV[1] now (epoch ms)   ARGV[2] events maxlen   ARGV[4] awaited-mark ttl (ms), or '0' for none
-- ARGV[3] the jobs: one MessagePack array (one argument for the whole batch) of arrays, each the index
--   k of the job's queue base in KEYS, then field/value pairs (id, queue, task, payload, priority,
--   runAt, maxAttempts, resultTtlMs, deadLetter 0|1, and when not null: timeLimitMs, idempotencyKey,
--   group, parentId, canvas)
-- Returns {id_1, created_1, …}: created 0 when the id already exists or the idempotency key (in the
-- store, or earlier in this batch) names another job, whose id is returned instead.
-- With an awaited-mark ttl, each job created is marked `awaited:<id>` (as waitUntilFinished would mark
-- it) before any handoff, so its finish is published whole.
-- Guarantee: every check runs before the first write, so the batch is stored whole or not at all, and
-- no two jobs of a queue ever share an idempotency key. Then, in the same step, each queue that got a
-- queued job hands jobs to its idle workers as their own next claims would take them (hand_off of
-- include/handoff.lua: priority order, each worker's tasks, caps, rate limits and lease), publishing
-- each on the worker's handoff channel; a job handed off is running under that worker's lease, so one
-- whose message never arrives (the worker died or lost its connection) is redelivered when it lapses.
-- The work is enqueue_jobs of include/enqueue-jobs.lua, shared with the joins of complete-job and
-- settle-and-claim.
local now = tonumber(ARGV[1])
local reply = enqueue_jobs(KEYS[1], now, ARGV[2], cmsgpack.unpack(ARGV[3]), KEYS)
if ARGV[4] ~= '0' then
  for i = 1, #reply, 2 do
    if reply[i + 1] == 1 then
      redis.call('SET', KEYS[1] .. 'awaited:' .. reply[i], '1', 'PX', ARGV[4])
    end
  end
end
for base, queue in pairs(enqueued_bases) do
  hand_off(base, KEYS[1], ARGV[2], queue, now)
end
return reply
