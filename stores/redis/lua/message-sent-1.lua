--[[
  Records a message in its conversation and moves the sender's own watermarks to it.
  KEYS[1] conversation key prefix ("<prefix>:{c:<id>}:"); every key is derived from it, so all
          share one hash tag and one Redis Cluster slot.
  ARGV[1] message_id  ARGV[2] seq  ARGV[3] sender_id  ARGV[4] kind (DIRECT|GROUP)
  ARGV[5] sent_at (ms)  ARGV[6] ttl (s)
  Returns one JSON string (one reply to decode, not a nest of arrays; cjson writes an empty
  list as {}):
    [kind, last_seq (string), sender_at_end (0|1), has_held (0|1), behind, members]
    behind: members other than the sender who have not read this message (badge candidates),
    computed from current state so a replay converges to the same badges.
    members: every member in a direct chat (the peer is needed); empty for a group.
  Cost: about a dozen calls whatever the group size (the read watermarks come in one HGETALL).
]]
-- @include "helpers"

local p = KEYS[1]
local messageId, seq, sender, kind, sentAt, ttl =
  ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local meta, members, read, dlvd, msgs, msg =
  p .. 'meta', p .. 'members', p .. 'read', p .. 'dlvd', p .. 'msgs', p .. 'msg'

local m = redis.call('HMGET', meta, 'kind', 'last_seq', 'touched')
if m[1] then
  kind = m[1]
else
  redis.call('HSET', meta, 'kind', kind)
end
local previousLast = tonumber(m[2] or '0')
redis.call('HSET', msg, messageId, str(seq) .. '|' .. sender .. '|' .. sentAt)
redis.call('ZADD', msgs, seq, messageId)

local lastSeq = previousLast
if seq > lastSeq then
  lastSeq = seq
  redis.call('HSET', meta, 'last_seq', str(seq), 'last_msg', messageId, 'last_at', sentAt)
end

-- The messaging system is the authority on who sends: a sender is a member.
redis.call('SADD', members, sender)
local reads = numbers(redis.call('HGETALL', read))
if seq > (reads[sender] or 0) then
  redis.call('HSET', read, sender, str(seq))
  reads[sender] = seq
end
advance(dlvd, sender, seq)

local all = redis.call('SMEMBERS', members)
local behind = {}
for _, member in ipairs(all) do
  if member ~= sender and (reads[member] or 0) < seq then
    behind[#behind + 1] = member
  end
end

-- The first message creates msg and msgs: they join the core keys' expiry now.
refreshCore(p, ttl, m[3], m[1] == false or previousLast == 0)
local senderAtEnd = 0
if reads[sender] >= lastSeq then senderAtEnd = 1 end
if kind ~= 'DIRECT' then all = {} end
return cjson.encode({kind, str(lastSeq), senderAtEnd, redis.call('EXISTS', p .. 'held'), behind, all})
