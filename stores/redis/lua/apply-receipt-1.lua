--[[
  Applies one receipt of a member: read up to a seq, or delivered (up to a seq, or a set of ids).
  Watermarks only move forward, so a duplicate, replayed or backwards receipt changes nothing.
  KEYS[1] conversation key prefix
  ARGV[1] type: 'read' | 'read_id' | 'dlv_seq' | 'dlv_ids'
  ARGV[2] user_id  ARGV[3] at (ms)  ARGV[4] ttl (s)
  ARGV[5] share_read: '1', or '0' when the reader turned read receipts off
  ARGV[6] version (source offset)  ARGV[7] source event time (ms)
  ARGV[8..] the seq (read, dlv_seq) or message ids (read_id: one, dlv_ids: many)
  Returns
    {'held', reason}  when it cannot apply yet: NOT_A_MEMBER | SEQ_NOT_REACHED | UNKNOWN_MESSAGE
    one JSON string (one reply to decode, not sixteen; seqs as strings; cjson writes an
    empty list as {}):
    [kind, old, new, unread, at_end, peer, push_id, push_seq, push_status, window, last_seq,
     changed, read, delivered, new_ids]
      old/new: the reader's read watermark before/after (both 0 for delivered receipts)
      changed: 1 when the receipt moved state (else a duplicate, a replay or a backwards read)
      read/delivered: the member's watermarks now; new_ids: ids first confirmed delivered
      push_*: the direct-chat update for the peer ('' when nothing new to tell)
      window: 1 when the conversation has an open group window to close
]]
-- @include "helpers"

local p = KEYS[1]
local kindOfReceipt, user, at, ttl, shareRead, version, sourceAt =
  ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5] == '1', tonumber(ARGV[6]), tonumber(ARGV[7])
local meta, members, read, dlvd, msgs, msg, notified, win =
  p .. 'meta', p .. 'members', p .. 'read', p .. 'dlvd', p .. 'msgs', p .. 'msg', p .. 'notified', p .. 'win'

if redis.call('SISMEMBER', members, user) == 0 then
  return {'held', 'NOT_A_MEMBER'}
end
local m = redis.call('HMGET', meta, 'kind', 'last_seq', 'touched')
local kind = m[1] or 'GROUP'
local lastSeq = tonumber(m[2] or '0')

