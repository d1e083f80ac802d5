--[[
  Stores a batch of one pair's trades and folds each new one into the candle
  of its base bucket, atomically: a trade is stored once and counted once,
  and its counters change in the same step as the data (a crash at any
  instant loses neither, doubles neither).

  KEYS[1] ticks stream          ticks:{PAIR}
  KEYS[2] trade ids (dedupe)    ids:{PAIR}        zset: id scored by trade time (ms)
  KEYS[3] pair state            state:{PAIR}      hash (see keys.ts)
  KEYS[4] base candles          candles:{PAIR}:<base>  zset by bucket start:
                                traded buckets only, forming and closed alike
  KEYS[5] revised base buckets  revised:{PAIR}    zset, for the closer

  ARGV[1] base period, ms
  ARGV[2] tick retention, ms: ticks that arrived longer ago leave the stream
          (candles never re-read it)
  ARGV[3] MAX_LATE, ms
  ARGV[4] the source's clock when the oldest trade of this batch was
          accepted (ms). With MAX_LATE it moves the pair's low bound `lo`,
          which only ever rises: a trade older than `lo` is refused, and ids
          older than `lo` are forgotten. So the dedupe holds, without
          exception, for every trade that can still be accepted.
  ARGV[5] replay position written with this batch ("<file>:<pos>"), or ""
  ARGV[6..] six per trade: time (ms), price, quantity, amount, side ("" if
            unknown), id. Decimals are canonical (decimal.ts).

  Every loop runs over the batch's trades or the buckets they touch: no
  bucket range comes from a timestamp.

  Returns { added, duplicates, late, i1, i2, ... }: late trades fell in a
  closed bucket and revised it; i1... are the (0-based) indexes of trades
  refused as older than `lo` (counted here; the caller sets them aside).
]]
--- @include "decimal"
--- @include "candle"

local base = tonumber(ARGV[1])

-- A script that fails half way keeps what it wrote so far (Redis does not
-- roll a script back). So everything that can fail (a key of the wrong
-- type, a stored candle that does not decode) is read and checked first,
-- and only then is anything written.
local kinds = { 'stream', 'zset', 'hash', 'zset', 'zset' }
for i, want in ipairs(kinds) do
  local t = redis.call('TYPE', KEYS[i]).ok
  if t ~= 'none' and t ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' is a ' .. t .. ', not a ' .. want)
  end
end

local st = redis.call('HMGET', KEYS[3], 'first', 'c:' .. ARGV[1], 'lt', 'lo')
local first = tonumber(st[1])
local closed = tonumber(st[2])
local lt = tonumber(st[3])
local lo = tonumber(st[4])
local floor = tonumber(ARGV[4]) - tonumber(ARGV[3])
if lo == nil or floor > lo then lo = floor end

local added, dups, late = 0, 0, 0
local refused = {}
local seen = {}      -- ids taken in this batch
local new = {}       -- argv index of each trade to store
local idsArgs = {}   -- score, member pairs for one ZADD
local touched = {}   -- bucket start -> candle (false: none stored yet)
local order = {}     -- bucket starts in the order first touched
local revised = {}

-- 1. Read, check and fold in memory.
for i = 6, #ARGV, 6 do
  local t = tonumber(ARGV[i])
  local id = ARGV[i + 5]
  if t < lo then
    refused[#refused + 1] = (i - 6) / 6
  elseif seen[id] or redis.call('ZSCORE', KEYS[2], id) then
    dups = dups + 1
  else
    seen[id] = true
    added = added + 1
    new[#new + 1] = i
    idsArgs[#idsArgs + 1] = ARGV[i]
    idsArgs[#idsArgs + 1] = id
    local b = math.floor(t / base) * base
    local c = touched[b]
    if c == nil then
      c = get(KEYS[4], b) or false
      order[#order + 1] = b
    end
    touched[b] = apply(c or nil, b, t, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], id)
    if closed and b <= closed then
      late = late + 1
      revised[#revised + 1] = b
      revised[#revised + 1] = num(b)
    end
    if first == nil or b < first then first = b end
    if lt == nil or t > lt then lt = t end
  end
end

-- 2. Write.
if added > 0 then
  local now = redis.call('TIME')
  now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local cutoff = num(now - tonumber(ARGV[2]))
  -- Variadic, in slices: unpack() has a stack limit.
  for j = 1, #idsArgs, 2000 do
    redis.call('ZADD', KEYS[2], unpack(idsArgs, j, math.min(j + 1999, #idsArgs)))
  end
  for _, i in ipairs(new) do
    redis.call('XADD', KEYS[1], 'MINID', '~', cutoff, '*', 't', ARGV[i], 'p', ARGV[i + 1], 'q', ARGV[i + 2], 'a', ARGV[i + 3], 's', ARGV[i + 4], 'i', ARGV[i + 5])
  end
  for _, b in ipairs(order) do put(KEYS[4], touched[b]) end
  for j = 1, #revised, 2000 do
    redis.call('ZADD', KEYS[5], unpack(revised, j, math.min(j + 1999, #revised)))
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. num(lo))

local fields = { 'lo', num(lo) }
if added > 0 then
  fields[#fields + 1] = 'first'; fields[#fields + 1] = num(first)
  fields[#fields + 1] = 'lt'; fields[#fields + 1] = num(lt)
end
if ARGV[5] ~= '' then
  fields[#fields + 1] = 'rp'; fields[#fields + 1] = ARGV[5]
end
redis.call('HSET', KEYS[3], unpack(fields))
if added > 0 then redis.call('HINCRBY', KEYS[3], 'ticks_ingested_total', added) end
if dups > 0 then redis.call('HINCRBY', KEYS[3], 'ticks_duplicate_total', dups) end
if late > 0 then redis.call('HINCRBY', KEYS[3], 'ticks_late_total', late) end
if #refused > 0 then redis.call('HINCRBY', KEYS[3], 'ticks_out_of_window_total', #refused) end

local ret = { added, dups, late }
for _, i in ipairs(refused) do ret[#ret + 1] = i end
return ret
