--[[
  Closes one pair's candles: for every period of the chain, the buckets that
  have ended (by the limits the caller computed from the source's clock),
  oldest first, and re-rolls closed candles that hold a base bucket a late
  trade revised. Idempotent: a second run with the same limits changes
  nothing. All keys share the pair's hash tag.

  Only buckets with trades are stored; flat ones are derived when read. So
  closing the base period moves its watermark and writes nothing, and so
  does closing a longer period's buckets that the ingester builds as trades
  come (from state field bf:<ms> on, add-ticks.lua). Its buckets before that
  (trades stored before it was built so: history, an older deployment, a
  period added to PERIODS) get one roll-up per bucket that has trades: the
  work is bounded by the trades stored and the budget, never by how far the
  clock moved (a replay jumping a year closes in one step).

  KEYS[1] pair state            state:{PAIR}      hash: first, c:<ms>, counters
  KEYS[2] revised base buckets  revised:{PAIR}
  KEYS[3..] candles of each period of the chain (base first), in ARGV order

  ARGV[1] n, the number of periods passed (the whole chain, or the periods
          whose limit moved and the periods they are rolled up from: a
          live tick passes the base period alone, most of the time)
  ARGV[2] budget: at most about this many candles read or written
  ARGV[3] "1" if the whole chain is passed, "0" if not: revisions re-roll
          every period, so with revisions pending a partial call writes
          nothing and answers { -1 } (call again with the whole chain)
  ARGV[4..] five per period: ms; index of its source among those passed (0
            for the base); limit (start of the last bucket that may close,
            "" for none); events still allowed for it ("" for a period not
            served: no events); retention ms ("" to keep all)

  Returns { closed, revised, more, events... }, more = 1 if the budget ran
  out. Events are triples { ms, kind, payload }: kind "closed" or "revised"
  with a candle's JSON, or "gap" with "<from>,<to>": candles in [from, to)
  changed and were not each sent (docs/websocket.md, `gap`).
]]
--- @include "decimal"
--- @include "candle"

local n = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local whole = ARGV[3] == '1'
local L = {}
local fields = { 'first' }
for k = 1, n do
  local o = 4 + (k - 1) * 5
  L[k] = {
    ms = tonumber(ARGV[o]), src = tonumber(ARGV[o + 1]), lim = tonumber(ARGV[o + 2]),
    room = tonumber(ARGV[o + 3]), keep = tonumber(ARGV[o + 4]), key = KEYS[2 + k],
  }
  fields[#fields + 1] = 'c:' .. ARGV[o]
end
for k = 1, n do fields[#fields + 1] = 'bf:' .. ARGV[4 + (k - 1) * 5] end
local st = redis.call('HMGET', KEYS[1], unpack(fields))
local first = tonumber(st[1])
if first == nil then return { 0, 0, 0 } end
for k = 1, n do
  L[k].closed = tonumber(st[1 + k])
  L[k].closed0 = L[k].closed
  -- Built as trades come from here on (add-ticks.lua; never for the base).
  L[k].bf = tonumber(st[1 + n + k])
end

local closedCount, revisedCount, more = 0, 0, 0
local events = {}

-- Events: each period sends at most `room` candles; past that, the changed
-- buckets are folded into one gap range.
local function gap(p, a, z)
  if z <= a then return end
  if p.gapFrom == nil or a < p.gapFrom then p.gapFrom = a end
  if p.gapTo == nil or z > p.gapTo then p.gapTo = z end
end
local function emit(p, kind, c, force)
  if p.room == nil then return end
  if p.room <= 0 and not force then
    gap(p, c.time, c.time + p.ms)
    return
  end
  p.room = p.room - 1
  events[#events + 1] = p.ms
  events[#events + 1] = kind
  -- A stored candle goes as stored (the worker reads it as JSON either way).
  events[#events + 1] = c.raw or enc(c)
end
-- Every bucket of [a, z] (starts) changed: each one sent if there is room,
-- else one gap for all but the last, and the last (the newest) sent.
local function emitRange(p, kind, a, z, prev)
  if p.room == nil or z < a then return end
  local count = (z - a) / p.ms + 1
  if count <= p.room then
    if prev == nil then prev = closeBefore(p.key, a) end
    local traded = {}
    for _, c in ipairs(range(p.key, a, z)) do traded[c.time] = c end
    for b = a, z, p.ms do
      local c = traded[b]
      if c == nil and prev ~= nil then c = flat(b, prev) end
      if c then
        emit(p, kind, c)
        prev = c.close
      end
    end
  else
    gap(p, a, z)
    local c = get(p.key, z)
    if c == nil then
      local price = closeBefore(p.key, z)
      if price then c = flat(z, price) end
    end
    if c then emit(p, kind, c, true) end
  end
end

-- 1. Revisions: re-roll every closed candle that holds a revised base
--    bucket, shortest period first (each roll-up reads revised sources).
--    The flat candles after it carry its close: they changed too.
local rv = redis.call('ZRANGE', KEYS[2], 0, budget - 1)
if #rv > 0 and not whole then return { -1 } end
if #rv > 0 then
  for k = 1, n do
    local p = L[k]
    local done = {}
    for _, m in ipairs(rv) do
      local pb = math.floor(tonumber(m) / p.ms) * p.ms
      if p.closed and pb <= p.closed and not done[pb] then
        done[pb] = true
        local c
        if k == 1 or (p.bf and pb >= p.bf) then
          -- Stored as it is: the base, and buckets built as trades come.
          c = get(p.key, pb)
          if k > 1 then revisedCount = revisedCount + 1 end
        else
          local parts = range(L[p.src].key, pb, pb + p.ms - 1)
          budget = budget - #parts - 1
          if #parts > 0 then
            c = rollup(pb, parts)
            put(p.key, c)
          else
            redis.call('ZREMRANGEBYSCORE', p.key, pb, pb)
          end
          revisedCount = revisedCount + 1
        end
        if c then
          emit(p, 'revised', c)
          local stop = p.closed + p.ms
          local nx = redis.call('ZRANGE', p.key, '(' .. num(pb), '+inf', 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
          if nx[2] and tonumber(nx[2]) < stop then stop = tonumber(nx[2]) end
          emitRange(p, 'revised', pb + p.ms, stop - p.ms, c.close)
        end
      end
    end
  end
  redis.call('ZREM', KEYS[2], unpack(rv))
  if #rv >= tonumber(ARGV[2]) then more = 1 end
end

-- 2. Close, period by period, shortest first: a period's source is always
--    closed before the period itself.
for _, p in ipairs(L) do
  if p.lim and budget > 0 then
    local lim = p.lim
    local s = p.src ~= 0 and L[p.src] or nil
    if s then
      if s.closed == nil then
        lim = -1
      elseif s.lim == nil or s.closed < s.lim then
        -- The source has not caught up: only buckets it fully covers.
        lim = math.min(lim, math.floor((s.closed + s.ms) / p.ms) * p.ms - p.ms)
      else
        lim = math.min(lim, s.closed)
      end
    end
    local start = p.closed and (p.closed + p.ms) or (math.floor(first / p.ms) * p.ms)
    if s and not p.closed and s.keep and s.closed0 then
      -- A period new to this deployment starts where its source's candles
      -- are still all kept (earlier calls trimmed the older ones).
      local kept = math.ceil((s.closed0 + s.ms - s.keep) / p.ms) * p.ms
      if kept > start then start = kept end
    end
    local upto = lim
    -- Roll up only the buckets before bf: those from it on are built.
    local rollTo = lim
    if p.bf and p.bf - p.ms < rollTo then rollTo = p.bf - p.ms end
    if start <= rollTo and s then
      upto = rollTo
      local cut = false
      -- The source's candles of [start, rollTo + p): parsed lite (range()),
      -- their buckets from the scores.
      local parts = range(s.key, start, rollTo + p.ms - 1, budget + 1)
      if #parts > budget then
        -- Keep whole buckets only: the last one touched may be cut.
        local lastB = math.floor(parts[#parts].time / p.ms) * p.ms
        if lastB == start then
          -- One bucket holds more parts than the budget: read it whole
          -- (at most p.ms / s.ms parts, a bound set by PERIODS).
          parts = range(s.key, start, start + p.ms - 1)
          upto = start
        else
          upto = lastB - p.ms
          local kept = {}
          for _, c in ipairs(parts) do
            if c.time < lastB then kept[#kept + 1] = c end
          end
          parts = kept
        end
        cut = true
        more = 1
      end
      budget = budget - #parts
      -- One roll-up per bucket with parts, written in one ZADD (after
      -- clearing the range: a script that failed half way may have left
      -- some, and two members at one score would be two candles).
      local add = {}
      local group, gb = {}, nil
      local function flush()
        if gb ~= nil then
          add[#add + 1] = gb
          add[#add + 1] = enc(rollup(gb, group))
          budget = budget - 1
        end
      end
      for _, c in ipairs(parts) do
        local b = math.floor(c.time / p.ms) * p.ms
        if b ~= gb then
          flush()
          group, gb = {}, b
        end
        group[#group + 1] = c
      end
      flush()
      if #add > 0 then
        redis.call('ZREMRANGEBYSCORE', p.key, num(start), num(upto))
        for j = 1, #add, 2000 do
          redis.call('ZADD', p.key, unpack(add, j, math.min(j + 1999, #add)))
        end
      end
      -- All before bf rolled up: the built buckets after it close as they are.
      if not cut then upto = lim end
    end
    if start <= upto then
      closedCount = closedCount + (upto - start) / p.ms + 1
      emitRange(p, 'closed', start, upto)
      p.closed = upto
    end
  elseif p.lim then
    more = 1
  end
end

-- 3. Retention: closed candles older than CANDLE_RETENTION go, but for the
--    newest of them, whose close the flat buckets after it still carry.
local trimmed = false
for _, p in ipairs(L) do
  if p.keep and p.closed then
    local cutoff = p.closed + p.ms - p.keep
    local m = redis.call('ZRANGE', p.key, '(' .. num(cutoff), '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1, 'WITHSCORES')
    if m[2] and redis.call('ZREMRANGEBYSCORE', p.key, '-inf', '(' .. m[2]) > 0 then trimmed = true end
  end
end

local out = {}
local moved = trimmed or closedCount > 0 or revisedCount > 0 or #rv > 0
for _, p in ipairs(L) do
  if p.closed ~= p.closed0 then moved = true end
  if p.closed then
    out[#out + 1] = 'c:' .. num(p.ms)
    out[#out + 1] = num(p.closed)
  end
end
if #out > 0 then redis.call('HSET', KEYS[1], unpack(out)) end
if closedCount > 0 then redis.call('HINCRBY', KEYS[1], 'candles_closed_total', closedCount) end
if revisedCount > 0 then redis.call('HINCRBY', KEYS[1], 'candles_revised_total', revisedCount) end
if moved then bumpVersion(KEYS[1]) end

for _, p in ipairs(L) do
  if p.gapFrom then
    events[#events + 1] = p.ms
    events[#events + 1] = 'gap'
    events[#events + 1] = num(p.gapFrom) .. ',' .. num(p.gapTo)
  end
end
local ret = { closedCount, revisedCount, more }
for _, e in ipairs(events) do ret[#ret + 1] = e end
return ret
