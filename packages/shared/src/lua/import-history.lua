--[[
  A pair's imported history (docs/history.md): the exchange's own candles of
  one period, written before the pair's first trade is stored, so that they
  and the candles built from trades never overlap. Every step checks that
  no trade of the pair is stored yet (state field `first`): once one is,
  the history is what it is and nothing here writes again. All keys share
  the pair's hash tag.

  KEYS[1] pair state        state:{PAIR}   hash: hs (history start), hp (next
                                           bucket to import), hm (its period,
                                           ms), hb (where live data begins),
                                           hx (the boundary bucket exact: 1/0)
  KEYS[2] imported period   candles:{PAIR}:<hm>

  ARGV[1] the step:
    "begin" start periodMs: takes the import on (or finds it begun: a resume)
    "write" from next [time member]...: the candles of [from, next), as
            stored (with "origin":"exchange"), replacing what is there; the
            import has got to `next`
    "finish" boundary [field value]...: the import is complete up to
            `boundary`, where live data begins: `first` becomes the history's
            start, the pair's low time bound `lo` the boundary (a trade
            before it, which the imported candles already count, is refused
            like a trade older than MAX_LATE), and the periods' close marks
            are set as given
    "abandon": the import is given up; its candles and marks go
    "boundary" exact: whether the boundary bucket was completed from trades

  Returns { status, hs, hp, hm, hb, hx } after the step; status is "stored"
  (a trade of the pair is stored: no history to import or write), "none",
  "importing", "imported" or, when a step could not be taken (the import
  is not in the state it needs), that state prefixed with "not:".
]]
--- @include "decimal"
--- @include "candle"

local step = ARGV[1]
local st = redis.call('HMGET', KEYS[1], 'first', 'hs', 'hp', 'hm', 'hb', 'hx')
local function status()
  if st[5] then return 'imported' end
  if st[2] then return 'importing' end
  if st[1] then return 'stored' end
  return 'none'
end
local function reply(prefix)
  return { (prefix or '') .. status(), st[2] or '', st[3] or '', st[4] or '', st[5] or '', st[6] or '' }
end
local function refuse()
  return reply('not:')
end

if step == 'begin' then
  if st[1] or st[2] then return reply() end
  redis.call('HSET', KEYS[1], 'hs', ARGV[2], 'hp', ARGV[2], 'hm', ARGV[3])
  st[2], st[3], st[4] = ARGV[2], ARGV[2], ARGV[3]
  return reply()
end

if step == 'write' then
  if st[1] or not st[2] or st[5] then return refuse() end
  local from, nxt = tonumber(ARGV[2]), tonumber(ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], num(from), '(' .. num(nxt))
  for i = 4, #ARGV - 1, 2 * 1000 do
    local add = {}
    for j = i, math.min(i + 2 * 1000 - 1, #ARGV - 1), 2 do
      add[#add + 1] = ARGV[j]
      add[#add + 1] = ARGV[j + 1]
    end
    redis.call('ZADD', KEYS[2], unpack(add))
  end
  if nxt > tonumber(st[3]) then
    redis.call('HSET', KEYS[1], 'hp', num(nxt))
    st[3] = num(nxt)
  end
  return reply()
end

if step == 'finish' then
  if st[1] or not st[2] or st[5] then return refuse() end
  local fields = { 'first', st[2], 'hb', ARGV[2], 'lo', ARGV[2] }
  for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('HDEL', KEYS[1], 'hp')
  bumpVersion(KEYS[1])
  st[1], st[3], st[5] = st[2], nil, ARGV[2]
  return reply()
end

if step == 'abandon' then
  if st[1] or not st[2] or st[5] then return refuse() end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], st[2], '(' .. st[3])
  redis.call('HDEL', KEYS[1], 'hs', 'hp', 'hm')
  st[2], st[3], st[4] = nil, nil, nil
  return reply()
end

if step == 'boundary' then
  if not st[5] then return refuse() end
  redis.call('HSET', KEYS[1], 'hx', ARGV[2])
  st[6] = ARGV[2]
  return reply()
end

return redis.error_reply('import-history: unknown step ' .. tostring(step))
