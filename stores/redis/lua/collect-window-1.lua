--[[
  Reads what a closing group window needs: the members' watermarks and the messages to
  summarise. For each range end the window noted, each sender's newest message in that range
  (older ones are implied: counts only grow towards older messages, as watermarks are prefixes).
  Counts are computed by the caller, which knows who shares reads.
  KEYS[1] conversation key prefix
  ARGV[1] most messages to summarise  ARGV[2] most messages scanned per range
  Returns {} when no window is open, else
    {lo, hi, version, source_at, absorbed, members, reads, dlvds, messages}
    reads/dlvds: flat {user, seq, ...}; messages: {{id, seq, sender, {ids-delivered users}}, ...}
]]
-- @include "helpers"

local p = KEYS[1]
local win = p .. 'win'
if redis.call('EXISTS', win) == 0 then return {} end
local maxMessages, scanLimit = tonumber(ARGV[1]), tonumber(ARGV[2])

local ranges = {}
local fields = redis.call('HGETALL', win)
local w = {}
for i = 1, #fields, 2 do
  w[fields[i]] = fields[i + 1]
  local hi = string.match(fields[i], '^r:(%d+)$')
  if hi then ranges[#ranges + 1] = {tonumber(fields[i + 1]), tonumber(hi)} end
end
table.sort(ranges, function(a, b) return a[2] > b[2] end)

local members = redis.call('SMEMBERS', p .. 'members')
local readOf, dlvdOf = numbers(redis.call('HGETALL', p .. 'read')), numbers(redis.call('HGETALL', p .. 'dlvd'))
local reads, dlvds = {}, {}
for _, m in ipairs(members) do
  reads[#reads + 1] = m
  reads[#reads + 1] = readOf[m] or 0
  dlvds[#dlvds + 1] = m
  dlvds[#dlvds + 1] = dlvdOf[m] or 0
end

local messages, picked = {}, {}
local lo, hi = nil, 0
for _, range in ipairs(ranges) do
  if #messages >= maxMessages then break end
  lo = math.min(lo or range[1], range[1])
  hi = math.max(hi, range[2])
  local seen = {}
  local ids = redis.call('ZREVRANGEBYSCORE', p .. 'msgs', range[2], '(' .. str(range[1]), 'LIMIT', 0, scanLimit)
  for _, id in ipairs(ids) do
    local seq, sender = parseMessage(redis.call('HGET', p .. 'msg', id))
    if sender and not seen[sender] then
      seen[sender] = true
      if not picked[id] and #messages < maxMessages then
        picked[id] = true
        messages[#messages + 1] = {id, seq, sender, redis.call('HKEYS', p .. 'dlv:' .. id)}
      end
    end
  end
end
return {lo or 0, hi, tonumber(w.ver or '0'), tonumber(w.src or '0'), tonumber(w.absorbed or '0'),
  members, reads, dlvds, messages}