-- Resolve the target seq (or the ids' seqs) before writing anything.
local target = 0
local ids = {}
if kindOfReceipt == 'read' or kindOfReceipt == 'dlv_seq' then
  target = tonumber(ARGV[8])
  if target > lastSeq then return {'held', 'SEQ_NOT_REACHED'} end
else
  for i = 8, #ARGV do
    local seq = parseMessage(redis.call('HGET', msg, ARGV[i]))
    if not seq then return {'held', 'UNKNOWN_MESSAGE'} end
    ids[#ids + 1] = {ARGV[i], seq}
    if seq > target then target = seq end
  end
  if kindOfReceipt == 'read_id' then kindOfReceipt = 'read' end
end

local oldRead, newRead = 0, 0
-- The member's watermarks after this receipt; nil until known.
local readNow, dlvdNow
local newIds = {}
-- What this receipt changed, as seq ranges (lo, hi]: the group window summarises them.
local ranges = {}
local status = 'DELIVERED'
if kindOfReceipt == 'read' then
  oldRead = advance(read, user, target)
  newRead = math.max(oldRead, target)
  local oldDlvd = advance(dlvd, user, newRead)
  readNow, dlvdNow = newRead, math.max(oldDlvd, newRead)
  if newRead > oldRead or newRead > oldDlvd then
    ranges[1] = {math.min(oldRead, oldDlvd), newRead}
    redis.call('ZADD', p .. 'readlog:' .. user, newRead, str(newRead) .. '|' .. at)
    touch(ttl, p .. 'readlog:' .. user)
  end
  if shareRead then status = 'READ' end
elseif kindOfReceipt == 'dlv_seq' then
  local oldDlvd = advance(dlvd, user, target)
  dlvdNow = math.max(oldDlvd, target)
  if target > oldDlvd then
    ranges[1] = {oldDlvd, target}
    redis.call('ZADD', p .. 'dlvlog:' .. user, target, str(target) .. '|' .. at)
    touch(ttl, p .. 'dlvlog:' .. user)
  end
else
  for _, id in ipairs(ids) do
    local key = p .. 'dlv:' .. id[1]
    if redis.call('HSETNX', key, user, at) == 1 then
      newIds[#newIds + 1] = id[1]
      ranges[#ranges + 1] = {id[2] - 1, id[2]}
    end
    touch(ttl, key)
  end
end

-- Direct chats: the peer hears at once about its newest message this receipt covers, once.
local peer, pushId, pushSeq, pushStatus = '', '', 0, ''
local windowOpen = 0
if kind == 'DIRECT' then
  for _, member in ipairs(redis.call('SMEMBERS', members)) do
    if member ~= user then peer = member end
  end
  local marks = redis.call('HMGET', notified, 'r:' .. user, 'd:' .. user)
  local floor = tonumber(marks[1] or '0')
  if status == 'DELIVERED' then floor = math.max(floor, tonumber(marks[2] or '0')) end
  local upTo = target
  if kindOfReceipt == 'read' then upTo = newRead end
  if peer ~= '' and upTo > floor then
    local candidates = redis.call('ZREVRANGEBYSCORE', msgs, upTo, '(' .. str(floor), 'LIMIT', 0, 256)
    for _, id in ipairs(candidates) do
      local seq, sender = parseMessage(redis.call('HGET', msg, id))
      if sender == peer and (kindOfReceipt ~= 'dlv_ids' or redis.call('HEXISTS', p .. 'dlv:' .. id, user) == 1) then
        pushId, pushSeq, pushStatus = id, seq, status
        break
      end
    end
  end
elseif #ranges > 0 then
  -- Groups: note each range's upper end (with the lowest start seen for it) in the open window;
  -- at close, each sender hears about their newest message below each end. One HMGET reads
  -- what the window knows, one HSET writes what changes.
  local fields = {'ver', 'src'}
  for _, r in ipairs(ranges) do fields[#fields + 1] = 'r:' .. str(r[2]) end
  local known = redis.call('HMGET', win, unpack(fields))
  local wver, wsrc = tonumber(known[1] or '0'), tonumber(known[2] or sourceAt)
  local updates = {'ver', str(math.max(wver, version)), 'src', str(math.min(wsrc, sourceAt))}
  for i, r in ipairs(ranges) do
    local lo = known[i + 2]
    if not lo or tonumber(lo) > r[1] then
      updates[#updates + 1] = fields[i + 2]
      updates[#updates + 1] = str(r[1])
    end
  end
  redis.call('HSET', win, unpack(updates))
  redis.call('HINCRBY', win, 'absorbed', 1)
  -- A new window gets its TTL (a safety net: windows are deleted when they close).
  if not known[1] then touch(ttl, win) end
  windowOpen = 1
else
  windowOpen = redis.call('EXISTS', win)
end

refreshCore(p, ttl, m[3], false)
local unread = 0
local atEnd = 0
if kindOfReceipt == 'read' then
  unread = redis.call('ZCOUNT', msgs, '(' .. str(newRead), '+inf')
  if newRead >= lastSeq then atEnd = 1 end
end
local changed = 0
if #ranges > 0 then changed = 1 end
return cjson.encode({kind, str(oldRead), str(newRead), unread, atEnd, peer, pushId, str(pushSeq),
  pushStatus, windowOpen, str(lastSeq), changed, str(readNow or hnum(read, user)),
  str(dlvdNow or hnum(dlvd, user)), newIds})
