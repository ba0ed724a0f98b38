--[[
  One user's unread counts in several conversations, for the query API (read-only): each count
  needs the read watermark first, so a page of them is one call and one round trip.
  KEYS    conversation key prefixes ("<prefix>:{c:<id>}:"), any number. Each conversation's keys
          share its hash tag; the conversations do not share one: a Redis Cluster client sends
          one call per slot.
  ARGV[1] user_id
  Returns six values per conversation, in KEYS order: read_up_to_seq, last_seq, last_at,
  unread (messages above the watermark), marked (1 when the user marked it unread, else 0) —
  integers, 0 where nothing is known — and kind (a string, '' when not known).
]]
local user = ARGV[1]
local out = {}
for i, p in ipairs(KEYS) do
  local read = tonumber(redis.call('HGET', p .. 'read', user) or '0')
  local meta = redis.call('HMGET', p .. 'meta', 'last_seq', 'last_at', 'kind')
  local b = (i - 1) * 6
  out[b + 1] = read
  out[b + 2] = tonumber(meta[1] or '0')
  out[b + 3] = tonumber(meta[2] or '0')
  out[b + 4] = redis.call('ZCOUNT', p .. 'msgs', '(' .. string.format('%.0f', read), '+inf')
  out[b + 5] = redis.call('HEXISTS', p .. 'marked', user)
  out[b + 6] = meta[3] or ''
end
return out
