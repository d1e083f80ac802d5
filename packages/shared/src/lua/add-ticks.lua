--[[
  Stores a batch of one pair's trades, atomically: each trade once, its
  fold merged into the candle of its base bucket, counted with the data.

  The ingester folds the batch (one partial candle per base bucket it
  touches) and packs it for the stream; the script checks every trade first
  and writes only if all are new and inside the time bound. Otherwise it
  writes nothing and answers which are not, and the ingester sends the rest
  again (with how many it dropped, to be counted in the same write). So the
  per-trade work here is a check, and a write is one stream entry and one
  merge per bucket, whatever the number of trades.

  Nothing is written before everything that can fail was read and checked:
  Redis does not roll back a script that fails half way.

  KEYS[1] ticks stream     ticks:{PAIR}    one entry per batch, ID the batch's
                                           newest trade time (never going back)
  KEYS[2] other ids        ids:{PAIR}      zset: non-integer trade id -> time
  KEYS[3] integer ids      seen:{PAIR}     zset of ranges "lo:hi:tmax" scored
                                           by hi: dense exchange ids cost a few
                                           bytes per gap, not per trade
  KEYS[4] pair state       state:{PAIR}    hash (see keys.ts)
  KEYS[5] base candles     candles:{PAIR}:<base>
  KEYS[6] revised buckets  revised:{PAIR}
  KEYS[7..] candles of each longer period of the chain, in ARGV[10]'s order

  The longer periods are built as trades come: each batch's candle of a
  bucket is merged into the stored one, so the close only moves a mark.
  A period is built so from the bucket after the newest candle (of any
  period of the chain) stored before its first such write (state field
  bf:<ms>, set then and never moved): any earlier bucket may hold trades
  stored before (history imported, a deployment before this script, a
  period added to PERIODS),
  so the close rolls it up from its source instead, and re-rolls it when a
  late trade revises it (close-pair.lua).

  ARGV[1] base period, ms      ARGV[2] tick retention, ms
  ARGV[3] MAX_LATE, ms         ARGV[4] the source's clock at acceptance, ms
  ARGV[5] replay position ("<file>:<pos>") or ""
  ARGV[6] duplicates the ingester dropped from this batch (to count)
  ARGV[7] trades it dropped as out of the time bound (to count)
  ARGV[8] the trades packed for the stream (fold.ts packTrades:
          "time,price,quantity,side,id;..."; "" for none): the time and id
          of each are read from it
  ARGV[9] the batch's summary (TradeBatch.summary()): "n:oldest:newest"
          then ";lo:hi:tmax" per run of consecutive integer ids, by lo,
          disjoint and not adjacent; "" when some id is not an integer or
          two trades share one. With it the trades are checked by run, not
          one by one: the time bound by the oldest, the ids by runs against
          the stored ranges. Anything that does not pass (a conflict, a
          summary that does not add up) is checked trade by trade from
          ARGV[8], which finds exactly which trades conflict.
  ARGV[10] L, the number of longer periods; then per longer period its
          length (ms), its number of buckets touched c, and c pairs as
          below; then, to the end, per base bucket touched, 2 values: bucket
          start, and the batch's candle of that bucket as stored (enc() of
          candle.lua, with its first and last trades' time and id): a bucket
          new to the store takes it as it is, an existing one merges it

  Returns { added, late } once written, or { -1, i1, k1, i2, k2, ... } when
  trade i (0-based) is a duplicate (k "d") or older than the pair's low
  bound (k "r"), having written nothing.
]]
--- @include "decimal"
--- @include "candle"

local kinds = { 'stream', 'zset', 'zset', 'hash', 'zset', 'zset' }
for i, want in ipairs(kinds) do
  local t = redis.call('TYPE', KEYS[i]).ok
  if t ~= 'none' and t ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' is a ' .. t .. ', not a ' .. want)
  end
end

