--[[
  Keeps the latest update per message (per conversation for unread syncs) of a user who is
  offline; an online user (any device connected) keeps nothing: the gateway pushed it live.
  Latest = higher rank (READ over DELIVERED), then higher version, so a redelivered or replayed
  update changes nothing.
  KEYS[1] user key prefix ("<prefix>:{u:<user>}:"): 'devices' sorted set (device by the end of
          its lease, ms: see offline-presence-1.lua), 'offline' hash
  ARGV[1] ttl (s), ARGV[2] now (ms), then one group of 4 per update: field, rank, version,
          value (JSON)
  Returns the number of updates kept (newer than what was kept), or -1 when the user is online.
]]
-- @include "helpers"

local p = KEYS[1]
local devices, offline = p .. 'devices', p .. 'offline'
local ttl = tonumber(ARGV[1])

-- Online: a device whose lease has not ended.
if redis.call('ZCOUNT', devices, '(' .. ARGV[2], '+inf') > 0 then return -1 end
local kept = 0
for i = 3, #ARGV, 4 do
  local field, rank, version = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local current = redis.call('HGET', offline, field)
  local newer = true
  if current then
    local curRank, curVersion = string.match(current, '^(%d+)|(%d+)|')
    curRank, curVersion = tonumber(curRank), tonumber(curVersion)
    newer = rank > curRank or (rank == curRank and version > curVersion)
  end
  if newer then
    redis.call('HSET', offline, field, ARGV[i + 1] .. '|' .. ARGV[i + 2] .. '|' .. ARGV[i + 3])
    kept = kept + 1
  end
end
touch(ttl, offline)
return kept
