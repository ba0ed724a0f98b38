--[[
  Applies several partitions' write-behinds (stores/state/write-set.ts), each under its own
  fence, in one call: the steps of different partitions that finish together (their outputs
  acknowledged by one produce) share a script call instead of paying one each
  (stores/redis/fenced-write-queue.ts). Each is what apply-writes-1.lua does for one: its
  commands run in order only while its partition's lease names its writer, atomically with the
  check; one whose lease is lost writes nothing, and the others are applied all the same. A
  command that fails stops its own write-behind there (as a failing call stops apply-writes).
  KEYS    the partitions' lease keys, one per write-behind (a single Redis: any keys)
  ARGV    per key, in order: the writer's lease owner id, its commands as JSON
          ([[command, key, arg, …], …]), and 'replies' to have their replies back ('' not to)
  Returns per key, in order: the number of commands applied, or their replies (in order); or
  'LEASE_LOST …' (nothing written); or 'ERR …' (the commands before the failing one were
  applied).
]]
local results = {}
-- Each lease read once: a partition's write-behinds often come together (a step's badge writes
-- and its flush), and nothing else runs while a script does.
local holders = {}
for k, lease in ipairs(KEYS) do
  local owner = ARGV[3 * k - 2]
  if holders[lease] == nil then holders[lease] = redis.call('GET', lease) end
  if holders[lease] ~= owner then
    results[k] = 'LEASE_LOST the partition lease ' .. lease .. ' is not held by ' .. owner
  else
    local commands = cjson.decode(ARGV[3 * k - 1])
    local replies = ARGV[3 * k] == 'replies' and {} or nil
    local result = replies or #commands
    for i, command in ipairs(commands) do
      local reply = redis.pcall(unpack(command))
      if type(reply) == 'table' and reply.err then
        result = 'ERR ' .. reply.err
        break
      end
      if replies then replies[i] = reply end
    end
    results[k] = result
  end
end
return results
