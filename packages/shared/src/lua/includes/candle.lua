-- Candles as stored (JSON members of sorted sets scored by bucket start),
-- and the fold rules of candle.ts: open/close are the first/last trade by
-- (time, id). Only buckets with trades are stored: a flat bucket is derived
-- when read, at the close of the latest stored candle before it, so no
-- range of buckets is ever written. Requires decimal.lua.

local function num(n)
  return string.format('%.0f', n)
end

-- Stable field order, so the same candle always encodes to the same member.
local function enc(c)
  local s = '{"time":' .. num(c.time) .. ',"open":"' .. c.open .. '","high":"' .. c.high ..
    '","low":"' .. c.low .. '","close":"' .. c.close .. '","volume":"' .. c.volume ..
    '","quoteVolume":"' .. c.quoteVolume .. '","trades":' .. num(c.trades)
  if c.origin then s = s .. ',"origin":"' .. c.origin .. '"' end
  if c.ot then
    s = s .. ',"ot":' .. num(c.ot) .. ',"oi":"' .. c.oi .. '","ct":' .. num(c.ct) .. ',"ci":"' .. c.ci .. '"'
  end
  return s .. '}'
end

local function dec(s)
  return cjson.decode(s)
end

-- The public form (docs/api.md): no trade ids, plus `closed`.
local function pub(c, closed)
  return '{"time":' .. num(c.time) .. ',"open":"' .. c.open .. '","high":"' .. c.high ..
    '","low":"' .. c.low .. '","close":"' .. c.close .. '","volume":"' .. c.volume ..
    '","quoteVolume":"' .. c.quoteVolume .. '","trades":' .. num(c.trades) ..
    (c.origin and (',"origin":"' .. c.origin .. '"') or '') ..
    ',"closed":' .. (closed and 'true' or 'false') .. '}'
end

local function flat(time, price)
  return { time = time, open = price, high = price, low = price, close = price,
    volume = '0', quoteVolume = '0', trades = 0 }
end

local function idcmp(a, b)
  if string.match(a, '^%d+$') and string.match(b, '^%d+$') then
    local x = string.gsub(a, '^0+(%d)', '%1')
    local y = string.gsub(b, '^0+(%d)', '%1')
    if #x ~= #y then return (#x < #y) and -1 or 1 end
  end
  if a == b then return 0 end
  return (a < b) and -1 or 1
end

local function tradecmp(t1, i1, t2, i2)
  if t1 ~= t2 then return (t1 < t2) and -1 or 1 end
  return idcmp(i1, i2)
end

-- Folds one trade into candle c (nil or flat: a new candle) of bucket `time`.
local function apply(c, time, t, price, qty, amt, id)
  if c == nil or c.trades == 0 then
    return { time = time, open = price, high = price, low = price, close = price,
      volume = qty, quoteVolume = amt, trades = 1, ot = t, oi = id, ct = t, ci = id }
  end
  if tradecmp(t, id, c.ot, c.oi) < 0 then
    c.open = price; c.ot = t; c.oi = id
  end
  if tradecmp(t, id, c.ct, c.ci) > 0 then
    c.close = price; c.ct = t; c.ci = id
  end
  if dcmp(price, c.high) > 0 then c.high = price end
  if dcmp(price, c.low) < 0 then c.low = price end
  c.volume = dadd(c.volume, qty)
  c.quoteVolume = dadd(c.quoteVolume, amt)
  c.trades = c.trades + 1
  return c
end

