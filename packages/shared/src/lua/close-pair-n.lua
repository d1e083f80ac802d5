--[[
  Closes one pair's candles: every bucket of every period that has ended (by
  the limits the caller computed from the source's clock), oldest first, and
  re-rolls closed candles whose base bucket a late trade revised. Idempotent:
  a second run with the same limits changes nothing. All keys share the
  pair's hash tag.

  KEYS[1] pair state            state:{PAIR}      hash: first, last, c:<ms>
  KEYS[2] forming base candles  forming:{PAIR}
  KEYS[3] revised base buckets  revised:{PAIR}
  KEYS[4..] closed candles of each period of the chain, in ARGV order

  ARGV[1] n, the number of periods in the chain (base first)
  ARGV[2] budget: at most this many candles written in this call
  ARGV[3..] three per period: ms, source ms (0 for the base), limit (start of
            the last bucket that may close, or "" for none)

  Returns { closed, revised, more, events... } where more = 1 if the budget
  ran out, and events are triples { ms, "closed"|"revised", candle JSON }
  (at most 200 of each kind per call; the counts are exact).
]]
--- @include "decimal"
--- @include "candle"

local n = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local plan = {}
local fields = { 'first', 'last' }
for k = 1, n do
  local ms = tonumber(ARGV[3 + (k - 1) * 3])
  local src = tonumber(ARGV[4 + (k - 1) * 3])
  local lim = tonumber(ARGV[5 + (k - 1) * 3])
  plan[k] = { ms = ms, src = src, lim = lim, key = KEYS[3 + k] }
  fields[#fields + 1] = 'c:' .. ARGV[3 + (k - 1) * 3]
end
local st = redis.call('HMGET', KEYS[1], unpack(fields))
local first = tonumber(st[1])
if first == nil then return { 0, 0, 0 } end
local last = st[2]
local byMs = {}
for k = 1, n do
  plan[k].closed = tonumber(st[2 + k])
  byMs[plan[k].ms] = plan[k]
end

local closedCount, revisedCount, more = 0, 0, 0
local events, nClosedEv, nRevisedEv = {}, 0, 0
local function event(ms, kind, c)
  if kind == 'closed' then
    nClosedEv = nClosedEv + 1
    if nClosedEv > 200 then return end
  else
    nRevisedEv = nRevisedEv + 1
    if nRevisedEv > 200 then return end
  end
  events[#events + 1] = ms
  events[#events + 1] = kind
  events[#events + 1] = enc(c)
end

local function parts(p, from)
  local raw = redis.call('ZRANGE', byMs[p.src].key, from, from + p.ms - 1, 'BYSCORE')
  local out = {}
  for i, m in ipairs(raw) do out[i] = dec(m) end
  return out
end

-- 1. Close, period by period, shortest first: a period's source is always
--    closed before the period itself.
for _, p in ipairs(plan) do
  if p.lim then
    local b = p.closed and (p.closed + p.ms) or (math.floor(first / p.ms) * p.ms)
    local lim = p.lim
    if p.src ~= 0 then
      local s = byMs[p.src]
      if s.closed == nil then
        lim = -1
      elseif s.lim == nil or s.closed < s.lim then
        -- The source has not caught up: only buckets it fully covers.
        lim = math.min(lim, math.floor((s.closed + s.ms) / p.ms) * p.ms - p.ms)
      else
        lim = math.min(lim, s.closed)
      end
    end
    while b <= lim do
      if budget <= 0 then more = 1; break end
      local c
      if p.src == 0 then
        local raw = redis.call('HGET', KEYS[2], num(b))
        if raw then
          c = dec(raw)
          redis.call('HDEL', KEYS[2], num(b))
        else
          c = flat(b, last)
        end
        last = c.close
      else
        local ps = parts(p, b)
        if #ps == 0 then break end
        c = rollup(b, ps)
      end
      put(p.key, c)
      p.closed = b
      budget = budget - 1
      closedCount = closedCount + 1
      event(p.ms, 'closed', c)
      b = b + p.ms
    end
  end
end

-- 2. Revisions: re-roll every closed candle that holds a revised base
--    bucket, period by period, shortest first, so each roll-up reads sources
--    that are already revised.
if more == 0 then
  local revised = redis.call('ZRANGE', KEYS[3], 0, budget - 1)
  for _, m in ipairs(revised) do
    local b = tonumber(m)
    if plan[1].closed and b <= plan[1].closed then
      local c = get(plan[1].key, b)
      if c then event(plan[1].ms, 'revised', c) end
    end
  end
  for k = 2, n do
    local p = plan[k]
    local done = {}
    for _, m in ipairs(revised) do
      local pb = math.floor(tonumber(m) / p.ms) * p.ms
      if p.closed and pb <= p.closed and not done[pb] then
        done[pb] = true
        local ps = parts(p, pb)
        if #ps > 0 then
          local c = rollup(pb, ps)
          put(p.key, c)
          revisedCount = revisedCount + 1
          event(p.ms, 'revised', c)
        end
      end
    end
  end
  if #revised > 0 then redis.call('ZREM', KEYS[3], unpack(revised)) end
  if #revised >= budget then more = 1 end
end

local out = { 'first', num(first) }
if last then out[#out + 1] = 'last'; out[#out + 1] = last end
for _, p in ipairs(plan) do
  if p.closed then
    out[#out + 1] = 'c:' .. num(p.ms)
    out[#out + 1] = num(p.closed)
  end
end
redis.call('HSET', KEYS[1], unpack(out))

local ret = { closedCount, revisedCount, more }
for _, e in ipairs(events) do ret[#ret + 1] = e end
return ret
