-- Handing new jobs to idle workers: update_idle (after a worker's claim, in claim-jobs and
-- settle-and-claim) keeps the queue's `idle` hash of workers whose last claim left run slots free, with
-- that claim's own filters; hand_off (enqueue-jobs) claims queued jobs for them on the spot with
-- claim_jobs, exactly as their next claim would, and publishes each claimed job whole on the worker's
-- handoff channel, so the worker runs it without a claim round trip. Pure functions of their arguments.

-- Queued jobs a handoff looks at, at most, per idle worker: an idle worker found nothing it could take,
-- so a job for it is near the front; one further back waits for the worker's own claim (news, poll).
local HANDOFF_SCAN_LIMIT = 100

-- After a claim of up to `max` jobs for worker_id that claimed `claimed`: with slots >= 0 (the worker's
-- free run slots when it asked), registers the worker as idle with slots - claimed jobs to take when the
-- claim left the queue dry for it (claimed < max), else withdraws it; slots < 0 leaves the registration
-- as it is (a claim that is not the worker's own loop). The registration holds what hand_off needs to
-- claim as this claim did: the slots left, when it lapses (now + ttl_ms: a worker that stops claiming,
-- or died, stops being handed jobs), the lease, the scan limit and argv[first..last] (the claim filters
-- as read_claim_filters reads them).
local function update_idle(base, worker_id, max, claimed, slots, ttl_ms, lease_ms, scan_limit, now, argv, first, last)
  if slots < 0 then
    return
  end
  local left = slots - claimed
  if claimed >= max or left <= 0 then
    redis.call('HDEL', base .. 'idle', worker_id)
    return
  end
  local spec = { tostring(left), num(now + ttl_ms), tostring(lease_ms), tostring(scan_limit) }
  for i = first, last do
    spec[#spec + 1] = argv[i]
  end
  redis.call('HSET', base .. 'idle', worker_id, cmsgpack.pack(spec))
end

-- A registration decoded: the spec and its claim filters, or nil when it cannot be read.
local function read_idle(packed)
  local ok, spec = pcall(cmsgpack.unpack, packed)
  if not ok or type(spec) ~= 'table' then
    return nil
  end
  for k = 1, 4 do
    if not tonumber(spec[k]) then
      return nil
    end
  end
  local read, wanted, caps, rates = pcall(read_claim_filters, spec, 5)
  if not read then
    return nil
  end
  return spec, wanted, caps, rates
end

-- Hands the queued jobs of queue `queue` (base `base`) to its idle workers, each up to its slots, as
-- each one's own claim would take them (claim_jobs with its registered filters and lease), and
-- publishes each job whole (frame_job) on `<store>handoff:<workerId>`. A lapsed registration is dropped.
local function hand_off(base, store, maxlen, queue, now)
  local idle = redis.call('HGETALL', base .. 'idle')
  for i = 1, #idle, 2 do
    if redis.call('ZCARD', base .. 'queued') == 0 then
      return
    end
    local worker_id = idle[i]
    local spec, wanted, caps, rates = read_idle(idle[i + 1])
    if not spec or tonumber(spec[2]) < now then
      -- Lapsed, or not a registration this code wrote (edited by hand): dropped, never an enqueue error.
      redis.call('HDEL', base .. 'idle', worker_id)
    else
      local left = tonumber(spec[1])
      local claimed, ids = claim_jobs(base, store, maxlen, queue, now, worker_id, left, tonumber(spec[3]),
        math.min(tonumber(spec[4]), HANDOFF_SCAN_LIMIT), wanted, caps, rates)
      if #claimed > 0 then
        local channel = store .. 'handoff:' .. worker_id
        for k, packed in ipairs(claimed) do
          packed[1] = cjson.encode(packed[1])
          redis.call('PUBLISH', channel, frame_job(packed))
          handed_ids[ids[k]] = true
        end
        if #claimed >= left then
          redis.call('HDEL', base .. 'idle', worker_id)
        else
          spec[1] = tostring(left - #claimed)
          redis.call('HSET', base .. 'idle', worker_id, cmsgpack.pack(spec))
        end
      end
    end
  end
end
