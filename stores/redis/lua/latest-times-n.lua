--[[
  When the latest message of each conversation was sent, to order a user's conversations before
  a page of them is counted (read-only). One call for any number: thousands of HGETs sent one by
  one cost the client far more than Redis.
  KEYS    conversation key prefixes, any number (a Redis Cluster client sends one call per slot)
  Returns last_at per conversation (epoch ms; 0 when unknown), in KEYS order.
]]
local out = {}
for i, p in ipairs(KEYS) do
  out[i] = tonumber(redis.call('HGET', p .. 'meta', 'last_at') or '0')
end
return out
