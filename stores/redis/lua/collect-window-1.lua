--[[
  Reads what a closing group window needs: the members' watermarks and the messages to
  summarise. Ranges by their upper end, highest first, the newest ARGV[2] messages of each:
  every message there of a sender the window tells ('s:<sender>' fields: its receipts newly
  covered one of their messages), at most ARGV[1] per sender. A window without 'unwindowed'
  (opened by a build that did not note senders) tells every sender.
  Counts are computed by the caller, which knows who shares reads.
  KEYS[1] conversation key prefix
  ARGV[1] most messages per sender  ARGV[2] most messages scanned per range
  Returns {} when no window is open, else
    {lo, hi, version, source_at, absorbed, members, reads, dlvds, messages, unwindowed}
    reads/dlvds: flat {user, seq, ...}; messages: {{id, seq, sender, {ids-delivered users}}, ...}
    unwindowed: pushes the direct-chat rule would have sent for its receipts (-1: not counted)
]]
-- @include "helpers"

local p = KEYS[1]
local win = p .. 'win'
if redis.call('EXISTS', win) == 0 then return {} end
local maxPerSender, scanLimit = tonumber(ARGV[1]), tonumber(ARGV[2])

local ranges, told = {}, {}
local fields = redis.call('HGETALL', win)
local w = {}
for i = 1, #fields, 2 do
  w[fields[i]] = fields[i + 1]
  local hi = string.match(fields[i], '^r:(%d+)$')
  if hi then ranges[#ranges + 1] = {tonumber(fields[i + 1]), tonumber(hi)} end
  if string.sub(fields[i], 1, 2) == 's:' then told[string.sub(fields[i], 3)] = true end
end
if not w.unwindowed then told = nil end
table.sort(ranges, function(a, b) return a[2] > b[2] end)

local meta = redis.call('HGETALL', p .. 'meta')
local members, readOf, dlvdOf = memberState(meta)
local users = everyone(members, readOf, dlvdOf)
local older = not currentLayout(meta)
local reads, dlvds = {}, {}
for _, m in ipairs(members) do
  reads[#reads + 1] = m
  reads[#reads + 1] = readOf[m] or 0
  dlvds[#dlvds + 1] = m
  dlvds[#dlvds + 1] = dlvdOf[m] or 0
end

local messages, picked, perSender = {}, {}, {}
local lo, hi = nil, 0
for _, range in ipairs(ranges) do
  lo = math.min(lo or range[1], range[1])
  hi = math.max(hi, range[2])
  local ids = redis.call('ZREVRANGEBYSCORE', p .. 'msgs', range[2], '(' .. str(range[1]), 'LIMIT', 0, scanLimit)
  for _, id in ipairs(ids) do
    local seq, sender = parseMessage(redis.call('HGET', p .. 'msg', id))
    if sender and not picked[id] and (told == nil or told[sender]) and (perSender[sender] or 0) < maxPerSender then
      perSender[sender] = (perSender[sender] or 0) + 1
      picked[id] = true
      local by, confirmed = deliveredBy(p, id, users, older), {}
      for k = 1, #by, 2 do confirmed[#confirmed + 1] = by[k] end
      messages[#messages + 1] = {id, seq, sender, confirmed}
    end
  end
end
return {lo or 0, hi, tonumber(w.ver or '0'), tonumber(w.src or '0'), tonumber(w.absorbed or '0'),
  members, reads, dlvds, messages, tonumber(w.unwindowed or '-1')}