-- Merges `p`, the fold of new trades of bucket `c.time` (with their first
-- and last trades' time and id), into the stored candle `c` of that bucket.
local function merge(c, p)
  if c == nil or c.trades == 0 then return p end
  if tradecmp(p.ot, p.oi, c.ot, c.oi) < 0 then
    c.open = p.open; c.ot = p.ot; c.oi = p.oi
  end
  if tradecmp(p.ct, p.ci, c.ct, c.ci) > 0 then
    c.close = p.close; c.ct = p.ct; c.ci = p.ci
  end
  if dcmp(p.high, c.high) > 0 then c.high = p.high end
  if dcmp(p.low, c.low) < 0 then c.low = p.low end
  c.volume = dadd(c.volume, p.volume)
  c.quoteVolume = dadd(c.quoteVolume, p.quoteVolume)
  c.trades = c.trades + p.trades
  return c
end

-- Rolls consecutive parts (oldest first) up into the candle of bucket `time`.
-- Its origin: "exchange" when every part with trades is the exchange's own
-- (imported history), "mixed" when some are and some were built from
-- trades, none when none is.
local function rollup(time, parts)
  local out = nil
  local vols, quotes = {}, {}
  local imported, built = false, false
  for _, p in ipairs(parts) do
    if p.trades > 0 then
      if p.origin == 'exchange' then
        imported = true
      elseif p.origin == 'mixed' then
        imported, built = true, true
      else
        built = true
      end
      vols[#vols + 1] = p.volume
      quotes[#quotes + 1] = p.quoteVolume
      if out == nil then
        out = { time = time, open = p.open, high = p.high, low = p.low, close = p.close, trades = p.trades }
      else
        if dcmp(p.high, out.high) > 0 then out.high = p.high end
        if dcmp(p.low, out.low) < 0 then out.low = p.low end
        out.close = p.close
        out.trades = out.trades + p.trades
      end
    end
  end
  if out == nil then return flat(time, parts[1].open) end
  if imported then out.origin = built and 'mixed' or 'exchange' end
  out.volume = dsum(vols)
  out.quoteVolume = dsum(quotes)
  return out
end

-- Replaces the member at score `time` (there is at most one).
local function put(key, c)
  redis.call('ZREMRANGEBYSCORE', key, c.time, c.time)
  redis.call('ZADD', key, c.time, enc(c))
end

local function get(key, time)
  local m = redis.call('ZRANGE', key, time, time, 'BYSCORE')[1]
  if m then return dec(m) end
  return nil
end

-- The close of the latest stored candle that starts before `time`, or nil:
-- the price of a flat bucket at `time`.
local function closeBefore(key, time)
  local m = redis.call('ZRANGE', key, '(' .. num(time), '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1)[1]
  if m then return string.match(m, '"close":"([^"]*)"') end
  return nil
end

-- The members of `key` scored in [a, b], read for roll-ups and events: the
-- candle's values by one pattern (twice as fast as cjson.decode), its
-- bucket from the score, and the stored text itself (`raw`).
local function range(key, a, b, limit)
  local out = {}
  local raw
  if limit then
    raw = redis.call('ZRANGE', key, num(a), num(b), 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES')
  else
    raw = redis.call('ZRANGE', key, num(a), num(b), 'BYSCORE', 'WITHSCORES')
  end
  for i = 1, #raw, 2 do
    local m = raw[i]
    local o, h, l, c, v, q, n, at = string.match(m, '"open":"([^"]*)","high":"([^"]*)","low":"([^"]*)","close":"([^"]*)","volume":"([^"]*)","quoteVolume":"([^"]*)","trades":(%d+)()')
    out[#out + 1] = { time = tonumber(raw[i + 1]), open = o, high = h, low = l, close = c, volume = v, quoteVolume = q, trades = tonumber(n),
      origin = string.match(m, '^,"origin":"(%a+)"', at), raw = m }
  end
  return out
end

-- Moves the pair's data version (state field `v`): every script that
-- writes what read-candles.lua could return calls it once, so an API may
-- reuse an answer as long as the version it was read at stands. The first
-- version is the server's time in µs: a state deleted and made again never
-- repeats a version some API still holds (later versions only count up,
-- one per write, slower than the clock).
local function bumpVersion(stateKey)
  if redis.call('HINCRBY', stateKey, 'v', 1) == 1 then
    local t = redis.call('TIME')
    redis.call('HSET', stateKey, 'v', t[1] .. string.format('%06d', tonumber(t[2])))
  end
end
