--[[
  Extends a partition lease if this owner still holds it (compare-and-extend): a lease that
  expired or went to another owner is not taken back here — acquiring is SET NX's job.
  KEYS[1] the partition's lease key
  ARGV[1] the owner id
  ARGV[2] the lease's time to live (ms)
  Returns 1 when extended, 0 when the key is gone or holds another owner.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
