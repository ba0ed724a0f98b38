--[[
  Applies a run of receipts of one conversation, in order, as if each were applied alone: read
  up to a seq, or delivered (up to a seq, or a set of ids). Watermarks only move forward, so a
  duplicate, replayed or backwards receipt changes nothing.
  KEYS[1] conversation key prefix
  ARGV[1] ttl (s)
  ARGV[2..] per receipt: type ('read' | 'read_id' | 'dlv_seq' | 'dlv_ids'), user_id, at (ms),
            share_read ('1', or '0' when the reader turned read receipts off), version (source
            offset), source event time (ms), n, then n arguments: the seq (read, dlv_seq) or
            message ids (read_id: one, dlv_ids: many)
  Returns one JSON string (one reply to decode; seqs as strings; cjson writes an empty list as
  {}): a list with one entry per receipt, in order:
    ['held', reason]  when it cannot apply yet: NOT_A_MEMBER | SEQ_NOT_REACHED | UNKNOWN_MESSAGE
    [kind, old, new, unread, at_end, peer, push_id, push_seq, push_status, window, last_seq,
     changed, read, delivered, new_ids]
      old/new: the reader's read watermark before/after (both 0 for delivered receipts)
      changed: 1 when the receipt moved state (else a duplicate, a replay or a backwards read)
      read/delivered: the member's watermarks after it; new_ids: ids first confirmed delivered
      push_*: the direct-chat update for the peer ('' when nothing new to tell). The 'told up
        to' marks (meta's 'tr:<reader>' / 'td:<reader>' = the seq told; older builds wrote
        "seq|version|message_id") are written here; any receipt at or below the mark pushes
        nothing, that same receipt seen again in a redo included (its state is written after its
        update was produced).
      window: 1 when the conversation has an open group window to close (after the run: the
        same for every receipt of the call)
  Groups: the window ('win') notes, besides each range, the senders to tell ('s:<sender>': a
  receipt newly covered one of their messages — what a shared read or a delivery changed, not
  what a read that is not shared only confirms, nor a delivery by id below the watermark) and
  'unwindowed': the pushes the direct-chat rule would have sent, per receipt one to each.
  Cost: what is per conversation (meta, members, the watermarks of every reader in the run,
  the group window, expiries) is read and written once per call, not once per receipt; a
  receipt adds its log entry, and for direct chats the lookup of the update to push.
]]
-- @include "helpers"
-- @include "window-fold"

local p = KEYS[1]
local ttl = tonumber(ARGV[1])
local meta, msgs, msg, win = p .. 'meta', p .. 'msgs', p .. 'msg', p .. 'win'

