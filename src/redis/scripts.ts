/**
 * Lua scripts. Each touches only the keys it is given (KEYS), so every one of them also runs on
 * Redis Cluster. Header layout: see envelope.ts.
 *
 * Scripts that write are sent with EVAL, never EVALSHA: after a restart EVALSHA fails with
 * NOSCRIPT and the client resends it as EVAL later, behind commands issued after it, so an older
 * write could land after a newer one. EVAL keeps every write in the order it was issued.
 */

/** Local helpers: the header of an entry (through its third \x1e) with the separator positions, and the server clock. */
const HEADER = `
local function header(v)
  if not v or string.byte(v, 1) ~= 1 then return nil end
  local a = string.find(v, '\\30', 2, true)
  if not a then return nil end
  local b = string.find(v, '\\30', a + 1, true)
  if not b then return nil end
  local c = string.find(v, '\\30', b + 1, true)
  if not c then return nil end
  return string.sub(v, 1, c), a, b, c
end
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`;

/**
 * KEYS[1] entry. ARGV[1] header up to the stamp, ARGV[2] the rest (tags and payload), ARGV[3]
 * stamp in µs ('' to take the server's time less ARGV[4] µs), ARGV[5] px (0: no expiry).
 * Writes a tagged entry in one command, stamped by the server's own clock.
 */
export const WRITE_TAGGED = `${HEADER}
local stamp = ARGV[3]
if stamp == '' then stamp = string.format('%.0f', now_us() - tonumber(ARGV[4])) end
local px = tonumber(ARGV[5])
if px > 0 then
  redis.call('SET', KEYS[1], ARGV[1] .. stamp .. ARGV[2], 'PX', px)
else
  redis.call('SET', KEYS[1], ARGV[1] .. stamp .. ARGV[2])
end
return stamp
`;

/**
 * KEYS: tag records (one hash slot on a cluster). ARGV[1] px (0: no expiry). Records that the tags
 * were invalidated now (server µs); a record keeps the longer of its current and the given lifetime.
 */
export const INVALIDATE_TAGS = `${HEADER}
local now = string.format('%.0f', now_us())
for i = 1, #KEYS do
  local px = tonumber(ARGV[1])
  local left = redis.call('PTTL', KEYS[i])
  if px == 0 or left == -1 then
    redis.call('SET', KEYS[i], now)
  else
    if left > px then px = left end
    redis.call('SET', KEYS[i], now, 'PX', px)
  end
end
return now
`;

/** KEYS[1] entry. ARGV[1] stamp. Removes the entry only if it still is the one with that stamp. */
export const UNLINK_IF_STAMP = `${HEADER}
local h, a, b = header(redis.call('GET', KEYS[1]))
if h and string.sub(h, a + 1, b - 1) == ARGV[1] then return redis.call('UNLINK', KEYS[1]) end
return 0
`;

/**
 * KEYS[1] the longest lifetime of a tagged entry in ms ('0': unbounded). ARGV[1] a lifetime (0:
 * unbounded). Raises it; tag records live this long, so they outlast every entry they can affect.
 */
export const RAISE_LIFE = `
local cur = redis.call('GET', KEYS[1])
if cur == '0' then return 0 end
local n = tonumber(ARGV[1])
if n == 0 or not cur or (tonumber(cur) or 0) < n then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`;

/**
 * KEYS[1] entry. ARGV[1] by, ARGV[2] px for a new counter (0: none), ARGV[3] header for a new
 * counter, ARGV[4] '1' to refuse a tagged entry with HOARD_TAGGED (the caller checks its tags
 * first). Adds to the number inside the entry atomically, keeping its TTL and header.
 */
export const INCR = `${HEADER}
local v = redis.call('GET', KEYS[1])
local by = tonumber(ARGV[1])
local h, a, b, c = header(v)
if h then
  local fresh = tonumber(string.sub(h, 2, a - 1))
  if fresh and fresh <= math.floor(now_us() / 1000) then h = nil end
end
if h and ARGV[4] == '1' and c > b + 1 then return redis.error_reply('HOARD_TAGGED') end
if not h then
  if v and string.byte(v, 1) ~= 1 then return redis.error_reply('HOARD_NOT_A_NUMBER') end
  local px = tonumber(ARGV[2])
  local out = ARGV[3] .. string.format('%.17g', by)
  if px > 0 then redis.call('SET', KEYS[1], out, 'PX', px) else redis.call('SET', KEYS[1], out) end
  return string.format('%.17g', by)
end
local n = tonumber(string.sub(v, c + 1))
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
