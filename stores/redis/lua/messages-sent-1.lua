--[[
  Records consecutive messages of one conversation (in the order they were sent to the topic) and
  moves each sender's own watermarks to its messages, as if each message were applied alone, one
  after the other.
  KEYS[1] conversation key prefix ("<prefix>:{c:<id>}:"); every key is derived from it, so all
          share one hash tag and one Redis Cluster slot.
  ARGV[1] ttl (s), then five values per message:
          message_id, seq, sender_id, kind (DIRECT|GROUP), sent_at (ms)
  Returns one JSON string (one reply to decode, not a nest of arrays; cjson writes an empty
  list as {}): a list with one entry per message, in input order:
    [kind, last_seq (string), sender_caught_up (0|1), has_held (0|1), behind, members,
     window_open (0|1)]
    last_seq: the highest seq once this message is applied (a lower seq never moves it back).
    sender_caught_up: sending took the sender to the end over messages they had not read (their
    badge loses the source); 0 when they had nothing unread (the source is not in their badge).
    behind: members other than the sender who have not read this message (badge candidates),
    computed from current state as it stands after the earlier messages of the call (a sender
    has read its own earlier messages), so a replay converges to the same badges.
    members: every member in a direct chat (the peer is needed) once this message is applied;
    empty for a group.
    window_open: a group's window is open after the call. What sending read folds into it like
    a read receipt (reply-implied reads): per message, the seqs the sender's watermarks moved
    over (from the lower of the two) when another sender has a message among the newest 256
    there, with those senders to tell; version 0, source time the message's sent_at.
  Cost: about a dozen calls whatever the number of messages and the group size: HMGET meta,
  one HSETNX per distinct sender, HGETALL meta (members and watermarks), one HSET msg and one
  ZADD msgs for all the messages, at most two HSETs of meta, refreshCore, EXISTS held.
  At most 1,000 messages per call, to keep a script's time short (the caller splits).
]]
-- @include "helpers"
-- @include "window-fold"

local p = KEYS[1]
local ttl = tonumber(ARGV[1])
local meta, msgs, msg, win = p .. 'meta', p .. 'msgs', p .. 'msg', p .. 'win'

local FIELDS = 5
local count = (#ARGV - 1) / FIELDS
if count < 1 or count > 1000 or count ~= math.floor(count) then
  return redis.error_reply('messages-sent: ARGV must be ttl then ' .. FIELDS .. ' values for each of 1 to 1000 messages')
end

local messages, senders, firstBy = {}, {}, {}
local msgFields, msgsPairs = {}, {}
for i = 1, count do
  local b = 1 + (i - 1) * FIELDS
  local x = { id = ARGV[b + 1], seq = tonumber(ARGV[b + 2]), sender = ARGV[b + 3], sentAt = ARGV[b + 5] }
  messages[i] = x
  if not firstBy[x.sender] then
    firstBy[x.sender] = i
    senders[#senders + 1] = x.sender
  end
  -- A message id sent twice keeps its last value, as with one HSET/ZADD per message.
  msgFields[#msgFields + 1] = x.id
  msgFields[#msgFields + 1] = str(x.seq) .. '|' .. x.sender .. '|' .. x.sentAt
  msgsPairs[#msgsPairs + 1] = str(x.seq)
  msgsPairs[#msgsPairs + 1] = x.id
end

local m = redis.call('HMGET', meta, 'kind', 'last_seq')
local kind = m[1] or ARGV[5] -- an unknown conversation takes the first message's kind
local previousLast = tonumber(m[2] or '0')
callPairs('HSET', msg, msgFields)
callPairs('ZADD', msgs, msgsPairs)

-- The messaging system is the authority on who sends: a sender is a member. A sender who was
-- not a member yet is one from its first message of the call on (joined[] = that message).
local joined = {}
for _, sender in ipairs(senders) do
  if redis.call('HSETNX', meta, MEMBER .. sender, '1') == 1 then joined[sender] = firstBy[sender] end
end
local all, reads, dlvds = memberState(redis.call('HGETALL', meta))
for _, sender in ipairs(senders) do dlvds[sender] = dlvds[sender] or 0 end

-- Groups: what sending read, folded into the window like a read receipt (window-fold).
local fold = newWindowFold(msgs, msg)

local lastSeq, lastAt = previousLast, nil
local readMoved, dlvdMoved = {}, {}
local results = {}
for i, x in ipairs(messages) do
  local seq, sender = x.seq, x.sender
  local hadUnread = (reads[sender] or 0) < lastSeq
  local seenBefore = math.min(reads[sender] or 0, dlvds[sender])
  if seq > lastSeq then
    lastSeq, lastAt = seq, x.sentAt
  end
  if seq > (reads[sender] or 0) then
    reads[sender] = seq
    readMoved[sender] = true
  end
  if seq > dlvds[sender] then
    dlvds[sender] = seq
    dlvdMoved[sender] = true
  end
  if kind ~= 'DIRECT' and seq > seenBefore then
    local moved = {{seenBefore, seq}}
    local told = fold.covered(moved, sender)
    if told > 0 then fold.add(moved, told, 0, tonumber(x.sentAt)) end
  end
  local behind, now = {}, {}
  for _, member in ipairs(all) do
    if (joined[member] or 0) <= i then
      now[#now + 1] = member
      if member ~= sender and (reads[member] or 0) < seq then behind[#behind + 1] = member end
    end
  end
  local caughtUp = 0
  if hadUnread and reads[sender] >= lastSeq then caughtUp = 1 end
  if kind ~= 'DIRECT' then now = {} end
  results[i] = { kind, str(lastSeq), caughtUp, 0, behind, now, 0 }
end

local metaFields = {}
if not m[1] then
  metaFields[#metaFields + 1] = 'kind'
  metaFields[#metaFields + 1] = kind
  metaFields[#metaFields + 1] = LAYOUT
  metaFields[#metaFields + 1] = LOG_LAYOUT
end
if lastSeq > previousLast then
  metaFields[#metaFields + 1] = 'last_seq'
  metaFields[#metaFields + 1] = str(lastSeq)
  metaFields[#metaFields + 1] = 'last_at'
  metaFields[#metaFields + 1] = lastAt
end
if #metaFields > 0 then redis.call('HSET', meta, unpack(metaFields)) end
-- An older build's latest message id: no rule reads it.
if lastSeq > previousLast then redis.call('HDEL', meta, 'last_msg') end

local marks = {}
for _, sender in ipairs(senders) do
  if readMoved[sender] then
    marks[#marks + 1] = READ .. sender
    marks[#marks + 1] = str(reads[sender])
  end
  if dlvdMoved[sender] then
    marks[#marks + 1] = DLVD .. sender
    marks[#marks + 1] = str(dlvds[sender])
  end
end
callPairs('HSET', meta, marks)

-- Groups: the fold into the open window, as apply-receipts-1.lua writes its own.
local windowOpen = 0
if kind ~= 'DIRECT' then windowOpen = fold.write(win, ttl) end
for _, r in ipairs(results) do r[7] = windowOpen end

-- The first message creates msg and msgs: they join the core keys' expiry now.
refreshCore(p, ttl, m[1] == false or previousLast == 0)
local held = redis.call('EXISTS', p .. 'held')
for _, r in ipairs(results) do r[4] = held end
return cjson.encode(results)
