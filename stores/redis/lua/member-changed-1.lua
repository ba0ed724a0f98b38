--[[
  Adds or removes a conversation member.
  KEYS[1] conversation key prefix
  ARGV[1] 'add' | 'remove'  ARGV[2] user_id  ARGV[3] kind (DIRECT|GROUP; for 'remove', used only if unknown)
  ARGV[4] ttl (s)
  Returns {kind, has_held (0|1), last_seq}
  A new member starts with everything sent before they joined read. HSETNX, not a max: a replay
  of the join after later messages must not mark those messages read.
]]
-- @include "helpers"

local p = KEYS[1]
local op, user, kind, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local meta, members, read, dlvd = p .. 'meta', p .. 'members', p .. 'read', p .. 'dlvd'

if op ~= 'add' or redis.call('HSETNX', meta, 'kind', kind) == 0 then
  kind = redis.call('HGET', meta, 'kind') or kind
end
local lastSeq = hnum(meta, 'last_seq')
if op == 'add' then
  redis.call('SADD', members, user)
  redis.call('HSETNX', read, user, str(lastSeq))
  redis.call('HSETNX', dlvd, user, str(lastSeq))
else
  redis.call('SREM', members, user)
end
refreshCore(p, ttl, nil, true)
return {kind, redis.call('EXISTS', p .. 'held'), lastSeq}
