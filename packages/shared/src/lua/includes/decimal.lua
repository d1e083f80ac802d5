-- Exact decimal arithmetic on canonical non-negative decimal strings
-- ("0", "12", "0.5", "37012.25": no exponent, no leading zeros, no trailing
-- fraction zeros), the form decimal.ts produces. Lua numbers are doubles, so
-- digits are added in chunks of 13, each sum exact below 2^53.

local function dsplit(a)
  local i, f = string.match(a, '^(%d+)%.?(%d*)$')
  return i, f
end

-- -1, 0 or 1
local function dcmp(a, b)
  if a == b then return 0 end
  -- Fast path: distinct decimals of at most 15 significant digits are
  -- distinct doubles in the same order (DBL_DIG is 15).
  if #a <= 16 and #b <= 16 then
    local x, y = tonumber(a), tonumber(b)
    if x ~= y then return (x < y) and -1 or 1 end
  end
  local ai, af = dsplit(a)
  local bi, bf = dsplit(b)
  if #ai ~= #bi then return (#ai < #bi) and -1 or 1 end
  if ai ~= bi then return (ai < bi) and -1 or 1 end
  local n = math.max(#af, #bf)
  af = af .. string.rep('0', n - #af)
  bf = bf .. string.rep('0', n - #bf)
  if af == bf then return 0 end
  return (af < bf) and -1 or 1
end

local POW10 = {}
for i = 0, 22 do POW10[i] = 10 ^ i end

-- `u / 10^scale` written canonically (u an integer below 2^53).
local function dunits(u, scale)
  local digits = string.format('%.0f', u)
  if scale == 0 then return digits end
  if #digits <= scale then digits = string.rep('0', scale + 1 - #digits) .. digits end
  local int = string.sub(digits, 1, #digits - scale)
  local frac = string.sub(digits, #digits - scale + 1)
  local last = #frac
  while last > 0 and string.byte(frac, last) == 48 do last = last - 1 end
  if last == 0 then return int end
  return int .. '.' .. string.sub(frac, 1, last)
end

-- Fast path of dadd: both have at most 15 digits (so each, scaled to the
-- longer fraction, is an integer a double holds exactly, as is their sum):
-- tonumber(a) * 10^scale is within 2^-50 of that integer, so rounding it
-- is exact. Returns nil when it does not apply.
local function daddSmall(a, b)
  if #a > 16 or #b > 16 then return nil end
  local ad = string.find(a, '.', 1, true)
  local bd = string.find(b, '.', 1, true)
  local af = ad and (#a - ad) or 0
  local bf = bd and (#b - bd) or 0
  local fl = af > bf and af or bf
  local digitsA = ad and (#a - 1) or #a
  local digitsB = bd and (#b - 1) or #b
  if digitsA + fl - af > 15 or digitsB + fl - bf > 15 then return nil end
  local p = POW10[fl]
  local u = math.floor(tonumber(a) * p + 0.5) + math.floor(tonumber(b) * p + 0.5)
  if u >= 9007199254740992 then return nil end
  return dunits(u, fl)
end

local function dadd(a, b)
  if a == '0' then return b end
  if b == '0' then return a end
  local fast = daddSmall(a, b)
  if fast ~= nil then return fast end
  local ai, af = dsplit(a)
  local bi, bf = dsplit(b)
  local fl = math.max(#af, #bf)
  local x = ai .. af .. string.rep('0', fl - #af)
  local y = bi .. bf .. string.rep('0', fl - #bf)
  local n = math.max(#x, #y)
  if n <= 15 then
    -- Fast path: both scaled integers (and their sum) are exact in a double.
    local digits = string.format('%.0f', tonumber(x) + tonumber(y))
    if fl == 0 then return digits end
    digits = string.rep('0', fl + 1 - #digits) .. digits
    local int = string.sub(digits, 1, #digits - fl)
    local frac = string.gsub(string.sub(digits, #digits - fl + 1), '0+$', '')
    if frac == '' then return int end
    return int .. '.' .. frac
  end
  x = string.rep('0', n - #x) .. x
  y = string.rep('0', n - #y) .. y
  local parts = {}
  local carry = 0
  local i = n
  while i >= 1 do
    local j = i - 12
    if j < 1 then j = 1 end
    local w = i - j + 1
    local s = tonumber(string.sub(x, j, i)) + tonumber(string.sub(y, j, i)) + carry
    local m = 10 ^ w
    if s >= m then
      carry = 1
      s = s - m
    else
      carry = 0
    end
    table.insert(parts, 1, string.format('%0' .. w .. '.0f', s))
    i = j - 1
  end
  if carry == 1 then table.insert(parts, 1, '1') end
  local digits = table.concat(parts)
  local int = string.sub(digits, 1, #digits - fl)
  local frac = string.sub(digits, #digits - fl + 1)
  int = string.gsub(int, '^0+', '')
  if int == '' then int = '0' end
  frac = string.gsub(frac, '0+$', '')
  if frac == '' then return int end
  return int .. '.' .. frac
end

-- Exact sum of an array of canonical decimals: integer units in a double
-- while every value and the sum fit one exactly (one pass, no string per
-- value), else dadd one by one.
local function dsum(values)
  local units, scale = 0, 0
  for i = 1, #values do
    local v = values[i]
    local d = string.find(v, '.', 1, true)
    local s = d and (#v - d) or 0
    if (d and #v - 1 or #v) > 15 or s > 22 then units = nil; break end
    -- At most 15 digits: the double nearest v, times 10^s, is within 0.25 of
    -- the integer units (as in daddSmall), so rounding gives them exactly.
    local x = d and math.floor(tonumber(v) * POW10[s] + 0.5) or tonumber(v)
    if s > scale then
      units = units * POW10[s - scale]
      scale = s
    end
    units = units + x * POW10[scale - s]
    if units >= 9007199254740992 then units = nil; break end
  end
  if units ~= nil then return dunits(units, scale) end
  local acc = '0'
  for i = 1, #values do acc = dadd(acc, values[i]) end
  return acc
end
