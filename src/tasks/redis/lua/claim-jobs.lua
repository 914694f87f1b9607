-- claim-jobs: promotes due scheduled jobs, then claims up to `max` queued jobs for one worker.
-- KEYS[1] queue base `{<prefix>:<queue>}:` (scheduled, queued, running, running-count,
--         rate:<task or group:name>, job:<id>)
-- KEYS[2] store base `<prefix>:` (events)
-- ARGV[1] now   ARGV[2] workerId   ARGV[3] max   ARGV[4] leaseMs   ARGV[5] queue name
-- ARGV[6] events maxlen   ARGV[7] scan limit (queued jobs looked at, at most)
-- ARGV[8] task count t, then t task addresses
-- then a cap count c, then c pairs (task, cap)
-- then a rate-limit count r, then r triples (task or `group:<name>`, limit, intervalMs)
-- then the handoff slots s and ttl (update_idle of include/handoff.lua): s >= 0 registers the worker as
--   idle with s minus the claimed jobs free when the claim left the queue dry for it, else withdraws it;
--   s = -1 leaves its registration alone
-- Returns the claimed jobs in claim order as frame_claimed (include/claim-jobs.lua) makes them: the JSON
-- array of their text fields and the string of their binary fields.
-- Guarantee: a job is claimed by one worker at a time (the queued → running move is inside this one
-- script); jobs go out by priority, then runAt, then id, skipping (not removing) jobs of tasks this
-- worker does not run, tasks at their concurrency cap, and tasks or groups past their rate limit.
-- At most 1000 due scheduled jobs are promoted per call, the rest on the next.
-- The work is claim_jobs of include/claim-jobs.lua, shared with settle-and-claim.
local wanted, caps, rates, at = read_claim_filters(ARGV, 8)
local now, max, lease_ms, scan_limit = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[7])
local claimed = claim_jobs(KEYS[1], KEYS[2], ARGV[6], ARGV[5], now, ARGV[2], max, lease_ms, scan_limit, wanted,
  caps, rates)
update_idle(KEYS[1], ARGV[2], max, #claimed, tonumber(ARGV[at]), tonumber(ARGV[at + 1]), lease_ms, scan_limit,
  now, ARGV, 8, at - 1)
return frame_claimed(claimed)
