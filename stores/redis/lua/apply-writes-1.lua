--[[
  Applies a step's write-behind (stores/state/write-set.ts) in one call: the commands Node would
  otherwise send one by one — HSET, HDEL, ZADD, ZREM, ZREMRANGEBYSCORE, SADD, SREM, DEL, EXPIRE — packed as one
  JSON argument, run in order. It decides nothing: the logic ran in the process that owns the
  partition; this only saves that process the cost of thousands of client commands per step
  (encoding each, a promise and a reply each). As a script it is atomic, like the MULTI/EXEC it
  replaces: a crash leaves the step wholly applied or not at all.
  Fenced (ARGV[2] given): it writes only if the partition's lease still names this writer. The
  writer checked its lease before it called, but it may have stalled (GC, SIGSTOP) between that
  check and this call past its lease, and a new owner may have written since: a late writer must
  not overwrite it.
  KEYS[1] fenced: the partition's lease key; else the first key written (a single Redis server:
          every key of the step may be written)
  ARGV[1] JSON: [[command, key, arg, …], …]
  ARGV[2] (optional) the writer's lease owner id
  ARGV[3] (optional) 'replies': return each command's reply (in order) instead of their number
  Returns the number of commands applied (or their replies); fails with LEASE_LOST (nothing
  written) when fenced and the lease key holds another owner or none.
]]
if ARGV[2] ~= nil and redis.call('GET', KEYS[1]) ~= ARGV[2] then
  return redis.error_reply('LEASE_LOST the partition lease ' .. KEYS[1] .. ' is not held by ' .. ARGV[2])
end
local commands = cjson.decode(ARGV[1])
local replies = ARGV[3] == 'replies' and {} or nil
for i, command in ipairs(commands) do
  local reply = redis.call(unpack(command))
  if replies then replies[i] = reply end
end
return replies or #commands