-- Parse the receipts and collect their readers.
local receipts, users, seen = {}, {}, {}
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i + 6])
  local r = {type = ARGV[i], user = ARGV[i + 1], at = ARGV[i + 2], shareRead = ARGV[i + 3] == '1',
    version = tonumber(ARGV[i + 4]), sourceAt = tonumber(ARGV[i + 5]), args = {}}
  for j = 1, n do r.args[j] = ARGV[i + 6 + j] end
  receipts[#receipts + 1] = r
  if not seen[r.user] then
    seen[r.user] = true
    users[#users + 1] = r.user
  end
  i = i + 7 + n
end

if #receipts == 0 then return '[]' end

local m = redis.call('HMGET', meta, 'kind', 'last_seq', LAYOUT)
local kind = m[1] or 'GROUP'
local lastSeq = tonumber(m[2] or '0')
-- Created before deliveries by id shared the 'dlv' hash: 'dlv:<id>' hashes may hold some.
local older = not hasLogLayout(m[3])

-- Membership (meta's 'm:<user>' fields): a direct chat's two members come with the rest of its
-- small meta (the peer is needed anyway); a group's readers are asked for by name.
local isMember, directMembers = {}, nil
if kind == 'DIRECT' then
  directMembers = memberState(redis.call('HGETALL', meta))
  for _, member in ipairs(directMembers) do isMember[member] = true end
else
  local flags = hmget(meta, prefixed(MEMBER, users))
  for k, user in ipairs(users) do isMember[user] = flags[k] ~= false end
end

-- The readers' watermarks, read once; written once at the end where they moved.
local reads, dlvds, readMoved, dlvdMoved = {}, {}, {}, {}
local readNow = hmget(meta, prefixed(READ, users))
local dlvdNow = hmget(meta, prefixed(DLVD, users))
for k, user in ipairs(users) do
  reads[user] = tonumber(readNow[k] or '0')
  dlvds[user] = tonumber(dlvdNow[k] or '0')
end

local expiring = {}
local function expireOnce(key)
  if not expiring[key] then
    expiring[key] = true
    redis.call('EXPIRE', key, ttl)
  end
end

-- A reader's 'told up to' marks, read once per call: marks[1] read, marks[2] delivered, each
-- {seq, version, id} (seq 0 when none). Marks written before versions were kept hold a seq only.
-- marksMoved: field -> the mark to write at the end (its last value in the call).
local MARK_PREFIX = {'tr:', 'td:'}
local marksOf, marksMoved = {}, {}
local function parseMark(value)
  if not value then return {0, -1, ''} end
  local seq, version, id = string.match(value, '^(%d+)|(%d+)|(.*)$')
  if not seq then return {tonumber(value) or 0, -1, ''} end
  return {tonumber(seq), tonumber(version), id}
end
local function notifiedMarks(user)
  local marks = marksOf[user]
  if not marks then
    local raw = redis.call('HMGET', meta, MARK_PREFIX[1] .. user, MARK_PREFIX[2] .. user)
    marks = {parseMark(raw[1]), parseMark(raw[2])}
    marksOf[user] = marks
  end
  return marks
end

-- Group window: the run's ranges, senders to tell and direct-chat pushes (window-fold).
local fold = newWindowFold(msgs, msg)

local results, applied = {}, false
for _, r in ipairs(receipts) do
  local user, kindOfReceipt = r.user, r.type
  local result
  if not isMember[user] then
    result = {'held', 'NOT_A_MEMBER'}
  else
    -- Resolve the target seq (or the ids' seqs) before writing anything.
    local target, ids, held = 0, {}, nil
    if kindOfReceipt == 'read' or kindOfReceipt == 'dlv_seq' then
      target = tonumber(r.args[1])
      if target > lastSeq then held = 'SEQ_NOT_REACHED' end
    else
      for _, id in ipairs(r.args) do
        local seq = parseMessage(redis.call('HGET', msg, id))
        if not seq then
          held = 'UNKNOWN_MESSAGE'
          break
        end
        ids[#ids + 1] = {id, seq}
        if seq > target then target = seq end
      end
      if kindOfReceipt == 'read_id' then kindOfReceipt = 'read' end
    end

    if held then
      result = {'held', held}
    else
      applied = true
      local oldRead, newRead = 0, 0
      local newIds = {}
      -- What this receipt changed, as seq ranges (lo, hi]: the group window summarises them.
      local ranges = {}
      -- What a sender can see changed (groups: whom the direct-chat rule would tell).
      local seen = ranges
      local status = 'DELIVERED'
      if kindOfReceipt == 'read' then
        oldRead = reads[user]
        newRead = math.max(oldRead, target)
        local oldDlvd = dlvds[user]
        if newRead > oldRead then reads[user] = newRead; readMoved[user] = true end
        if newRead > oldDlvd then dlvds[user] = newRead; dlvdMoved[user] = true end
        if newRead > oldRead or newRead > oldDlvd then
          ranges[1] = {math.min(oldRead, oldDlvd), newRead}
          expireOnce(logMove(p, user, 'read', newRead, r.at))
        end
        if r.shareRead then
          status = 'READ'
        elseif newRead > oldDlvd then
          -- A read that is not shared shows only as the deliveries it implies.
          seen = {{oldDlvd, newRead}}
        else
          seen = {}
        end
      elseif kindOfReceipt == 'dlv_seq' then
        local oldDlvd = dlvds[user]
        if target > oldDlvd then
          dlvds[user] = target
          dlvdMoved[user] = true
          ranges[1] = {oldDlvd, target}
          expireOnce(logMove(p, user, 'delivered', target, r.at))
        end
      else
        for _, id in ipairs(ids) do
          if not confirmedBy(p, id[1], user, older) then
            redis.call('HSET', p .. 'dlv', dlvField(id[1], user), r.at)
            expireOnce(p .. 'dlv')
            newIds[#newIds + 1] = id[1]
            ranges[#ranges + 1] = {id[2] - 1, id[2]}
          end
        end
        -- A message already below the delivered watermark was counted as delivered before.
        seen = {}
        for _, range in ipairs(ranges) do
          if range[2] > dlvds[user] then seen[#seen + 1] = range end
        end
      end

      -- Direct chats: the peer hears at once about its newest message this receipt covers, once.
      local peer, pushId, pushSeq, pushStatus = '', '', 0, ''
      if kind == 'DIRECT' then
        for _, member in ipairs(directMembers) do
          if member ~= user then peer = member end
        end
        local marks = notifiedMarks(user)
        local own = 2
        if status == 'READ' then own = 1 end
        local floor = marks[1][1]
        if status == 'DELIVERED' then floor = math.max(floor, marks[2][1]) end
        local upTo = target
        if kindOfReceipt == 'read' then upTo = newRead end
        if peer ~= '' and upTo > floor then
          local candidates = redis.call('ZREVRANGEBYSCORE', msgs, upTo, '(' .. str(floor), 'LIMIT', 0, 256)
          for _, id in ipairs(candidates) do
            local seq, sender = parseMessage(redis.call('HGET', msg, id))
            if sender == peer and (kindOfReceipt ~= 'dlv_ids' or confirmedBy(p, id, user, older)) then
              pushId, pushSeq, pushStatus = id, seq, status
              marks[own] = {seq, r.version, id}
              marksMoved[MARK_PREFIX[own] .. user] = marks[own]
              break
            end
          end
        end
      else
        local told = #ranges > 0 and fold.covered(seen, user) or 0
        fold.add(ranges, told, r.version, r.sourceAt)
      end

      local unread, atEnd = 0, 0
      if kindOfReceipt == 'read' then
        unread = redis.call('ZCOUNT', msgs, '(' .. str(newRead), '+inf')
        if newRead >= lastSeq then atEnd = 1 end
      end
      local changed = 0
      if #ranges > 0 then changed = 1 end
      -- index 10 (window) is filled in below, once the whole run is known
      result = {kind, str(oldRead), str(newRead), unread, atEnd, peer, pushId, str(pushSeq),
        pushStatus, 0, str(lastSeq), changed, str(reads[user]), str(dlvds[user]), newIds}
    end
  end
  results[#results + 1] = result
end

-- Write the watermarks that moved (meta's 'r:<user>' and 'd:<user>' fields).
local moved = {}
local function noteMoved(prefix, values, which)
  for user in pairs(which) do
    moved[#moved + 1] = prefix .. user
    moved[#moved + 1] = str(values[user])
  end
end
noteMoved(READ, reads, readMoved)
noteMoved(DLVD, dlvds, dlvdMoved)
callPairs('HSET', meta, moved)

-- The 'told up to' marks that moved (meta's fields: they expire with it), their seq alone as
-- stored-values.ts formatMark writes them: no rule reads the version or message that told.
local markFields = {}
for field, mark in pairs(marksMoved) do
  markFields[#markFields + 1] = field
  markFields[#markFields + 1] = str(mark[1])
end
callPairs('HSET', meta, markFields)

-- Groups: fold the run's ranges into the open window.
local windowOpen = 0
if kind ~= 'DIRECT' then windowOpen = fold.write(win, ttl) end
for _, result in ipairs(results) do
  if result[1] ~= 'held' then result[10] = windowOpen end
end

-- Only a conversation that took a receipt is kept alive (held ones may name no conversation yet).
if applied then refreshCore(p, ttl, false) end
return cjson.encode(results)
