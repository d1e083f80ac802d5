--[[
  Gives a lease up if the caller still holds it, so that another can take
  it at once; a lease another owner holds now is left alone.

  KEYS[1] the lease            lease:{PAIR} or {global}:source-lease

  ARGV[1] the owner's id

  Returns 1 if released, 0 if the caller did not hold it.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