local base = tonumber(ARGV[1])
-- The batch's candles: of each longer period, then of the base.
local longer = {}
local at = 11
local stFields = { 'first', 'c:' .. ARGV[1], 'lt', 'lo', 'sm', 'sl' }
for j = 1, tonumber(ARGV[10]) do
  local q = { ms = tonumber(ARGV[at]), key = KEYS[6 + j], parts = {} }
  local c = tonumber(ARGV[at + 1])
  at = at + 2
  for i = 1, c do
    q.parts[i] = { time = tonumber(ARGV[at]), text = ARGV[at + 1] }
    at = at + 2
  end
  longer[j] = q
  stFields[#stFields + 1] = 'bf:' .. num(q.ms)
  local t = redis.call('TYPE', q.key).ok
  if t ~= 'none' and t ~= 'zset' then
    return redis.error_reply('WRONGTYPE ' .. q.key .. ' is a ' .. t .. ', not a zset')
  end
end
local baseAt = at
local st = redis.call('HMGET', KEYS[4], unpack(stFields))
for j, q in ipairs(longer) do q.bf = tonumber(st[6 + j]) end
local first, closed, lt, lo, sm, sl = tonumber(st[1]), tonumber(st[2]), tonumber(st[3]), tonumber(st[4]), tonumber(st[5]), tonumber(st[6])
local slMoved = false
local floor = tonumber(ARGV[4]) - tonumber(ARGV[3])
if lo == nil or floor > lo then lo = floor end

local function intId(id)
  return #id <= 15 and (id == '0' or string.match(id, '^[1-9]%d*$') ~= nil)
end
local function parseRange(m)
  local a, b, c = string.match(m, '^(%d+):(%d+):(%d+)$')
  return { lo = tonumber(a), hi = tonumber(b), t = tonumber(c), m = m }
end

-- The stored ranges that may hold integer ids of [minId, maxId], or touch
-- them (scored by hi, so from minId - 1 on; at most 65 read: past that,
-- `fallback` and ids are looked up one by one).
local ranges = {}
local fallback = false
local function fetchRanges(minId, maxId)
  ranges, fallback = {}, false
  local raw = redis.call('ZRANGE', KEYS[3], minId - 1, '+inf', 'BYSCORE', 'LIMIT', 0, 65)
  for _, m in ipairs(raw) do
    local r = parseRange(m)
    if r.lo > maxId + 1 then break end
    ranges[#ranges + 1] = r
  end
  if #raw == 65 and #ranges == 65 then fallback = true end
end

-- 1. Check every trade: inside the time bound, and new.
--
-- By the summary first: every time is inside the bound when the oldest
-- is, and every id is new when no run meets a stored range.
local n = 0
local oldestT, newestT
local runs -- the batch's integer ids as runs, by lo (from the summary, or built in step 2)
local fast = false
if ARGV[9] ~= '' then
  local c, a, z = string.match(ARGV[9], '^(%d+):(%d+):(%d+)')
  runs = {}
  local count = 0
  for x, y, t in string.gmatch(ARGV[9], ';(%d+):(%d+):(%d+)') do
    local r = { lo = tonumber(x), hi = tonumber(y), t = tonumber(t) }
    local prev = runs[#runs]
    if r.hi < r.lo or (prev ~= nil and r.lo <= prev.hi + 1) then count = -1; break end
    runs[#runs + 1] = r
    count = count + r.hi - r.lo + 1
  end
  n, oldestT, newestT = tonumber(c), tonumber(a), tonumber(z)
  fast = n ~= nil and n > 0 and count == n and oldestT >= lo
  if fast then
    fetchRanges(runs[1].lo, runs[#runs].hi)
    if fallback then
      fast = false
    else
      local j = 1
      for _, r in ipairs(runs) do
        while ranges[j] ~= nil and ranges[j].hi < r.lo do j = j + 1 end
        if ranges[j] ~= nil and ranges[j].lo <= r.hi then fast = false; break end
      end
    end
  end
end

-- Else trade by trade, from the packed trades.
local times, ids, nums = {}, {}, {}
if not fast then
  n = 0
  runs = nil
  local minId, maxId
  for ts, id in string.gmatch(ARGV[8], '(%d+),[^,]*,[^,]*,[^,]*,([^;]*)') do
    n = n + 1
    local k = n
    local t = tonumber(ts)
    times[k] = t
    ids[k] = id
    if intId(id) then
      local x = tonumber(id)
      nums[k] = x
      if minId == nil or x < minId then minId = x end
      if maxId == nil or x > maxId then maxId = x end
    end
  end
  if minId ~= nil then fetchRanges(minId, maxId) else ranges, fallback = {}, false end
  local function seenInt(x)
    if fallback then
      local m = redis.call('ZRANGE', KEYS[3], x, '+inf', 'BYSCORE', 'LIMIT', 0, 1)[1]
      return m ~= nil and parseRange(m).lo <= x
    end
    for _, r in ipairs(ranges) do
      if x >= r.lo and x <= r.hi then return true end
    end
    return false
  end
  local conflicts = {}
  local batch = {}
  for k = 1, n do
    local id = ids[k]
    if times[k] < lo then
      conflicts[#conflicts + 1] = k - 1
      conflicts[#conflicts + 1] = 'r'
    elseif batch[id] or (nums[k] ~= nil and seenInt(nums[k])) or (nums[k] == nil and redis.call('ZSCORE', KEYS[2], id)) then
      conflicts[#conflicts + 1] = k - 1
      conflicts[#conflicts + 1] = 'd'
    else
      batch[id] = true
    end
  end
  if #conflicts > 0 then
    local ret = { -1 }
    for _, v in ipairs(conflicts) do ret[#ret + 1] = v end
    return ret
  end
end

-- The stored base candles of the buckets the batch touches, in one read
-- (in order, at most the newest exists); decoded before any write.
local late = 0
local partials = {}
local lowB, highB
for at = baseAt, #ARGV - 1, 2 do
  local b = tonumber(ARGV[at])
  partials[#partials + 1] = { time = b, text = ARGV[at + 1] }
  if lowB == nil or b < lowB then lowB = b end
  if highB == nil or b > highB then highB = b end
end
if lowB ~= nil then
  local stored = {}
  local raw = redis.call('ZRANGE', KEYS[5], num(lowB), num(highB), 'BYSCORE', 'WITHSCORES')
  for j = 1, #raw, 2 do stored[tonumber(raw[j + 1])] = raw[j] end
  for _, x in ipairs(partials) do
    local m = stored[x.time]
    if m ~= nil then
      x.stored = dec(m)
      x.p = dec(x.text)
    end
  end
end

-- Likewise the longer periods' stored candles, from where each is built
-- as trades come.
local storedTop
for _, q in ipairs(longer) do
  if q.bf == nil then
    -- Its first write: built from the bucket after the newest candle
    -- stored so far of any period of the chain (read before this batch's
    -- are written): imported history is of one longer period, not the base.
    if storedTop == nil then
      storedTop = false
      for k = 5, #KEYS do
        if k ~= 6 then
          local top = redis.call('ZRANGE', KEYS[k], '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1, 'WITHSCORES')
          if top[2] and (not storedTop or tonumber(top[2]) > storedTop) then storedTop = tonumber(top[2]) end
        end
      end
    end
    q.bf = storedTop and (math.floor(storedTop / q.ms) * q.ms + q.ms) or 0
    q.newBf = true
  end
  local lowQ, highQ
  for _, x in ipairs(q.parts) do
    if x.time >= q.bf then
      if lowQ == nil or x.time < lowQ then lowQ = x.time end
      if highQ == nil or x.time > highQ then highQ = x.time end
    end
  end
  if lowQ ~= nil then
    local stored = {}
    local raw = redis.call('ZRANGE', q.key, num(lowQ), num(highQ), 'BYSCORE', 'WITHSCORES')
    for j = 1, #raw, 2 do stored[tonumber(raw[j + 1])] = raw[j] end
    for _, x in ipairs(q.parts) do
      local m = stored[x.time]
      if m ~= nil and x.time >= q.bf then
        x.stored = dec(m)
        x.p = dec(x.text)
      end
    end
  end
end

-- 2. Write. The stream first: if it cannot be written, nothing was.
if n > 0 then
  local newest, oldest = 0, nil
  if fast then
    newest, oldest = newestT, oldestT
    local b = math.floor(oldest / base) * base
    if first == nil or b < first then first = b end
    if lt == nil or newest > lt then lt = newest end
    if closed then
      for _, x in ipairs(partials) do
        if x.time <= closed then late = late + tonumber(string.match(x.text, '"trades":(%d+)')) end
      end
    end
  else
    for k = 1, n do
      local t = times[k]
      if t > newest then newest = t end
      if oldest == nil or t < oldest then oldest = t end
      local b = math.floor(t / base) * base
      if closed and b <= closed then late = late + 1 end
      if first == nil or b < first then first = b end
      if lt == nil or t > lt then lt = t end
    end
  end
  if sm ~= nil and sm > newest then newest = sm end
  sm = newest
  -- How far an entry's ID may be past its oldest trade, at most: GET /trades
  -- scans that far beyond a time to be sure it missed no late trade. Bounded
  -- by the time bound (lo) and the clock, never by a trade alone.
  if sl == nil or newest - oldest > sl then sl = newest - oldest; slMoved = true end
  local cutoff = tonumber(ARGV[4]) - tonumber(ARGV[2])
  redis.call('XADD', KEYS[1], 'MINID', '~', num(cutoff), num(newest) .. '-*', 'b', ARGV[8])
  -- Other ids, one by one (the summary's batches have none).
  local plain = {}
  for k = 1, fast and 0 or n do
    if nums[k] == nil then
      plain[#plain + 1] = times[k]
      plain[#plain + 1] = ids[k]
    end
  end
  for j = 1, #plain, 2000 do
    redis.call('ZADD', KEYS[2], unpack(plain, j, math.min(j + 1999, #plain)))
  end
  -- Integer ids: runs of consecutive ids (exchange ids usually arrive in
  -- order: one pass; else sorted first), merged with the ranges they touch.
  if runs == nil then
    local order = {}
    local sorted = true
    local last
    for k = 1, n do
      local x = nums[k]
      if x ~= nil then
        order[#order + 1] = k
        if last ~= nil and x <= last then sorted = false end
        last = x
      end
    end
    if not sorted then table.sort(order, function(a, b) return nums[a] < nums[b] end) end
    runs = {}
    local cur
    for _, k in ipairs(order) do
      local x, t = nums[k], times[k]
      if cur ~= nil and x == cur.hi + 1 then
        cur.hi = x
        if t > cur.t then cur.t = t end
      else
        cur = { lo = x, hi = x, t = t }
        runs[#runs + 1] = cur
      end
    end
  end
  if #runs > 0 then
    for _, r in ipairs(ranges) do runs[#runs + 1] = r end
    if #ranges > 0 then table.sort(runs, function(a, b) return a.lo < b.lo end) end
    local merged = {}
    for _, r in ipairs(runs) do
      local m = merged[#merged]
      if m ~= nil and r.lo <= m.hi + 1 then
        if r.hi > m.hi then m.hi = r.hi end
        if r.t > m.t then m.t = r.t end
      else
        merged[#merged + 1] = { lo = r.lo, hi = r.hi, t = r.t }
      end
    end
    local old = {}
    for _, r in ipairs(ranges) do old[#old + 1] = r.m end
    if #old > 0 then redis.call('ZREM', KEYS[3], unpack(old)) end
    local add = {}
    for _, r in ipairs(merged) do
      add[#add + 1] = r.hi
      add[#add + 1] = num(r.lo) .. ':' .. num(r.hi) .. ':' .. num(r.t)
    end
    for j = 1, #add, 2000 do
      redis.call('ZADD', KEYS[3], unpack(add, j, math.min(j + 1999, #add)))
    end
  end
  -- The candles: new buckets in one ZADD, existing ones merged.
  local fresh = {}
  local revised = {}
  for _, x in ipairs(partials) do
    if x.stored == nil then
      fresh[#fresh + 1] = x.time
      fresh[#fresh + 1] = x.text
    else
      put(KEYS[5], merge(x.stored, x.p))
    end
    if closed and x.time <= closed then
      revised[#revised + 1] = x.time
      revised[#revised + 1] = num(x.time)
    end
  end
  for j = 1, #fresh, 2000 do
    redis.call('ZADD', KEYS[5], unpack(fresh, j, math.min(j + 1999, #fresh)))
  end
  for j = 1, #revised, 2000 do
    redis.call('ZADD', KEYS[6], unpack(revised, j, math.min(j + 1999, #revised)))
  end
  for _, q in ipairs(longer) do
    local add = {}
    for _, x in ipairs(q.parts) do
      if x.time >= q.bf then
        if x.stored == nil then
          add[#add + 1] = x.time
          add[#add + 1] = x.text
        else
          put(q.key, merge(x.stored, x.p))
        end
      end
    end
    for j = 1, #add, 2000 do
      redis.call('ZADD', q.key, unpack(add, j, math.min(j + 1999, #add)))
    end
  end
end

-- Forget what the low bound has passed: ids one by one, ranges from the
-- oldest (a few per call).
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. num(lo))
local oldest = redis.call('ZRANGE', KEYS[3], 0, 7)
local gone = {}
for _, m in ipairs(oldest) do
  if parseRange(m).t >= lo then break end
  gone[#gone + 1] = m
end
if #gone > 0 then redis.call('ZREM', KEYS[3], unpack(gone)) end

local fields = { 'lo', num(lo) }
if n > 0 then
  fields[#fields + 1] = 'first'; fields[#fields + 1] = num(first)
  fields[#fields + 1] = 'lt'; fields[#fields + 1] = num(lt)
  fields[#fields + 1] = 'sm'; fields[#fields + 1] = num(sm)
  if slMoved then fields[#fields + 1] = 'sl'; fields[#fields + 1] = num(sl) end
end
if ARGV[5] ~= '' then
  fields[#fields + 1] = 'rp'; fields[#fields + 1] = ARGV[5]
end
for _, q in ipairs(longer) do
  if q.newBf and n > 0 then
    fields[#fields + 1] = 'bf:' .. num(q.ms); fields[#fields + 1] = num(q.bf)
  end
end
redis.call('HSET', KEYS[4], unpack(fields))
if n > 0 then
  redis.call('HINCRBY', KEYS[4], 'ticks_ingested_total', n)
  bumpVersion(KEYS[4])
end
if ARGV[6] ~= '0' then redis.call('HINCRBY', KEYS[4], 'ticks_duplicate_total', tonumber(ARGV[6])) end
if late > 0 then redis.call('HINCRBY', KEYS[4], 'ticks_late_total', late) end
if ARGV[7] ~= '0' then redis.call('HINCRBY', KEYS[4], 'ticks_out_of_window_total', tonumber(ARGV[7])) end
return { n, late }
