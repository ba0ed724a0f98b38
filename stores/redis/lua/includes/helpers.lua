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

-- A conversation's six core keys share one expiry. Refreshing them costs six EXPIREs, so an
-- active conversation refreshes at most once per 1/24 of the TTL (an hour of 24 h): its keys live
-- between 23/24 of the TTL and the whole TTL after its last event. `force` refreshes now (keys
-- were just created). meta's 'touched' holds the time of the last refresh (ms, server clock).
local CORE_KEYS = {'meta', 'members', 'read', 'dlvd', 'msg', 'msgs'}
local function refreshCore(p, ttl, touched, force)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if force or now - (tonumber(touched) or 0) >= ttl * 1000 / 24 then
    redis.call('HSET', p .. 'meta', 'touched', str(now))
    for _, suffix in ipairs(CORE_KEYS) do redis.call('EXPIRE', p .. suffix, ttl) end
  end
end

-- A hash as a Lua table (HGETALL's flat reply), values as numbers.
local function numbers(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = tonumber(flat[i + 1]) end
  return t
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
