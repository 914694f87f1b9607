-- withdraw-handoff: takes a worker off its queue's idle list and closes its handoff channel.
-- KEYS[1] queue base `{<prefix>:<queue>}:` (idle)
-- KEYS[2] store base `<prefix>:` (handoff:<workerId> channel)
-- ARGV[1] workerId
-- Returns 1.
-- Guarantee: no job is handed to the worker after this step, and the empty message it publishes on the
-- worker's channel comes after every job handed to it before: a listener that reads up to that message
-- has seen them all.
redis.call('HDEL', KEYS[1] .. 'idle', ARGV[1])
redis.call('PUBLISH', KEYS[2] .. 'handoff:' .. ARGV[1], '')
return 1
