--[[
  One user's unread count in one conversation, for the query API (read-only): the count needs
  the read watermark first, so the two reads are one script and one round trip (pipelined with
  the other conversations of the page).
  KEYS[1] conversation key prefix
  ARGV[1] user_id
  Returns {read_up_to_seq, last_seq, last_at, unread}: unread counts the messages above the
  watermark; 0 where nothing is known.
]]
local p = KEYS[1]
local read = tonumber(redis.call('HGET', p .. 'read', ARGV[1]) or '0')
local meta = redis.call('HMGET', p .. 'meta', 'last_seq', 'last_at')
local unread = redis.call('ZCOUNT', p .. 'msgs', '(' .. string.format('%.0f', read), '+inf')
return {read, tonumber(meta[1] or '0'), tonumber(meta[2] or '0'), unread}
