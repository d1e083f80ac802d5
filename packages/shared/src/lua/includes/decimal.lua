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

local function dadd(a, b)
  if a == '0' then return b end
  if b == '0' then return a end
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
