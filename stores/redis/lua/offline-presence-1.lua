--[[
  Applies a device's presence. A user is online while any of their devices is: a device is
  online until its lease ends ('devices': device scored by the end of its lease, ms), renewed by
  every ONLINE record the gateway sends while connected — a gateway that dies sends no OFFLINE,
  and its devices go offline when their leases end. When the first device comes back, the
  updates kept while offline move to the 'sending' hash, which is handed out (again, on
  redelivery) until offline-sent-1.lua confirms the batch was produced: a crash anywhere
  re-sends the batch, never loses it.
  KEYS[1] user key prefix ("<prefix>:{u:<user>}:"): 'devices' sorted set, 'offline' and
          'sending' hashes
  ARGV[1] status ONLINE | OFFLINE  ARGV[2] device_id  ARGV[3] ttl (s)
  ARGV[4] id for a new batch (derived from the presence record, so a redelivery reuses it)
  ARGV[5] now (ms)  ARGV[6] ONLINE: the end of the device's lease (ms)
  Returns
    {'none'}                        nothing to send
    {'send', batch_id, v1, v2, ...} the batch to produce: values as offline-coalesce-1.lua keeps
                                    them ("rank|version|json")
]]
-- @include "helpers"

local p = KEYS[1]
local devices, offline, sending = p .. 'devices', p .. 'offline', p .. 'sending'
local status, device, ttl, batchId = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local now = tonumber(ARGV[5])

-- Leases that ended are gone: those devices are offline.
redis.call('ZREMRANGEBYSCORE', devices, '-inf', now)
if status == 'OFFLINE' then
  redis.call('ZREM', devices, device)
  return {'none'}
end

local wasOnline = redis.call('ZCARD', devices) > 0
redis.call('ZADD', devices, tonumber(ARGV[6]), device)
touch(ttl, devices)

if not wasOnline and redis.call('EXISTS', offline) == 1 then
  -- Merge into a batch still waiting to be confirmed, latest per field.
  local kept = redis.call('HGETALL', offline)
  for i = 1, #kept, 2 do
    local field, value = kept[i], kept[i + 1]
    local current = redis.call('HGET', sending, field)
    local take = true
    if current then
      local r1, v1 = string.match(value, '^(%d+)|(%d+)|')
      local r2, v2 = string.match(current, '^(%d+)|(%d+)|')
      take = tonumber(r1) > tonumber(r2) or (tonumber(r1) == tonumber(r2) and tonumber(v1) > tonumber(v2))
    end
    if take then redis.call('HSET', sending, field, value) end
  end
  redis.call('HSET', sending, '#id', batchId)
  redis.call('DEL', offline)
  touch(ttl, sending)
end

if redis.call('EXISTS', sending) == 0 then return {'none'} end
local reply = {'send', redis.call('HGET', sending, '#id')}
local all = redis.call('HGETALL', sending)
for i = 1, #all, 2 do
  if all[i] ~= '#id' then reply[#reply + 1] = all[i + 1] end
end
return reply
