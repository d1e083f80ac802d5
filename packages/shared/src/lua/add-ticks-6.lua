--[[
  Stores a batch of one pair's trades and folds each new one into the candle
  of its base bucket, atomically: a trade is stored once, counted once.

  KEYS[1] ticks stream          ticks:{PAIR}
  KEYS[2] trade ids (dedupe)    ids:{PAIR}        zset, id scored by arrival (ms)
  KEYS[3] pair state            state:{PAIR}      hash: first, last, lt, c:<ms>
  KEYS[4] forming base candles  forming:{PAIR}    hash: bucket start -> candle
  KEYS[5] closed base candles   candles:{PAIR}:<base>
  KEYS[6] revised base buckets  revised:{PAIR}    zset, for the roll-ups

  ARGV[1] base period, ms
  ARGV[2] tick retention, ms: ticks and ids that arrived longer ago go (the
          candles never need them: each trade is folded as it is stored, so
          trimming here is safe even while no worker runs)
  ARGV[3..] six per trade: time (ms), price, quantity, amount, side ("" if
            unknown), id. Decimals are canonical (decimal.ts).

  Returns { added, duplicates, late }: late trades fell in a bucket already
  closed, and revised it.
]]
--- @include "decimal"
--- @include "candle"

local base = tonumber(ARGV[1])
local st = redis.call('HMGET', KEYS[3], 'first', 'c:' .. ARGV[1], 'last', 'lt')
local first = tonumber(st[1])
local closed = tonumber(st[2])
local last = st[3]
local lt = tonumber(st[4])
local added, dups, late = 0, 0, 0
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local cutoff = num(now - tonumber(ARGV[2]))
now = num(now)
local forming = {}

-- After candle c (closed) changed its close, the flat candles that follow it
-- carry the new price, up to the next candle with trades.
local function cascade(c)
  local b = c.time + base
  local price = c.close
  while b <= closed do
    local f = get(KEYS[5], b)
    if f == nil or f.trades > 0 then return end
    put(KEYS[5], flat(b, price))
    redis.call('ZADD', KEYS[6], b, b)
    b = b + base
  end
  last = price
end

local function revise(b, t, price, qty, amt, id)
  late = late + 1
  if b < first then
    -- Earlier than anything seen: a new first candle, then flat ones up to
    -- the old first so the time axis has no hole.
    local c = apply(nil, b, t, price, qty, amt, id)
    put(KEYS[5], c)
    redis.call('ZADD', KEYS[6], b, b)
    for f = b + base, first - base, base do
      put(KEYS[5], flat(f, c.close))
      redis.call('ZADD', KEYS[6], f, f)
    end
    first = b
    return
  end
  local c = get(KEYS[5], b)
  local before = c and c.close
  c = apply(c, b, t, price, qty, amt, id)
  put(KEYS[5], c)
  redis.call('ZADD', KEYS[6], b, b)
  if c.close ~= before then
    if b == closed then last = c.close else cascade(c) end
  end
end

for i = 3, #ARGV, 6 do
  local t = tonumber(ARGV[i])
  local price, qty, amt, side, id = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  if redis.call('ZADD', KEYS[2], 'NX', now, id) == 0 then
    dups = dups + 1
  else
    added = added + 1
    redis.call('XADD', KEYS[1], 'MINID', '~', cutoff, '*', 't', ARGV[i], 'p', price, 'q', qty, 'a', amt, 's', side, 'i', id)
    local b = math.floor(t / base) * base
    if closed and b <= closed then
      revise(b, t, price, qty, amt, id)
    else
      local c = forming[b]
      if c == nil then
        local raw = redis.call('HGET', KEYS[4], num(b))
        if raw then c = dec(raw) end
      end
      forming[b] = apply(c, b, t, price, qty, amt, id)
      if first == nil or b < first then first = b end
    end
    if lt == nil or t > lt then lt = t end
  end
end

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. cutoff)

for b, c in pairs(forming) do
  redis.call('HSET', KEYS[4], num(b), enc(c))
end
if added > 0 then
  redis.call('HSET', KEYS[3], 'first', num(first), 'lt', num(lt))
  if last then redis.call('HSET', KEYS[3], 'last', last) end
end
return { added, dups, late }
