-- retry-job: sends a dead or failed job back to queued with a fresh attempt count (by hand).
-- KEYS[1] queue base `{<prefix>:<queue>}:` (job:<id>, queued, state:*, expiring)
-- KEYS[2] store base `<prefix>:` (events)
-- ARGV[1] now   ARGV[2] job id   ARGV[3] queue name   ARGV[4] events maxlen
-- Returns 1 when requeued, 0 when the job is missing or neither dead nor failed.
-- Guarantee: one step, so two concurrent retries of one job requeue it once.
local base = KEYS[1]
local id = ARGV[2]
local job_key = base .. 'job:' .. id
local state = redis.call('HGET', job_key, 'state')
if state ~= 'dead' and state ~= 'failed' then
  return 0
end
-- Takes the job's member out of the expiry set when it names this job alone; a member a settle batch
-- shared with other jobs stays, and purge-expired skips this job there (its state is no longer final).
redis.call('ZREM', base .. 'expiring', id)
redis.call('HDEL', job_key, 'error', 'result', 'progress', 'startedAt', 'finishedAt', 'expiresAt', 'workerId', 'leaseUntil')
redis.call('HSET', job_key, 'attempt', '0', 'runAt', ARGV[1], 'cancelRequested', '0')
enqueue_ready(base, job_key, id)
set_state(base, job_key, id, state, 'queued')
emit(KEYS[2], ARGV[4], 'enqueued', ARGV[3], id, nil, tonumber(ARGV[1]))
return 1
