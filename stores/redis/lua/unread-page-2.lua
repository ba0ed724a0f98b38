--[[
  One page of a user's conversations, newest first, and the user's badge, for the query API
  (read-only): the page is cut from the user's index, so it costs O(log n + limit) whatever the
  number of conversations.
  KEYS[1] the user's conversations: a sorted set of conversation id scored by minus its latest
          message time (ascending = newest first, ties by id), then the user's badge: its
          sources, each prefixed with byte 0x01, scored above 0 (badge-entries.ts)
  KEYS[2] the badge as older builds kept it (a hash of source → ''), read beside it
  ARGV[1] user_id  ARGV[2] limit
  ARGV[3] the cursor's score ('' for the first page)  ARGV[4] the cursor's conversation id: the
          page starts after (score, id) in the index's order, wherever that conversation is now
  ARGV[5] '1': count each conversation of the page here, its key prefix being ARGV[6] .. id ..
          ARGV[7] (a single Redis); '0': do not (on a Redis Cluster the conversations' keys live
          in other slots: the caller counts them per slot)
  ARGV[8] the page's listing the caller holds, as this script joins it ('=' then its ids and
          scores joined by byte 0xFF), '' for none: compared whole, no digest to compute
  ARGV[9] the rows the caller holds, with meta's 'rev' they were read at (HeldUnreadPages), in
          one argument: conversation id, revision, … joined by byte 0xFF, in the page's order
          ('' for none). One string, not an argument per value: building, sending and parsing a
          command of a hundred arguments was most of a page's cost to the query API; and the
          common case (every row held, in the order held) is one string comparison.
  Returns {badge sources, more (1 when conversations follow the page), {id, score, ...} or '='
  when it is the listing of ARGV[8], counts (when asked)}: counts are, per conversation of the
  page, '=' when its 'rev' is the one held (the caller's row stands: every content write
  replaces 'rev'), else its 'rev' ('' for none) and unreadRow's six values; or the single
  string '=' when every row of the page (if any) is held unchanged (one value to decode, not one
  per row).
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

-- One more than the page: whether another page follows. The badge's entries, after the
-- conversations, are not listed.
local conversations = redis.call('ZCOUNT', index, '-inf', 0)
local listed = {}
if start < conversations then
  listed = redis.call('ZRANGE', index, start, math.min(start + limit, conversations - 1), 'WITHSCORES')
end
local more = 0
if #listed > 2 * limit then
  more = 1
  listed[#listed] = nil
  listed[#listed] = nil
end

local counts = {}
if ARGV[5] == '1' then
  -- Each row's revision, and the rows as the caller joins what it holds: when every row is held
  -- in this order, one comparison says so (no parsing of ARGV[9]).
  local revisions, current = {}, {}
  local everyRow = true
  for i = 1, #listed, 2 do
    local revision = redis.call('HGET', ARGV[6] .. listed[i] .. ARGV[7] .. 'meta', 'rev')
    revisions[i] = revision
    if revision then
      current[#current + 1] = listed[i]
      current[#current + 1] = revision
    else
      everyRow = false
    end
  end
  if everyRow and table.concat(current, '\255') == ARGV[9] then
    counts = '='
  else
    local held = {}
    local heldFields = {}
    for field in string.gmatch(ARGV[9], '[^\255]+') do heldFields[#heldFields + 1] = field end
    for i = 1, #heldFields - 1, 2 do held[heldFields[i]] = heldFields[i + 1] end
    local unchanged = true
    for i = 1, #listed, 2 do
      local revision = revisions[i]
      if revision and held[listed[i]] == revision then
        counts[#counts + 1] = '='
      else
        unchanged = false
        counts[#counts + 1] = revision or ''
        unreadRow(counts, ARGV[6] .. listed[i] .. ARGV[7], user)
      end
    end
    if unchanged then counts = '=' end
  end
end
-- Ids are UTF-8 and scores numbers: byte 0xFF separates them unambiguously.
local listing = listed
if ARGV[8] ~= '' and ARGV[8] == '=' .. table.concat(listed, '\255') then listing = '=' end
-- The badge: the index's entries above 0 without their prefix byte, and an older build's hash
-- (a source is in one of them at most).
local sources = redis.call('HKEYS', badge)
for _, member in ipairs(redis.call('ZRANGEBYSCORE', index, '(0', '+inf')) do
  sources[#sources + 1] = string.sub(member, 2)
end
return {sources, more, listing, counts}
