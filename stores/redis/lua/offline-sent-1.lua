--[[
  Confirms that an offline batch was produced: forgets it, unless it changed since (a newer
  batch id, merged after another reconnect), which is then sent on the next one.
  KEYS[1] user key prefix ("<prefix>:{u:<user>}:"): 'sending' hash
  ARGV[1] batch_id
  Returns 1 when the batch was forgotten, 0 when it had changed or was gone.
]]
local sending = KEYS[1] .. 'sending'
if redis.call('HGET', sending, '#id') == ARGV[1] then
  redis.call('DEL', sending)
  return 1
end
return 0
