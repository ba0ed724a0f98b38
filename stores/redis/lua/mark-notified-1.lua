--[[
  Records that the peer was told about a direct-chat receipt up to seq, after the update was
  produced: a crash before this line re-sends (at least once), never loses the update.
  KEYS[1] conversation key prefix
  ARGV[1] field ('r:<reader>' or 'd:<reader>')  ARGV[2] seq  ARGV[3] ttl (s)
  Returns the previous mark.
]]
-- @include "helpers"

local notified = KEYS[1] .. 'notified'
local previous = advance(notified, ARGV[1], tonumber(ARGV[2]))
touch(tonumber(ARGV[3]), notified)
return previous
