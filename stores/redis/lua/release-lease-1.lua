--[[
  Ends a partition lease if this owner holds it (compare-and-delete), so the partition's next
  owner need not wait for it to expire; a lease another owner holds by now is left alone.
  KEYS[1] the partition's lease key
  ARGV[1] the owner id
  Returns 1 when deleted, 0 when the key is gone or holds another owner.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
