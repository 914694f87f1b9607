-- extend-leases: pushes back the lease of every listed job this worker still holds.
-- KEYS[1] queue base `{<prefix>:<queue>}:` (job:<id>, running)
-- ARGV[1] now   ARGV[2] workerId   ARGV[3] leaseMs   ARGV[4…] job ids
-- Returns the ids still held (and now extended); the others were lost to lease expiry, cancellation
-- or a finish.
-- Guarantee: a lease is extended only while its job is running under this worker, checked and written
-- in one step, so a recovered or reclaimed job is never extended by its former holder.
local base = KEYS[1]
local lease_until = num(tonumber(ARGV[1]) + tonumber(ARGV[3]))
local held = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local job_key = base .. 'job:' .. id
  if holds(job_key, ARGV[2]) then
    redis.call('HSET', job_key, 'leaseUntil', lease_until)
    redis.call('ZADD', base .. 'running', lease_until, id)
    held[#held + 1] = id
  end
end
return held
