--[[
  Who received and who read one message, for the receipt-details query (read-only).
  "Read by U at T" is the first entry of U's read log at or above the message's seq; a member
  who sent a later message read this one then too (sending moves the sender's watermark without
  a log entry), so the first later message of each member also counts. Delivered is the
  delivered watermark, the delivered-by-id hash, or having read it, whichever came first.
  KEYS[1] conversation key prefix
  ARGV[1] message_id  ARGV[2] viewer (user_id)  ARGV[3] most later messages scanned for senders
  Returns
    {'no_conversation'}  nothing is known of the conversation here (expired, or never existed)
    {'not_member'}       the viewer is not a member
    {'no_message'}       the conversation has no such message here
    {'deleted'}          the message was deleted (its id is in the `deleted` hash)
    {'ok', seq, sender, sent_at, rows}
      rows: flat list of (user_id, read_at, delivered_at) for each member but the sender; an
      '' time means "not read" / "not delivered", and '?' "yes, at a time no longer known".
]]
-- @include "helpers"

local p = KEYS[1]
local messageId, viewer, scanLimit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local members, read, dlvd, msgs, msg = p .. 'members', p .. 'read', p .. 'dlvd', p .. 'msgs', p .. 'msg'

if redis.call('EXISTS', members) == 0 then return {'no_conversation'} end
if redis.call('SISMEMBER', members, viewer) == 0 then return {'not_member'} end
if redis.call('HEXISTS', p .. 'deleted', messageId) == 1 then return {'deleted'} end
local seq, sender, sentAt = parseMessage(redis.call('HGET', msg, messageId))
if not seq then return {'no_message'} end

-- The first message each member sent after this one: an implicit read at its sent_at.
local sentAfter = {}
local later = redis.call('ZRANGEBYSCORE', msgs, '(' .. str(seq), '+inf', 'LIMIT', 0, scanLimit)
if #later > 0 then
  local values = redis.call('HMGET', msg, unpack(later))
  for _, value in ipairs(values) do
    local _, by, at = parseMessage(value or false)
    if by and not sentAfter[by] then sentAfter[by] = tonumber(at) end
  end
end

-- First log entry at or above the seq: "<watermark>|<at>".
local function firstLogged(key)
  local entry = redis.call('ZRANGEBYSCORE', key, str(seq), '+inf', 'LIMIT', 0, 1)[1]
  if not entry then return nil end
  return tonumber(string.match(entry, '|(%d+)$'))
end

local function earliest(a, b)
  if a == nil then return b end
  if b == nil then return a end
  return math.min(a, b)
end

local rows = {}
for _, member in ipairs(redis.call('SMEMBERS', members)) do
  if member ~= sender then
    local readAt, deliveredAt = '', ''
    local readTime = nil
    if hnum(read, member) >= seq then
      readTime = earliest(firstLogged(p .. 'readlog:' .. member), sentAfter[member])
      readAt = readTime and str(readTime) or '?'
    end
    local byId = tonumber(redis.call('HGET', p .. 'dlv:' .. messageId, member) or '')
    local dlvTime = earliest(readTime, byId)
    if hnum(dlvd, member) >= seq then
      dlvTime = earliest(dlvTime, firstLogged(p .. 'dlvlog:' .. member))
    end
    if dlvTime then
      deliveredAt = str(dlvTime)
    elseif readAt ~= '' or hnum(dlvd, member) >= seq then
      deliveredAt = '?'
    end
    rows[#rows + 1] = member
    rows[#rows + 1] = readAt
    rows[#rows + 1] = deliveredAt
  end
end
return {'ok', str(seq), sender, sentAt, rows}
