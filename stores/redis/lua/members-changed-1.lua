--[[
  Adds or removes members of one conversation: consecutive member events, in order, as if each
  were applied alone.
  KEYS[1] conversation key prefix
  ARGV[1] ttl (s), then three values per change: 'add' | 'remove', user_id, kind (DIRECT|GROUP;
          used only while the conversation's kind is unknown)
  Returns {kind, has_held (0|1), last_seq}: the same for every change of the call (member events
  change neither the kind once known, nor the messages, nor the held receipts).
  A new member starts with everything sent before they joined read. HSETNX semantics, not a max:
  a replay of the join after later messages must not mark those messages read.
  Cost: HMGET meta, one HSET/HDEL of meta per change, one HMGET and at most one HSET of meta
  for the joiners' watermarks, EXISTS held; the core keys' expiry is refreshed when the
  conversation is new or lost a member, otherwise hourly as by the other scripts.
]]
-- @include "helpers"

local p = KEYS[1]
local ttl = tonumber(ARGV[1])
local meta = p .. 'meta'

local m = redis.call('HMGET', meta, 'kind', 'last_seq')
local kind = m[1]
local isNew = not kind
local lastSeq = tonumber(m[2] or '0')

-- Apply the changes in order; the first join of an unknown conversation gives it its kind.
local joined, seen, removed = {}, {}, false
for i = 2, #ARGV, 3 do
  local op, user = ARGV[i], ARGV[i + 1]
  if op == 'add' then
    redis.call('HSET', meta, MEMBER .. user, '1')
    if not kind then kind = ARGV[i + 2] end
    if not seen[user] then
      seen[user] = true
      joined[#joined + 1] = user
    end
  else
    redis.call('HDEL', meta, MEMBER .. user)
    removed = true
  end
end
if isNew and kind then redis.call('HSET', meta, 'kind', kind, LAYOUT, LOG_LAYOUT) end

-- Each joiner's watermarks start at the last message (HSETNX: existing ones are kept).
if #joined > 0 then
  local start = str(lastSeq)
  local fields = {}
  for _, prefix in ipairs({READ, DLVD}) do
    local names = prefixed(prefix, joined)
    local current = hmget(meta, names)
    for k, name in ipairs(names) do
      if not current[k] then
        fields[#fields + 1] = name
        fields[#fields + 1] = start
      end
    end
  end
  callPairs('HSET', meta, fields)
end

refreshCore(p, ttl, isNew or removed)
return {kind or ARGV[4], redis.call('EXISTS', p .. 'held'), lastSeq}
