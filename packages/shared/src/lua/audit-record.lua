-- The results of one audit batch (one pair, one period), recorded at once:
-- the cursor moves past the batch, the counters count it, its differences
-- join the capped stream. Only if the cursor is still where the batch
-- started: a batch another worker recorded meanwhile is not counted twice.
-- Every key is the deployment's own ({global}): one slot on a Redis Cluster.
--
-- KEYS[1] the audit cursors hash (field: "<pair>:<period>", value: last bucket audited)
-- KEYS[2] the stats hash (counters candles_audited_total:<result>)
-- KEYS[3] the differences stream
-- ARGV[1] the cursor's field
-- ARGV[2] the cursor the batch started from ('' when there was none)
-- ARGV[3] the new cursor (the batch's last bucket start)
-- ARGV[4], ARGV[5], ARGV[6] candles equal, differing, unavailable
-- ARGV[7] the stream's length cap
-- ARGV[8...] one JSON text per difference (pair, period, time, fields, ours, exchange)
-- Returns 1 when recorded, 0 when the cursor had moved (nothing written).

local now = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if now ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
local results = { 'equal', 'differs', 'unavailable' }
for i, name in ipairs(results) do
  local n = tonumber(ARGV[3 + i])
  if n > 0 then redis.call('HINCRBY', KEYS[2], 'candles_audited_total:' .. name, n) end
end
for i = 8, #ARGV do
  redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[7], '*', 'd', ARGV[i])
end
return 1
