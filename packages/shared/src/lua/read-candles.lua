#!lua flags=no-writes
--[[
  Reads one pair's candles of one period, closed and forming, in one atomic
  step (so a close landing meanwhile can never show a bucket twice or in
  neither list), in the public form of docs/api.md, oldest first, as one
  reply that candle-reads.ts turns into one text (see the end). Read-only.

  KEYS[1] pair state            state:{PAIR}
  KEYS[2..n+1] candles of the periods from the base up to the one asked
               for, each the source of the next (the chain's path)

  ARGV[1] n
  ARGV[2..n+1] each path period's length, ms
  ARGV[n+2] the source's now (ms), or "" when unknown
  ARGV[n+3] from (ms, inclusive) or ""
  ARGV[n+4] to (ms, exclusive) or ""
  ARGV[n+5] limit: with `from`, the first `limit` candles from there; without
            it, the newest `limit`
  ARGV[n+6] what: "both", "closed" or "forming"
  ARGV[n+7] the asked period's CANDLE_RETENTION (ms), or ""
  ARGV[n+8] the start of the period's last bucket that may close now (the
            source's clock and GRACE_MS, clock.ts closeLimits), or "": a
            bucket at or before it is closed even if the worker has not yet
            stored its roll-up, so a candle is readable as closed the
            moment its grace time ends, however busy the worker is

  Bounded by `limit` and by PERIODS, never by a time from outside: closed
  candles are read as one range of at most `limit` buckets (flat ones
  derived from the close before them), and the forming ones are the
  buckets of the current and the previous period (the one in its grace
  time), rolled up along the path from what is closed below them.
]]
--- @include "decimal"
--- @include "candle"

local n = tonumber(ARGV[1])
local ms = {}
for k = 1, n do ms[k] = tonumber(ARGV[1 + k]) end
local now = tonumber(ARGV[n + 2])
local from = tonumber(ARGV[n + 3])
local to = tonumber(ARGV[n + 4])
local limit = tonumber(ARGV[n + 5])
local what = ARGV[n + 6]
local keep = tonumber(ARGV[n + 7])
local closeLim = tonumber(ARGV[n + 8])
local P = ms[n]

local fields = { 'first', 'lt' }
for k = 1, n do fields[#fields + 1] = 'c:' .. num(ms[k]) end
fields[#fields + 1] = 'v'
local st = redis.call('HMGET', KEYS[1], unpack(fields))
-- The pair's data version this answer was read at (bumpVersion).
local version = st[n + 3] or ''
local first = tonumber(st[1])
if first == nil or limit < 1 then return { version, 0 } end
local lt = tonumber(st[2])
local closed = {}
for k = 1, n do closed[k] = tonumber(st[2 + k]) end
local firstP = math.floor(first / P) * P
local inWindow = function(b)
  return (from == nil or b >= from) and (to == nil or b < to)
end

-- Recent: the buckets the worker has not closed yet, at most the current
-- one and the one before it, rolled up here from what is stored below them;
-- each closed if its grace time is over, else forming (a worker further
-- behind leaves older ones out until it closes them; /readyz says it is
-- late).
local forming = {}
local recentClosed = {}
if now ~= nil then
  local hi = now
  if lt and lt > hi then hi = lt end
  local hb = math.floor(hi / P) * P
  local u = {}
  for k = 1, n do
    u[k] = closed[k] and (closed[k] + ms[k]) or (math.floor(first / ms[k]) * ms[k])
  end
  local ws = math.max(u[n], hb - P)
  if ws <= hb then
    -- Level 1: the base candles themselves (forming ones are stored).
    local lower = range(KEYS[2], math.max(u[1], ws), hb + P - 1)
    for k = 2, n do
      local lo = math.max(u[k], ws)
      local parts = {}
      if u[k - 1] > lo then parts = range(KEYS[k], lo, u[k - 1] - 1) end
      for _, c in ipairs(lower) do
        if c.time >= lo then parts[#parts + 1] = c end
      end
      local out, group, gb = {}, {}, nil
      for _, c in ipairs(parts) do
        local b = math.floor(c.time / ms[k]) * ms[k]
        if b ~= gb then
          if gb ~= nil then out[#out + 1] = rollup(gb, group) end
          group, gb = {}, b
        end
        group[#group + 1] = c
      end
      if gb ~= nil then out[#out + 1] = rollup(gb, group) end
      lower = out
    end
    local byTime = {}
    for _, c in ipairs(lower) do byTime[c.time] = c end
    local prev = closeBefore(KEYS[2], ws)
    for b = ws, hb, P do
      local c = byTime[b]
      if c == nil and prev ~= nil then c = flat(b, prev) end
      if c then
        prev = c.close
        local isClosed = closeLim ~= nil and b <= closeLim
        if inWindow(b) and ((isClosed and what ~= 'forming') or (not isClosed and what ~= 'closed')) then
          forming[#forming + 1] = c
          recentClosed[#forming] = isClosed
        end
      end
    end
  end
end

-- The reply: the forming candles in the public form (at most a few), then
-- the closed range as stored, for candle-reads.ts to write out:
--   { version, k, forming_1 .. forming_k [, lo, hi, price, member_1 .. member_m] }
-- lo and hi bound the closed buckets [lo, hi] (at most `limit` of them),
-- price is the close before lo ('' if none or not needed: a flat bucket
-- before any member takes it), the members are the stored candles scored
-- in [lo, hi], oldest first, untouched. Turning 100 members into public
-- JSON here (cut the trade ids, add "closed", join) cost Redis three times
-- what reading them does (Lua strings are made and hashed one by one);
-- Node does it for a fraction, and the read stays one atomic call.
local reply = { version, #forming }
for i, c in ipairs(forming) do reply[#reply + 1] = pub(c, recentClosed[i]) end
local cP = closed[n]
if what ~= 'forming' and cP ~= nil then
  local lo = firstP
  if keep then lo = math.max(lo, math.ceil((cP + P - keep) / P) * P) end
  local hi = cP
  if to ~= nil then hi = math.min(hi, math.floor((to - 1) / P) * P) end
  if from ~= nil then
    lo = math.max(lo, math.ceil(from / P) * P)
    hi = math.min(hi, lo + (limit - 1) * P)
  else
    local room = limit - #forming
    if room <= 0 then
      hi = lo - P
    else
      lo = math.max(lo, hi - (room - 1) * P)
    end
  end
  if lo <= hi then
    local raw = redis.call('ZRANGE', KEYS[n + 1], num(lo), num(hi), 'BYSCORE')
    local price = nil
    if lo > firstP then price = closeBefore(KEYS[n + 1], lo) end
    reply[#reply + 1] = num(lo)
    reply[#reply + 1] = num(hi)
    reply[#reply + 1] = price or ''
    for _, m in ipairs(raw) do reply[#reply + 1] = m end
  end
end
return reply
