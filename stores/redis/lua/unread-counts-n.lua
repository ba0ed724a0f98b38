--[[
  One user's unread counts in several conversations, for the query API (read-only): each count
  needs the read watermark first, so a page of them is one call and one round trip.
  KEYS    conversation key prefixes ("<prefix>:{c:<id>}:"), any number. Each conversation's keys
          share its hash tag; the conversations do not share one: a Redis Cluster client sends
          one call per slot.
  ARGV[1] user_id
  Returns four integers per conversation, in KEYS order: read_up_to_seq, last_seq, last_at,
  unread (messages above the watermark); 0 where nothing is known.
]]
local user = ARGV[1]
local out = {}
for i, p in ipairs(KEYS) do
  local read = tonumber(redis.call('HGET', p .. 'read', user) or '0')
  local meta = redis.call('HMGET', p .. 'meta', 'last_seq', 'last_at')
  local b = (i - 1) * 4
  out[b + 1] = read
  out[b + 2] = tonumber(meta[1] or '0')
  out[b + 3] = tonumber(meta[2] or '0')
  out[b + 4] = redis.call('ZCOUNT', p .. 'msgs', '(' .. string.format('%.0f', read), '+inf')
end
return out
