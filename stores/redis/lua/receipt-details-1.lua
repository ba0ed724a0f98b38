--[[
  Who received and who read one message, for the receipt-details query (read-only).
  "Read by U at T" is the time of the first move of U's read watermark to the message's seq
  or beyond (U's log: fields of meta or 'log' in PACKED_LOG_LAYOUT, else 'log:<user>'); a member
  who sent a later message read this one then too (sending moves the sender's watermark without
  a log entry), so the first later message of each member also counts. Delivered is the
  delivered watermark, the delivered-by-id hash, or having read it, whichever came first.

  The answer is a function of a few reads (members, their read and delivered watermarks — meta's
  'm:', 'r:' and 'd:' fields, or the older layout's keys where meta has no member —, who
  confirmed the message by id, the conversation's last seq, its message and deletion counts):
  the logs only grow with a watermark and later messages only come with a new last seq. Their
  fingerprint comes with the answer; a caller holding an answer of the same fingerprint gets
  {'same'} without the per-member log reads (a group of 200 costs hundreds of them).
  Where the pipeline wrote the conversation, meta's 'rev' (replaced by every content write,
  unique to it) is that fingerprint, read with the viewer's membership in one HMGET: a held
  answer costs O(1), not the whole meta hash (a rebuild's restore writes a new 'rev' too). A
  state in the older layout, which has none, gets the hash of the reads.
  KEYS[1] conversation key prefix
  ARGV[1] message_id  ARGV[2] viewer (user_id)  ARGV[3] most later messages scanned for senders
  ARGV[4] the fingerprint of the answer the caller holds ('' for none)
  ARGV[5] the message's seq as the caller last saw it ('' for none): where the index is one key
          (INDEX_LAYOUT), its entry is looked for there first (helpers.lua findIndexEntry)
  Returns
    {'no_conversation'}  nothing is known of the conversation here (expired, or never existed)
    {'not_member'}       the viewer is not a member
    {'no_message'}       the conversation has no such message here
    {'deleted'}          the message was deleted (its id is in the `deleted` hash)
    {'same'}             the answer is the one of fingerprint ARGV[4]
    {'ok', seq, sender, sent_at, rows, fingerprint}
      rows: flat list of (user_id, read_at, delivered_at) for each member but the sender; an
      '' time means "not read" / "not delivered", and '?' "yes, at a time no longer known".
]]
-- @include "helpers"

local p = KEYS[1]
local messageId, viewer, scanLimit, held = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local seqHint = tonumber(ARGV[5] or '')
local msgs, msg = p .. 'msgs', p .. 'msg'

local rev = redis.call('HMGET', p .. 'meta', 'rev', MEMBER .. viewer, LAYOUT, 'kind')
local revision = rev[1] and ('rev:' .. rev[1]) or nil
-- Created before a member's logs shared a key and deliveries by id a hash: an older build's
-- readlog/dlvlog and dlv:<id> keys may hold some.
local older = not hasLogLayout(rev[3])
-- The message index: one sorted set 'ix' (INDEX_LAYOUT, PACKED_LOG_LAYOUT), or the 'msg' hash
-- and 'msgs' set.
local oneKey = hasOneKeyIndex(rev[3])
-- The members' logs: fields of one hash (PACKED_LOG_LAYOUT), or a key per member.
local fieldLogs = rev[3] == PACKED_LOG_LAYOUT
local index = oneKey and p .. 'ix' or msgs
if revision and rev[2] and held == revision then return {'same'} end

-- Members and watermarks: meta's fields, or the older layout's keys (memberStateOf).
local memberList, reads, dlvds, sources = memberStateOf(p)
if #memberList == 0 then return {'no_conversation'} end
local isMember = false
for _, member in ipairs(memberList) do isMember = isMember or member == viewer end
if not isMember then return {'not_member'} end
if redis.call('HEXISTS', p .. 'deleted', messageId) == 1 then return {'deleted'} end
local seq, sender, sentAt
if oneKey then
  local entry, score = findIndexEntry(index, messageId, seqHint)
  if entry then
    local _
    _, sender, sentAt = parseIndexEntry(entry)
    if sender then seq = score end
  end
else
  seq, sender, sentAt = parseMessage(redis.call('HGET', msg, messageId))
end
if not seq then return {'no_message'} end

local byIdList = deliveredBy(p, messageId, everyone(memberList, reads, dlvds), older)
local fingerprint = revision
if not fingerprint then
  local counts = {
    str(seq),
    redis.call('HGET', p .. 'meta', 'last_seq') or '',
    str(redis.call('ZCARD', index)),
    str(redis.call('HLEN', p .. 'deleted')),
  }
  -- Bytes 0xFE and 0xFF never occur in UTF-8, so no id can make two different states print alike.
  -- Whole hashes (HGETALL costs far less than HMGET of 200 fields): former members' watermarks
  -- and meta's other fields in them only make a fingerprint change more often.
  local parts = {table.concat(counts, '\255'), table.concat(byIdList, '\255')}
  for _, list in ipairs(sources) do parts[#parts + 1] = table.concat(list, '\255') end
  fingerprint = redis.sha1hex(table.concat(parts, '\254'))
  if fingerprint == held then return {'same'} end
end

local function asMap(list)
  local map = {}
  for i = 1, #list, 2 do map[list[i]] = tonumber(list[i + 1]) end
  return map
end
local byId = asMap(byIdList)

-- The first message each member sent after this one: an implicit read at its sent_at.
local sentAfter = {}
local later = redis.call('ZRANGEBYSCORE', index, '(' .. str(seq), '+inf', 'LIMIT', 0, scanLimit)
if oneKey then
  for _, entry in ipairs(later) do
    local _, by, at = parseIndexEntry(entry)
    if by and not sentAfter[by] then sentAfter[by] = tonumber(at) end
  end
elseif #later > 0 then
  local values = redis.call('HMGET', msg, unpack(later))
  for _, value in ipairs(values) do
    local _, by, at = parseMessage(value or false)
    if by and not sentAfter[by] then sentAfter[by] = tonumber(at) end
  end
end

-- The first move of a member's read (or delivered) watermark to the seq or beyond: its time.
-- In fields (helpers.lua logMovesOf), or in 'log:<user>': reads scored seq, deliveries -seq
-- (helpers.lua logMove).
local logs
local function firstMove(member, which)
  if fieldLogs then
    -- A direct chat's are meta's fields, read already (memberStateOf's first source).
    logs = logs or logMovesOf(rev[4] == 'DIRECT' and sources[1] or redis.call('HGETALL', p .. 'log'))
    return (firstLoggedMove(logs[member], which, seq))
  end
  local key = p .. 'log:' .. member
  local entry
  if which == 'read' then
    entry = redis.call('ZRANGEBYSCORE', key, str(seq), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  else
    entry = redis.call('ZREVRANGEBYSCORE', key, str(-seq), '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  end
  local at, to = logTime(entry[1]), math.abs(tonumber(entry[2] or 0))
  if older then
    -- The older key's entries ("<watermark>|<at>" by seq) came first, unless a rebuild wrote lower ones.
    local olderKey = p .. (which == 'read' and 'readlog:' or 'dlvlog:') .. member
    local e = redis.call('ZRANGEBYSCORE', olderKey, str(seq), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if e[1] and (not at or tonumber(e[2]) < to) then at = tonumber(string.match(e[1], '|(%d+)$')) end
  end
  return at
end

local function earliest(a, b)
  if a == nil then return b end
  if b == nil then return a end
  return math.min(a, b)
end

local rows = {}
for _, member in ipairs(memberList) do
  if member ~= sender then
    local readAt, deliveredAt = '', ''
    local readTime = nil
    local hasRead = (reads[member] or 0) >= seq
    local hasDelivered = (dlvds[member] or 0) >= seq
    if hasRead then
      readTime = earliest(firstMove(member, 'read'), sentAfter[member])
      readAt = readTime and str(readTime) or '?'
    end
    local dlvTime = earliest(readTime, byId[member])
    if hasDelivered then
      dlvTime = earliest(dlvTime, firstMove(member, 'delivered'))
    end
    if dlvTime then
      deliveredAt = str(dlvTime)
    elseif readAt ~= '' or hasDelivered then
      deliveredAt = '?'
    end
    rows[#rows + 1] = member
    rows[#rows + 1] = readAt
    rows[#rows + 1] = deliveredAt
  end
end
return {'ok', str(seq), sender, sentAt, rows, fingerprint}
