/**
 * Lua scripts. Each touches only the keys it is given (KEYS), so every one of them also runs on
 * Redis Cluster. Header layout: see envelope.ts.
 */

/** Local helper: the header of an entry (up to the second \x1e), or nil. */
const HEADER = `
local function header(v)
  if not v or string.byte(v, 1) ~= 1 then return nil end
  local a = string.find(v, '\\30', 2, true)
  if not a then return nil end
  local b = string.find(v, '\\30', a + 1, true)
  if not b then return nil end
  return string.sub(v, 1, b), a, b
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * KEYS[1] entry. ARGV: tags. Removes the entry if its current value carries any of the tags.
 * Returns 1 if it removed a live (non-stale) entry, 0 otherwise.
 */
export const UNLINK_IF_TAGGED = `${HEADER}
local v = redis.call('GET', KEYS[1])
local h, a = header(v)
if not h then return 0 end
for i = 1, #ARGV do
  if string.find(h, '\\31' .. ARGV[i] .. '\\31', a, true) then
    local fresh = tonumber(string.sub(h, 2, a - 1))
    redis.call('UNLINK', KEYS[1])
    if fresh and fresh <= now_ms() then return 0 end
    return 1
  end
end
return 0
`;

/**
 * KEYS[1] tag set. ARGV[1] member, ARGV[2] px of the member (0: no expiry). Adds the member and
 * keeps the set alive at least as long as its longest-lived member, so tag sets never outlive
 * their entries by more than that and never grow without bound (FAULTS.md item 21, M5).
 */
export const TAG_ADD = `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
local px = tonumber(ARGV[2])
if px == 0 then
  redis.call('PERSIST', KEYS[1])
elseif existed == 0 then
  redis.call('PEXPIRE', KEYS[1], px)
else
  local t = redis.call('PTTL', KEYS[1])
  if t >= 0 and t < px then redis.call('PEXPIRE', KEYS[1], px) end
end
return 1
`;

/**
 * KEYS[1] entry. ARGV[1] by, ARGV[2] px for a new counter (0: none), ARGV[3] header for a new
 * counter. Adds to the number inside the entry atomically, keeping its TTL and header.
 */
export const INCR = `${HEADER}
local v = redis.call('GET', KEYS[1])
local by = tonumber(ARGV[1])
local h, a, b = header(v)
if h then
  local fresh = tonumber(string.sub(h, 2, a - 1))
  if fresh and fresh <= now_ms() then h = nil end
end
if not h then
  local px = tonumber(ARGV[2])
  local out = ARGV[3] .. string.format('%.17g', by)
  if px > 0 then redis.call('SET', KEYS[1], out, 'PX', px) else redis.call('SET', KEYS[1], out) end
  return string.format('%.17g', by)
end
local n = tonumber(string.sub(v, b + 1))
if not n then return redis.error_reply('HOARD_NOT_A_NUMBER') end
local next = string.format('%.17g', n + by)
redis.call('SET', KEYS[1], h .. next, 'KEEPTTL')
return next
`;

/** KEYS[1] entry. Returns the header only (for has / ttl without shipping the value). */
export const HEADER_ONLY = `${HEADER}
local v = redis.call('GET', KEYS[1])
local h = header(v)
if not h then
  if v then return '' end
  return false
end
return h
`;

/** KEYS[1] lock. ARGV[1] token. Deletes the lock only if it still holds our token. */
export const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
