--[[
  Renews a lease the caller holds. A lease nobody holds (Redis lost it:
  restarted without it) is taken again, as SET NX would; one another owner
  holds is left alone. The caller gives a lease up on its own once it has
  gone unrenewed for its time to live, so a lease that lapsed is never
  renewed here after another could have taken it.

  KEYS[1] the lease            lease:{PAIR} or {global}:source-lease

  ARGV[1] the owner's id
  ARGV[2] time to live (ms)

  Returns 1 if renewed (or taken again), 0 if another owner holds it.
]]
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
