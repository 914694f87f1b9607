-- record-heartbeat: stores a worker's last heartbeat and emits a worker-heartbeat event.
-- KEYS[1] store base `<prefix>:` (workers, events)
-- ARGV[1] now   ARGV[2] workerId   ARGV[3] queue name   ARGV[4] info (JSON)   ARGV[5] events maxlen
-- Returns 1.
-- Guarantee: the stored heartbeat and its event are written together.
local store = KEYS[1]
local entry = '{"queue":' .. cjson.encode(ARGV[3]) .. ',"at":' .. ARGV[1] .. ',"info":' .. ARGV[4] .. '}'
redis.call('HSET', store .. 'workers', ARGV[2], entry)
emit(store, ARGV[5], 'worker-heartbeat', ARGV[3], nil, ARGV[2], tonumber(ARGV[1]))
return 1
