-- claim-jobs: promotes due scheduled jobs, then claims up to `max` queued jobs for one worker.
-- KEYS[1] queue base `{<prefix>:<queue>}:` (scheduled, queued, running, state:*, running-count,
--         rate:<task or group:name>, job:<id>)
-- KEYS[2] store base `<prefix>:` (events)
-- ARGV[1] now   ARGV[2] workerId   ARGV[3] max   ARGV[4] leaseMs   ARGV[5] queue name
-- ARGV[6] events maxlen   ARGV[7] scan limit (queued jobs looked at, at most)
-- ARGV[8] task count t, then t task addresses
-- then a cap count c, then c pairs (task, cap)
-- then a rate-limit count r, then r triples (task or `group:<name>`, limit, intervalMs)
-- Returns the claimed jobs packed (pack_job of include/job-state.lua), in claim order.
-- Guarantee: a job is claimed by one worker at a time (the queued → running move is inside this one
-- script); jobs go out by priority, then runAt, then id, skipping (not removing) jobs of tasks this
-- worker does not run, tasks at their concurrency cap, and tasks or groups past their rate limit.
-- At most 1000 due scheduled jobs are promoted per call, the rest on the next.
-- The work is claim_jobs of include/claim-jobs.lua, shared with settle-and-claim.
local wanted, caps, rates = read_claim_filters(ARGV, 8)
return claim_jobs(KEYS[1], KEYS[2], ARGV[6], ARGV[5], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]),
  tonumber(ARGV[4]), tonumber(ARGV[7]), wanted, caps, rates)
