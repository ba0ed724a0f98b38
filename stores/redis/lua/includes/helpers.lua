-- Shared helpers, included at load time by script-loader.ts.
-- Seqs stay below 2^53; '%.0f' prints them whole where tostring() would use an exponent.
local function str(n)
  return string.format('%.0f', n)
end

local function hnum(key, field)
  return tonumber(redis.call('HGET', key, field) or '0')
end

-- Moves a per-user watermark forward only; returns the value it had.
local function advance(key, user, to)
  local current = hnum(key, user)
  if to > current then
    redis.call('HSET', key, user, str(to))
  end
  return current
end

local function touch(ttl, ...)
  for _, key in ipairs({...}) do
    redis.call('EXPIRE', key, ttl)
  end
end

-- message hash value: "seq|sender|sent_at"
local function parseMessage(value)
  if not value then return nil end
  local seq, sender, sentAt = string.match(value, '^(%d+)|(.*)|(%d+)$')
  return tonumber(seq), sender, sentAt
end

-- A conversation's core keys (meta, which also holds its members and watermarks, and the
-- message index msg and msgs) share one expiry. Refreshing them costs three EXPIREs, so an
-- active conversation refreshes at most once per 1/24 of the TTL (an hour of 24 h): its keys live
-- between 23/24 of the TTL and the whole TTL after its last event. `force` refreshes now (keys
-- were just created). When meta's expiry was last set shows in what is left of it (PTTL): no
-- field says it (meta's 'touched', the time, until issue 16: deleted by a refresh).
local CORE_KEYS = {'meta', 'msg', 'msgs'}
local function refreshCore(p, ttl, force)
  local left = redis.call('PTTL', p .. 'meta')
  if force or left < 0 or left <= ttl * 1000 * 23 / 24 then
    redis.call('HDEL', p .. 'meta', 'touched')
    for _, suffix in ipairs(CORE_KEYS) do redis.call('EXPIRE', p .. suffix, ttl) end
  end
end

-- unpack() is bounded by Lua's C stack (about 8,000 values): variadic calls go in slices, so a
-- large run (many readers, many window ends) cannot fail the script. Still one atomic script.
local SLICE = 1000

-- HMGET of any number of fields; the values in field order (false where missing).
local function hmget(key, fields)
  local values = {}
  for i = 1, #fields, SLICE do
    local part = redis.call('HMGET', key, unpack(fields, i, math.min(i + SLICE - 1, #fields)))
    for k = 1, #part do values[#values + 1] = part[k] end
  end
  return values
end

-- A variadic write of pairs (HSET field value …, ZADD score member …) of any length; nothing
-- when `flat` is empty.
local function callPairs(command, key, flat)
  for i = 1, #flat, 2 * SLICE do
    redis.call(command, key, unpack(flat, i, math.min(i + 2 * SLICE - 1, #flat)))
  end
end

-- A variadic command over fields (HDEL key field …) of any length; nothing when `fields` is empty.
local function callFields(command, key, fields)
  for i = 1, #fields, SLICE do
    redis.call(command, key, unpack(fields, i, math.min(i + SLICE - 1, #fields)))
  end
end

-- Members and per-member watermarks live in the conversation's meta hash (one small listpack
-- instead of a set and two hashes): 'm:<user>' = '1' for a member, 'r:<user>' / 'd:<user>' the
-- read / delivered watermark (kept when a member leaves).
local MEMBER, READ, DLVD = 'm:', 'r:', 'd:'

-- A member's read and delivered logs share one sorted set, 'log:<user>' (keys.ts
-- memberLogSuffix): a move of the read watermark to seq at `at` is 'seq|at' scored seq, of the
-- delivered watermark '-seq|at' scored -seq. meta's LAYOUT field ('lv' = '2', set when the
-- conversation is created) says no older build wrote 'readlog:<user>' / 'dlvlog:<user>' keys.
-- INDEX_LAYOUT ('3', keys.ts) keeps those logs and moved the message index into one sorted
-- set, 'ix' (indexEntry below), from the 'msg' hash and 'msgs' set. PACKED_LOG_LAYOUT ('4')
-- keeps the index in 'ix' and the members' logs in fields (logMovesOf below), not 'log:<user>'.
local LAYOUT, LOG_LAYOUT, INDEX_LAYOUT, PACKED_LOG_LAYOUT = 'lv', '2', '3', '4'
local function hasLogLayout(layout)
  return layout == LOG_LAYOUT or layout == INDEX_LAYOUT or layout == PACKED_LOG_LAYOUT
end
-- Whether the message index is 'ix' (else 'msg' and 'msgs').
local function hasOneKeyIndex(layout)
  return layout == INDEX_LAYOUT or layout == PACKED_LOG_LAYOUT
end
-- A conversation's meta 'lv', from its flat HGETALL reply (nil when absent).
local function layoutOf(flat)
  for i = 1, #flat, 2 do
    if flat[i] == LAYOUT then return flat[i + 1] end
  end
  return nil
end
-- A conversation's kind, from its meta's flat HGETALL reply (nil when absent).
local function kindOf(flat)
  for i = 1, #flat, 2 do
    if flat[i] == 'kind' then return flat[i + 1] end
  end
  return nil
end
-- Whether a conversation's meta, as a flat HGETALL reply, says it was created in a layout
-- with one log key per member (no older build's keys to look for).
local function currentLayout(flat)
  return hasLogLayout(layoutOf(flat))
end

-- The one-key message index (INDEX_LAYOUT): a member per message, '<bytes of id>:<id>|<sender>#
-- <sent_at in base 36>' scored by its seq (stored-values.ts indexEntry). The id's length makes a
-- lookup by id an exact prefix, whatever characters ids hold; the rest parses from the end. The
-- older decimal form, '...|<sender>|<sent_at>', is read too, and kept for a sent_at that is not
-- a safe integer's digits.
local B36 = '0123456789abcdefghijklmnopqrstuvwxyz'
local function base36Time(sentAt)
  local n = #sentAt <= 16 and string.match(sentAt, '^%d+$') and tonumber(sentAt)
  if not n or n > 9007199254740991 or str(n) ~= sentAt then return nil end
  local out = ''
  repeat
    local d = math.fmod(n, 36) -- exact on doubles, where n % 36 rounds near 2^53
    out = string.sub(B36, d + 1, d + 1) .. out
    n = (n - d) / 36
  until n == 0
  return out
end
local function indexEntry(id, sender, sentAt)
  local packed = base36Time(sentAt)
  if not packed then return #id .. ':' .. id .. '|' .. sender .. '|' .. sentAt end
  return #id .. ':' .. id .. '|' .. sender .. '#' .. packed
end
local function parseIndexEntry(member)
  local bytes, rest = string.match(member or '', '^(%d+):(.*)$')
  if not bytes then return nil end
  local n = tonumber(bytes)
  local tail = string.sub(rest, n + 1)
  local sender, sentAt = string.match(tail, '^|(.*)|(%d+)$')
  if not sender then
    local packed
    sender, packed = string.match(tail, '^|(.*)#([0-9a-z]+)$')
    if not sender then return nil end
    sentAt = str(tonumber(packed, 36))
  end
  return string.sub(rest, 1, n), sender, sentAt
end
-- The index member of message `id` and its seq, or nil: the exact prefix '<bytes>:<id>|' looked
-- for at `seqHint` first where the caller knows the seq it had (one ZRANGEBYSCORE of that
-- score), else from the newest message back, in slices growing fourfold (16, 64, 256, … ranks).
-- Receipt details are mostly asked of recent messages, found in the first slice at about the
-- cost of the older layout's HGET; an old message of a full index costs a pass over it (~0.5 us
-- an entry; a ZSCAN MATCH cost 0.7-1.1 ms of Redis time for 2,000 entries wherever it was).
local function findIndexEntry(key, id, seqHint)
  local prefix = #id .. ':' .. id .. '|'
  local n = #prefix
  local function match(entries)
    for i = 1, #entries, 2 do
      if string.sub(entries[i], 1, n) == prefix then return entries[i], tonumber(entries[i + 1]) end
    end
  end
  if seqHint then
    local entry, seq = match(redis.call('ZRANGEBYSCORE', key, seqHint, seqHint, 'WITHSCORES'))
    if entry then return entry, seq end
  end
  local from, size = 0, 16
  while true do
    local entries = redis.call('ZREVRANGE', key, from, from + size - 1, 'WITHSCORES')
    local entry, seq = match(entries)
    if entry then return entry, seq end
    if #entries < 2 * size then return nil end
    from, size = from + size, size * 4
  end
end
-- A log entry's member (stored-values.ts logEntry): one integer, at * 1000 + seq % 1000 for a
-- read, minus that minus 1 for a delivery (a listpack keeps it in 10 bytes); the older string
-- '<score>|<at>' where `at` is not a time that packs exactly (past the year 2255).
local MAX_PACKED_LOG_AT = 9007199254739
local function logMember(which, score, seq, at)
  local t = #at <= 13 and string.match(at, '^%d+$') and tonumber(at)
  if not t or t > MAX_PACKED_LOG_AT then return score .. '|' .. at end
  local packed = t * 1000 + seq % 1000
  return str(which == 'read' and packed or -packed - 1)
end
-- The time of a log entry's move, from either form of its member, or nil.
local function logTime(member)
  local old = string.match(member or '', '|(%d+)$')
  if old then return tonumber(old) end
  local n = tonumber(string.match(member or '', '^%-?%d+$') or '')
  if not n then return nil end
  if n < 0 then n = -n - 1 end
  return math.floor(n / 1000)
end
local function logMove(p, user, which, seq, at)
  local score = str(which == 'read' and seq or -seq)
  local key = p .. 'log:' .. user
  redis.call('ZADD', key, score, logMember(which, score, seq, at))
  return key
end

-- PACKED_LOG_LAYOUT: a member's log is short strings in fields (stores/state/member-log.ts has
-- the format and why): the newest 'l:<user>', older full ones 'l<n>:<user>'; of meta for a
-- direct chat, of the conversation's 'log' hash for a group (keys.ts logHashSuffix). A chunk is
-- moves, each a flag digit (1 delivered, 2 seq down, 4 time down) then |seq step| and |time
-- step| from the move before (the first from 0), numbers in base 32: the last digit from
-- LOG_DIGITS, those before it from LOG_MORE.
local LOG_CHUNK_CHARS = 64
local LOG_DIGITS, LOG_MORE = '0123456789abcdefghijklmnopqrstuv', 'wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_'
-- Digit values by byte, built by the first decode of a call (every script that includes these
-- helpers runs this file's top level on each call; most decode no log).
local LOG_DIGIT
local function logDigits()
  if not LOG_DIGIT then
    LOG_DIGIT = {}
    for i = 1, 32 do
      LOG_DIGIT[string.byte(LOG_DIGITS, i)] = {i - 1, true}
      LOG_DIGIT[string.byte(LOG_MORE, i)] = {i - 1, false}
    end
  end
  return LOG_DIGIT
end
local function logHashOf(p, kind)
  return p .. (kind == 'DIRECT' and 'meta' or 'log')
end
-- A chunk's moves in order, {{which, seq, at}, ...} ('read' or 'delivered'); nil if it is not one.
local function decodeLogChunk(chunk)
  local moves, i, digits = {}, 1, logDigits()
  local function number()
    local n = 0
    while true do
      local digit = digits[string.byte(chunk, i) or -1]
      if not digit then return nil end
      i = i + 1
      n = n * 32 + digit[1]
      if digit[2] then return n end
    end
  end
  local seq, at = 0, 0
  while i <= #chunk do
    local flags = number()
    local seqStep = flags and number()
    local atStep = seqStep and number()
    if not atStep or flags > 7 then return nil end
    seq = seq + (flags % 4 >= 2 and -seqStep or seqStep)
    at = at + (flags >= 4 and -atStep or atStep)
    moves[#moves + 1] = {flags % 2 == 1 and 'delivered' or 'read', seq, at}
  end
  return moves
end
local function encodeLogNumber(n)
  local out = string.sub(LOG_DIGITS, n % 32 + 1, n % 32 + 1)
  n = math.floor(n / 32)
  while n > 0 do
    out = string.sub(LOG_MORE, n % 32 + 1, n % 32 + 1) .. out
    n = math.floor(n / 32)
  end
  return out
end
-- A move {which, seq, at} counted from `previous` (nil: the chunk's first).
local function encodeLogMove(previous, move)
  local seqStep = move[2] - (previous and previous[2] or 0)
  local atStep = move[3] - (previous and previous[3] or 0)
  local flags = (move[1] == 'delivered' and 1 or 0) + (seqStep < 0 and 2 or 0) + (atStep < 0 and 4 or 0)
  return string.sub(LOG_DIGITS, flags + 1, flags + 1) .. encodeLogNumber(math.abs(seqStep))
    .. encodeLogNumber(math.abs(atStep))
end
-- Moves packed into chunks of at most LOG_CHUNK_CHARS, in order: {field, value, ...} for `user`.
local function packLogMoves(user, moves)
  local chunks, chunk, previous = {}, nil, nil
  for _, move in ipairs(moves) do
    local more = chunk and chunk .. encodeLogMove(previous, move)
    if more and #more <= LOG_CHUNK_CHARS then chunk = more
    else
      if chunk then chunks[#chunks + 1] = chunk end
      chunk = encodeLogMove(nil, move)
    end
    previous = move
  end
  if chunk then chunks[#chunks + 1] = chunk end
  local flat = {}
  for n, value in ipairs(chunks) do
    flat[#flat + 1] = 'l' .. (n == #chunks and '' or tostring(n)) .. ':' .. user
    flat[#flat + 1] = value
  end
  return flat
end
-- Every user's logged moves, from a hash's flat HGETALL reply: user -> {{which, seq, at}, ...}
-- (chunks in field order: a reader takes the first move at or past a seq, whatever the order),
-- and user -> the fields their log holds.
local function logMovesOf(flat)
  local logs, fields = {}, {}
  for i = 1, #flat, 2 do
    local user = string.match(flat[i], '^l%d*:(.*)$')
    if user then
      local moves = logs[user] or {}
      for _, move in ipairs(decodeLogChunk(flat[i + 1]) or {}) do moves[#moves + 1] = move end
      logs[user] = moves
      local own = fields[user] or {}
      own[#own + 1] = flat[i]
      fields[user] = own
    end
  end
  return logs, fields
end
-- The time of the first move of `which` to `seq` or beyond among `moves` (the lowest such seq,
-- then the earliest), and that seq; nil when there is none.
local function firstLoggedMove(moves, which, seq)
  local best
  for _, m in ipairs(moves or {}) do
    if m[1] == which and m[2] >= seq and (not best or m[2] < best[2] or (m[2] == best[2] and m[3] < best[3])) then
      best = m
    end
  end
  if best then return best[3], best[2] end
  return nil
end

-- The fields of `users` with a prefix: {prefix .. user, ...}.
local function prefixed(prefix, users)
  local fields = {}
  for i, user in ipairs(users) do fields[i] = prefix .. user end
  return fields
end

-- Members and watermarks from meta's fields (HGETALL's flat reply): the members (in field
-- order), and the read and delivered watermarks by user (numbers).
local function memberState(flat)
  local members, reads, dlvds = {}, {}, {}
  for i = 1, #flat, 2 do
    local field, value = flat[i], flat[i + 1]
    local tag, user = string.sub(field, 1, 2), string.sub(field, 3)
    if tag == MEMBER then members[#members + 1] = user
    elseif tag == READ then reads[user] = tonumber(value)
    elseif tag == DLVD then dlvds[user] = tonumber(value) end
  end
  return members, reads, dlvds
end

-- A conversation's members and watermarks for a reader (the query API): from meta, or, where
-- meta has no member, from the keys of the layout before (a 'members' set, 'read' and 'dlvd'
-- hashes), which a conversation keeps until the pipeline's next write to it moves them into
-- meta (stores/state/conversation-writes.ts). A reader must not show such a conversation empty.
-- Also returns the flat replies the answer came from (for a fingerprint).
local function memberStateOf(p)
  local flat = redis.call('HGETALL', p .. 'meta')
  local members, reads, dlvds = memberState(flat)
  if #members > 0 then return members, reads, dlvds, {flat} end
  local legacy = redis.call('SMEMBERS', p .. 'members')
  if #legacy == 0 then return members, reads, dlvds, {flat} end
  local readList, dlvdList = redis.call('HGETALL', p .. 'read'), redis.call('HGETALL', p .. 'dlvd')
  -- Watermarks only move up: the higher of the two layouts'.
  local function raise(marks, list)
    for i = 1, #list, 2 do
      local seq = tonumber(list[i + 1])
      if seq > (marks[list[i]] or -1) then marks[list[i]] = seq end
    end
  end
  raise(reads, readList)
  raise(dlvds, dlvdList)
  return legacy, reads, dlvds, {flat, legacy, readList, dlvdList}
end

-- Everyone who is or was a member: the members and whoever has a watermark (kept on leaving).
local function everyone(members, reads, dlvds)
  local users, seen = {}, {}
  local function add(user)
    if not seen[user] then seen[user] = true; users[#users + 1] = user end
  end
  for _, user in ipairs(members) do add(user) end
  for user in pairs(reads) do add(user) end
  for user in pairs(dlvds) do add(user) end
  return users
end

-- The conversation's 'dlv' hash: who confirmed delivery of which message by its id, one field
-- per (message, user) = when: '<bytes of id>:<id>:<user>' (stored-values.ts deliveredByField).
local function dlvField(id, user)
  return #id .. ':' .. id .. ':' .. user
end

-- Whether `user` confirmed delivery of the message `id` by id (see deliveredBy).
local function confirmedBy(p, id, user, older)
  if redis.call('HEXISTS', p .. 'dlv', dlvField(id, user)) == 1 then return true end
  return older and redis.call('HEXISTS', p .. 'dlv:' .. id, user) == 1
end

-- Who confirmed delivery of the message `id` by id, and when: flat {user, at, ...}, asked of
-- everyone who could have confirmed (`users`: members and former members). An older build kept
-- a 'dlv:<id>' hash per message: read first where meta has no LAYOUT mark (`older`).
local function deliveredBy(p, id, users, older)
  local out, seen = {}, {}
  if older then
    local legacy = redis.call('HGETALL', p .. 'dlv:' .. id)
    for i = 1, #legacy, 2 do
      seen[legacy[i]] = true
      out[#out + 1] = legacy[i]
      out[#out + 1] = legacy[i + 1]
    end
  end
  local fields = {}
  for i, user in ipairs(users) do fields[i] = dlvField(id, user) end
  local values = hmget(p .. 'dlv', fields)
  for i, user in ipairs(users) do
    if values[i] and not seen[user] then
      out[#out + 1] = user
      out[#out + 1] = values[i]
    end
  end
  return out
end
