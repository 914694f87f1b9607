-- settle-and-claim: a worker's hot path in one step: settles a batch of its finished attempts, each as
-- complete-job or fail-job would, then claims as claim-jobs would.
-- KEYS[1]       store base `<prefix>:` (events, finished channel, join:<key>, and what enqueue-jobs
--               writes for the jobs a join enqueues)
-- KEYS[1 + i]   queue base `{<prefix>:<queue>}:` of queue i (job:<id>, scheduled, queued, running,
--               state:*, running-count, rate:<task or group:name>, expiring, finished); queue 1 is the
--               claim's queue when there is a claim (a worker's outcomes are normally all in it too)
-- ARGV[1] now   ARGV[2] workerId   ARGV[3] events maxlen
-- ARGV[4] queue count q, then q queue names (queue i's base is KEYS[1 + i])
-- then the outcomes: one flat MessagePack array (one argument, however many: cheaper for the client to
--   send than five per outcome; flat, as an array per outcome cost cmsgpack 0.8 against 0.26 µs) of,
--   per outcome: kind ('complete', 'join' or 'fail'), queue index i, job id, result (bytes) or error
--   (JSON), retryAt (epoch ms, or '' for a final failure; '' for a completion); a 'join' (a completion
--   with a broker.ts Join) has three more: the join's key, its size, and the jobs it enqueues as an
--   array in the format of enqueue-jobs, each naming its queue base by its KEYS index
-- then the claim flag: '0' for no claim, or '1' followed by the claim's workerId (the one the claimed
--   jobs are leased to), max, leaseMs, scan limit, then the task list, caps, rate limits and handoff
--   slots and ttl as in claim-jobs
-- Returns { settled, texts, binaries }: settled is one string of a digit per outcome, its k-th 1 when
-- outcome k was applied, 0 (and no change) when this worker did not hold that lease (one reply string,
-- not an integer per outcome); texts and binaries are the claimed jobs as frame_claimed makes them (the
-- JSON array of their text fields, their binary fields), in claim order.
-- Guarantee: the whole batch is one step: each outcome is checked against its lease and applied exactly
-- as complete-job / fail-job would (complete_job and fail_job of include/settle-job.lua), in order (a
-- second outcome for one job finds it settled), and only then are jobs claimed, exactly as claim-jobs
-- would (claim_jobs of include/claim-jobs.lua), so the slots the outcomes free count for the claim. No
-- other client sees the outcomes applied without the claim, or a job claimed twice. (The completions'
-- sorted-set and running-count writes are gathered and applied in one call per key before the claim:
-- within one step, so the result is the same.) A completion's join is counted as complete-job counts
-- it, in the same step, and the completion that fires it enqueues its jobs as enqueue-jobs would
-- (enqueue_jobs of include/enqueue-jobs.lua), before the claim, which may take them.
local store = KEYS[1]
local now = tonumber(ARGV[1])
local worker_id = ARGV[2]
local maxlen = ARGV[3]
local queues = {}
local at = 4
for i = 1, tonumber(ARGV[at]) do
  queues[i] = ARGV[at + i]
end
at = at + #queues + 1

local settled = {}
local batch = new_batch()
local o = cmsgpack.unpack(ARGV[at])
-- Queue index strings as numbers, converted once each rather than once per outcome (a tonumber() per
-- outcome cost about 1,400 Redis instructions a job: callgrind, 4,000 jobs, batches of 128, 65.6k -> 64.2k).
local index_of = {}
local i, n = 1, #o
while i <= n do
  local kind, index = o[i], index_of[o[i + 1]]
  if not index then
    index = tonumber(o[i + 1])
    index_of[o[i + 1]] = index
  end
  local base = KEYS[1 + index]
  local applied
  if kind == 'fail' then
    applied = fail_job(base, store, maxlen, queues[index], now, worker_id, o[i + 2], o[i + 3], o[i + 4])
    i = i + 5
  else
    applied = complete_job(base, store, maxlen, queues[index], now, worker_id, o[i + 2], o[i + 3], batch)
    if kind == 'join' then
      if applied and count_join(store, o[i + 5], tonumber(o[i + 6]), tonumber(applied)) then
        enqueue_jobs(store, now, maxlen, o[i + 7], KEYS)
      end
      i = i + 8
    else
      i = i + 5
    end
  end
  settled[#settled + 1] = applied and '1' or '0'
end
at = at + 1
-- The completions' index writes, deferred to here (one call per key): before the claim, so the slots
-- they free count for it.
flush(batch)

local claimed = { '', '' }
if ARGV[at] == '1' then
  local wanted, caps, rates, after = read_claim_filters(ARGV, at + 5)
  local max, lease_ms, scan_limit = tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4])
  local jobs = claim_jobs(KEYS[2], store, maxlen, queues[1], now, ARGV[at + 1], max, lease_ms, scan_limit, wanted,
    caps, rates)
  update_idle(KEYS[2], ARGV[at + 1], max, #jobs, tonumber(ARGV[after]), tonumber(ARGV[after + 1]), lease_ms,
    scan_limit, now, ARGV, at + 5, after - 1)
  claimed = frame_claimed(jobs)
end
return { table.concat(settled), claimed[1], claimed[2] }
