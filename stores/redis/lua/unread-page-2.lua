--[[
  One page of a user's conversations, newest first, and the user's badge, for the query API
  (read-only): the page is cut from the user's index, so it costs O(log n + limit) whatever the
  number of conversations.
  KEYS[1] the user's conversations: a sorted set of conversation id scored by minus its latest
          message time (ascending = newest first, ties by id)
  KEYS[2] the user's badge (a hash of source → '')
  ARGV[1] user_id  ARGV[2] limit
  ARGV[3] the cursor's score ('' for the first page)  ARGV[4] the cursor's conversation id: the
          page starts after (score, id) in the index's order, wherever that conversation is now
  ARGV[5] '1': count each conversation of the page here, its key prefix being ARGV[6] .. id ..
          ARGV[7] (a single Redis); '0': do not (on a Redis Cluster the conversations' keys live
          in other slots: the caller counts them per slot)
  ARGV[8] the fingerprint of the page's listing the caller holds ('' for none)
  ARGV[9] the rows the caller holds, with meta's 'rev' they were read at (HeldUnreadPages), in
          one argument: conversation id, revision, … joined by byte 0xFF ('' for none). One
          string, not an argument per value: building, sending and parsing a command of a
          hundred arguments was most of a page's cost to the query API.
  Returns {badge sources, more (1 when conversations follow the page), {id, score, ...} or '='
  when its fingerprint is ARGV[8], counts (when asked), listing fingerprint ('' when not asked)}:
  counts are, per conversation of the page, '=' when its 'rev' is the one held (the caller's row
  stands: every content write replaces 'rev'), else its 'rev' ('' for none) and unreadRow's six
  values; or the single string '=' when every row of the page (if any) is held unchanged (one
  value to decode, not one per row).
]]
-- @include "unread-row"

local index, badge = KEYS[1], KEYS[2]
local user, limit = ARGV[1], tonumber(ARGV[2])
local cursorScore, cursorId = ARGV[3], ARGV[4]

local start = 0
if cursorScore ~= '' then
  -- Past every entry of a smaller score, then past the tied entries whose id is not greater
  -- (binary search over their ranks: ties are ordered by id).
  start = redis.call('ZCOUNT', index, '-inf', '(' .. cursorScore)
  local hi = start + redis.call('ZCOUNT', index, cursorScore, cursorScore)
  while start < hi do
    local mid = math.floor((start + hi) / 2)
    if redis.call('ZRANGE', index, mid, mid)[1] <= cursorId then
      start = mid + 1
    else
      hi = mid
    end
  end
end

-- One more than the page: whether another page follows.
local listed = redis.call('ZRANGE', index, start, start + limit, 'WITHSCORES')
local more = 0
if #listed > 2 * limit then
  more = 1
  listed[#listed] = nil
  listed[#listed] = nil
end

local held = {}
local heldFields = {}
for field in string.gmatch(ARGV[9], '[^\255]+') do heldFields[#heldFields + 1] = field end
for i = 1, #heldFields - 1, 2 do held[heldFields[i]] = heldFields[i + 1] end

local counts = {}
if ARGV[5] == '1' then
  for i = 1, #listed, 2 do
    local p = ARGV[6] .. listed[i] .. ARGV[7]
    local revision = redis.call('HGET', p .. 'meta', 'rev')
    if revision and held[listed[i]] == revision then
      counts[#counts + 1] = '='
    else
      counts[#counts + 1] = revision or ''
      unreadRow(counts, p, user)
    end
  end
end
local unchanged = true
for i = 1, #counts do
  if counts[i] ~= '=' then unchanged = false end
end
if ARGV[5] == '1' and unchanged then counts = '=' end
-- Ids are UTF-8 and scores numbers: byte 0xFF separates them unambiguously.
local fingerprint, listing = '', listed
if ARGV[5] == '1' then
  fingerprint = redis.sha1hex(table.concat(listed, '\255'))
  if fingerprint == ARGV[8] then listing = '=' end
end
return {redis.call('HKEYS', badge), more, listing, counts, fingerprint}
