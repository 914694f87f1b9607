-- purge-expired: deletes finished jobs whose expiresAt (finishedAt + resultTtlMs) <= now, with every
-- index entry naming them.
-- KEYS[1]       store base `<prefix>:` (job-queue, children:<parent>)
-- KEYS[1 + i]   queue base of queue i (expiring, job:<id>, state:*, idem)
-- ARGV[1] now   ARGV[1 + i] name of queue i (unused; kept so the call mirrors recover-leases)
-- Returns how many jobs were deleted.
-- Guarantee: a job and its index entries go in one step, so no index ever names a deleted job; an
-- idempotency key is freed with its job (a later enqueue with it creates a new job).
local store = KEYS[1]
local purged = 0
local now = tonumber(ARGV[1])
-- The states a job in the expiry set can be purged in (dead jobs stay until retried by hand).
local PURGEABLE = { succeeded = true, failed = true, cancelled = true }
for i = 2, #KEYS do
  local base = KEYS[i]
  -- A member names one job, or several that a settle batch completed with one expiresAt, '\n'-joined
  -- (include/job-state.lua defer_expiring). Each job's own state and expiresAt are checked all the
  -- same: a member must never delete a job that is no longer (or not yet again) due.
  local expired = redis.call('ZRANGEBYSCORE', base .. 'expiring', '-inf', ARGV[1])
  for _, member in ipairs(expired) do
    redis.call('ZREM', base .. 'expiring', member)
    for id in string.gmatch(member, '[^\n]+') do
      local job_key = base .. 'job:' .. id
      local f = redis.call('HMGET', job_key, 'state', 'parentId', 'idempotencyKey', 'expiresAt', 'finishedAt',
        'resultTtlMs')
      -- finishedAt + resultTtlMs (include/job-state.lua finish_in), or the expiresAt field that jobs
      -- finished before that was worked out still carry.
      local expires_at = tonumber(f[4])
      if not expires_at and tonumber(f[5]) and tonumber(f[6]) then
        expires_at = tonumber(f[5]) + tonumber(f[6])
      end
      if PURGEABLE[f[1]] and expires_at and expires_at <= now then
        redis.call('ZREM', base .. 'state:' .. f[1], id)
        if f[2] then
          redis.call('ZREM', store .. 'children:' .. f[2], id)
        end
        if f[3] and redis.call('HGET', base .. 'idem', f[3]) == id then
          redis.call('HDEL', base .. 'idem', f[3])
        end
        redis.call('HDEL', store .. 'job-queue', id)
        redis.call('DEL', job_key)
        purged = purged + 1
      end
    end
  end
end
return purged
