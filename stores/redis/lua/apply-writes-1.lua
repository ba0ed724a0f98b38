--[[
  Applies a step's write-behind (stores/state/write-set.ts) in one call: the commands Node would
  otherwise send one by one — HSET, HDEL, ZADD, ZREM, ZREMRANGEBYSCORE, SADD, SREM, DEL, EXPIRE — packed as one
  JSON argument, run in order. It decides nothing and reads nothing: the logic ran in the
  process that owns the partition; this only saves that process the cost of thousands of client
  commands per step (encoding each, a promise and a reply each). As a script it is atomic, like
  the MULTI/EXEC it replaces: a crash leaves the step wholly applied or not at all.
  KEYS[1] the first key written (a single Redis server: every key of the step may be written)
  ARGV[1] JSON: [[command, key, arg, …], …]
  Returns the number of commands applied.
]]
local commands = cjson.decode(ARGV[1])
for _, command in ipairs(commands) do
  redis.call(unpack(command))
end
return #commands
