--[[
  One user's unread counts in several conversations, for the query API (read-only): each count
  needs the read watermark first, so a page of them is one call and one round trip.
  KEYS    conversation key prefixes ("<prefix>:{c:<id>}:"), any number. Each conversation's keys
          share its hash tag; the conversations do not share one: a Redis Cluster client sends
          one call per slot.
  ARGV[1] user_id
  Returns six values per conversation, in KEYS order (unreadRow in includes/unread-row.lua).
]]
-- @include "unread-row"

local user = ARGV[1]
local out = {}
for _, p in ipairs(KEYS) do
  unreadRow(out, p, user)
end
return out
