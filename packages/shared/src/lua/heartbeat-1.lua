--[[
  An ingester's heartbeat: it is alive for `ttl` more ms, by Redis' clock
  (so the members' clocks need not agree); members whose heartbeat lapsed
  are removed.

  KEYS[1] live ingesters       {global}:ingesters  zset: id -> lapses at (ms)

  ARGV[1] the ingester's id
  ARGV[2] time to live (ms)

  Returns the number of live ingesters, the caller included.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return redis.call('ZCARD', KEYS[1])
