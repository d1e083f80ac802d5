--[[
  Renews a lease if it is still held by the caller: a lease that lapsed, or
  that another owner took after it lapsed, is not revived.

  KEYS[1] the lease            lease:{PAIR} or {global}:source-lease

  ARGV[1] the owner's id
  ARGV[2] time to live (ms)

  Returns 1 if renewed, 0 if the caller no longer holds it.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
