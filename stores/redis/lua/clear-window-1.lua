--[[
  Deletes a window once its summaries were produced, unless receipts arrived since it was read.
  KEYS[1] conversation key prefix
  ARGV[1] the version collect-window returned
  Returns 1 when deleted, 0 when the window moved on (it stays open and is closed again).
]]
local win = KEYS[1] .. 'win'
if redis.call('HGET', win, 'ver') == ARGV[1] then
  return redis.call('DEL', win)
end
return 0
