--[[
  Writes one conversation's hot state as rebuilt from the durable store (npm run rebuild).
  Merges with what is there: watermarks only move forward, sets, logs and hashes are unions, so
  a rebuild over a partly filled Redis, or run twice, ends in the same state. Keys get the full
  hot TTL.
  KEYS[1] conversation key prefix
  ARGV[1] ttl (s)
  ARGV[2] the content's new revision (meta 'rev': receipt-details-1.lua)
  ARGV[3] JSON {
    kind,                                   -- DIRECT | GROUP
    last = [seq, message_id, at] or false,  -- the newest message
    members = [user, ...],                  -- current members
    former = [user, ...],                   -- removed members (their watermarks stay)
    read = {user: seq}, dlvd = {user: seq},
    messages = [[seq, message_id, sender, sent_at], ...],
    readlog = {user: [[seq, at], ...]}, dlvlog = {user: [[seq, at], ...]},
    dlv = {message_id: {user: at}},
    deleted = [message_id, ...],            -- deleted messages (never restored as messages)
    marked = {user: at}                     -- members who marked it unread
  }
  Returns the number of messages written.
]]
-- @include "helpers"

local p = KEYS[1]
local ttl = tonumber(ARGV[1])
local s = cjson.decode(ARGV[3])
local meta, msgs, msg = p .. 'meta', p .. 'msgs', p .. 'msg'

-- What is restored changes the content: answers held for the last 'rev' must not match it.
redis.call('HSET', meta, 'rev', ARGV[2])
-- A conversation this creates is in today's layout (an existing one may hold older keys, and
-- keeps its message index where it is: 'ix' where hasOneKeyIndex, else 'msg' and 'msgs'; and
-- its logs: fields in PACKED_LOG_LAYOUT, else 'log:<user>'; the pipeline's next write moves them).
if redis.call('HSETNX', meta, 'kind', s.kind) == 1 then redis.call('HSET', meta, LAYOUT, PACKED_LOG_LAYOUT) end
local ix = p .. 'ix'
local layout = redis.call('HGET', meta, LAYOUT)
local oneKey = hasOneKeyIndex(layout)
if s.last then
  local seq = tonumber(s.last[1])
  if seq > hnum(meta, 'last_seq') then
    redis.call('HSET', meta, 'last_seq', str(seq), 'last_at', str(s.last[3]))
    redis.call('HDEL', meta, 'last_msg') -- an older build's, read by no rule
  end
end
for _, user in ipairs(s.members) do redis.call('HSET', meta, MEMBER .. user, '1') end
for _, user in ipairs(s.former) do redis.call('HDEL', meta, MEMBER .. user) end
-- A watermark is written where there is none yet, else only moved forward.
local function restoreMark(field, seq)
  if redis.call('HEXISTS', meta, field) == 0 then redis.call('HSET', meta, field, str(seq))
  else advance(meta, field, tonumber(seq)) end
end
for user, seq in pairs(s.read) do restoreMark(READ .. user, seq) end
for user, seq in pairs(s.dlvd) do restoreMark(DLVD .. user, seq) end
-- The entries already indexed, by message id, read once: a restored message replaces its id's
-- entry (as HSET replaced a msg value), a restored deletion removes it.
local indexed = {}
if oneKey and (#s.messages > 0 or #(s.deleted or {}) > 0) then
  local entries = redis.call('ZRANGE', ix, 0, -1)
  for _, entry in ipairs(entries) do
    local id = parseIndexEntry(entry)
    if id then indexed[id] = entry end
  end
end
for _, m in ipairs(s.messages) do
  if oneKey then
    local entry = indexEntry(m[2], m[3], str(m[4]))
    local before = indexed[m[2]]
    if before and before ~= entry then redis.call('ZREM', ix, before) end
    indexed[m[2]] = entry
    redis.call('ZADD', ix, str(m[1]), entry)
  else
    redis.call('ZADD', msgs, str(m[1]), m[2])
    redis.call('HSET', msg, m[2], str(m[1]) .. '|' .. m[3] .. '|' .. str(m[4]))
  end
end
if layout == PACKED_LOG_LAYOUT then
  -- Logs in fields: each member's moves and the restored ones, packed anew in seq order, a
  -- kind's first move to a seq kept (the one a reader takes: MemberLog.append drops the others).
  local hash = logHashOf(p, redis.call('HGET', meta, 'kind'))
  local logs, fields = logMovesOf(redis.call('HGETALL', hash))
  local changed = {}
  for which, restored in pairs({read = s.readlog, delivered = s.dlvlog}) do
    for user, entries in pairs(restored) do
      local moves = logs[user] or {}
      for _, e in ipairs(entries) do
        local move = {which, tonumber(e[1]), tonumber(e[2])}
        if move[2] and move[3] then moves[#moves + 1] = move end
      end
      logs[user] = moves
      changed[user] = true
    end
  end
  for user in pairs(changed) do
    local moves = logs[user]
    table.sort(moves, function(a, b)
      if a[2] ~= b[2] then return a[2] < b[2] end
      if a[3] ~= b[3] then return a[3] < b[3] end
      return a[1] < b[1]
    end)
    local kept, highest = {}, {read = 0, delivered = 0}
    for _, m in ipairs(moves) do
      if m[2] > highest[m[1]] then
        highest[m[1]] = m[2]
        kept[#kept + 1] = m
      end
    end
    callFields('HDEL', hash, fields[user] or {})
    callPairs('HSET', hash, packLogMoves(user, kept))
  end
  if next(changed) and hash ~= meta then touch(ttl, hash) end
else
  for which, logs in pairs({read = s.readlog, delivered = s.dlvlog}) do
    for user, entries in pairs(logs) do
      local key
      for _, e in ipairs(entries) do key = logMove(p, user, which, tonumber(e[1]), str(e[2])) end
      if key then touch(ttl, key) end
    end
  end
end
-- Deliveries by id (helpers.lua deliveredBy), the first one kept.
local older = not hasLogLayout(layout)
local dlv = p .. 'dlv'
for id, byUser in pairs(s.dlv) do
  for user, at in pairs(byUser) do
    if not confirmedBy(p, id, user, older) then redis.call('HSET', dlv, dlvField(id, user), str(at)) end
  end
end
local deleted, marked = p .. 'deleted', p .. 'marked'
local users = everyone(memberStateOf(p))
for _, id in ipairs(s.deleted or {}) do
  redis.call('HSETNX', deleted, id, '0')
  local fields = {}
  for i, user in ipairs(users) do fields[i] = dlvField(id, user) end
  callFields('HDEL', dlv, fields)
  if oneKey then
    if indexed[id] then redis.call('ZREM', ix, indexed[id]) end
    indexed[id] = nil
  else
    redis.call('ZREM', msgs, id)
    redis.call('HDEL', msg, id)
  end
  redis.call('DEL', p .. 'dlv:' .. id)
end
for user, at in pairs(s.marked or {}) do redis.call('HSETNX', marked, user, str(at)) end
for _, key in ipairs({meta, ix, msgs, msg, deleted, marked, dlv}) do
  if redis.call('EXISTS', key) == 1 then redis.call('EXPIRE', key, ttl) end
end
return #s.messages
