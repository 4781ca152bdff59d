import { MAX_DURATION_MS, parseDuration } from '../config/duration.js';
import { ConfigError } from '../errors/config-error.js';
import { InvalidKeyError } from '../errors/invalid-key-error.js';

/** Longest key in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
// A UTF-16 code unit is at most 3 UTF-8 bytes, so keys this short need no byte count.
const SAFE_KEY_LENGTH = Math.floor(MAX_KEY_BYTES / 3);

/**
 * Throws `InvalidKeyError` unless `key` is a non-empty, well-formed string of at most 1024 UTF-8
 * bytes that does not start with NUL.
 *
 * Lone UTF-16 surrogates are refused because Redis stores UTF-8: `'x\uD800'` and `'x\uDBFF'` both
 * encode to `x` + U+FFFD, so two keys (or two tenants) would share one entry. A leading NUL is the
 * space of internal keys (tag records, locks). Checked by the facade before any tier is touched,
 * so memory and Redis caches refuse the same keys.
 */
export function checkKey(key: unknown): asserts key is string {
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.charCodeAt(0) === 0 ||
    (key.length > SAFE_KEY_LENGTH && Buffer.byteLength(key) > MAX_KEY_BYTES) ||
    !key.isWellFormed()
  ) {
    throw invalidKey(key, 'key');
  }
}

function invalidKey(key: unknown, what: string): InvalidKeyError {
  if (typeof key !== 'string') return new InvalidKeyError(`a ${what} must be a string, got ${key === null ? 'null' : typeof key}`);
  if (key.length === 0) return new InvalidKeyError(`a ${what} must not be empty`);
  if (key.charCodeAt(0) === 0) return new InvalidKeyError(`a ${what} must not start with NUL: that space is reserved for internal keys`);
  if (!key.isWellFormed()) {
    return new InvalidKeyError(`a ${what} must be well-formed UTF-16 (it has a lone surrogate, which Redis would store as U+FFFD): ${JSON.stringify(key)}`);
  }
  return new InvalidKeyError(`a ${what} must be at most ${MAX_KEY_BYTES} UTF-8 bytes, got ${Buffer.byteLength(key)}`);
}

export function checkKeys(keys: unknown, operation: string): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) throw new TypeError(`${operation}: keys must be an array of strings`);
  for (const key of keys as unknown[]) checkKey(key);
}

/** Throws `InvalidKeyError` unless `name` can be a namespace: a valid key without `:` or a glob character. */
export function checkNamespaceName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || !name.isWellFormed() || name.charCodeAt(0) === 0) throw invalidKey(name, 'namespace name');
  checkKey(name);
  if (/[:*?[\]\\]/.test(name)) {
    throw new InvalidKeyError(`a namespace name must not contain ':' or a glob character (* ? [ ] \\), got "${name}"`);
  }
}

/** Separators of the Redis entry header; a tag containing one could forge another tag. */
// eslint-disable-next-line no-control-regex -- these control characters are exactly what is refused
const TAG_FORBIDDEN = /[\u0000\u001e\u001f]/;

/**
 * Validates tags and applies the namespace prefix. A tag is a non-empty, well-formed string of at
 * most 1024 UTF-8 bytes without NUL and without the entry header's separators (`\x1e`, `\x1f`).
 */
export function scopeTags(tags: unknown, prefix: string): string[] | undefined {
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags)) throw new TypeError('tags must be an array of strings');
  const out = new Array<string>(tags.length);
  for (let i = 0; i < tags.length; i++) {
    const tag: unknown = tags[i];
    if (typeof tag !== 'string' || tag.length === 0) throw new InvalidKeyError(`a tag must be a non-empty string, got ${JSON.stringify(tag) ?? typeof tag}`);
    if (TAG_FORBIDDEN.test(tag)) throw new InvalidKeyError(`a tag must not contain NUL, \\x1e or \\x1f, got ${JSON.stringify(tag)}`);
    if (!tag.isWellFormed() || (tag.length > SAFE_KEY_LENGTH && Buffer.byteLength(tag) > MAX_KEY_BYTES)) throw invalidKey(tag, 'tag');
    out[i] = prefix + tag;
  }
  return out;
}

/**
 * The root key prefix of a cache (`namespace` / `CACHE_KEY_PREFIX`), normalised so that no two
 * caches can reach into each other by accident:
 * - empty is refused: `clear()` of an empty prefix would empty the whole database;
 * - a prefix that does not end with `:` gets one (`app` becomes `app:`), otherwise `clear()` of
 *   `app` would also delete the keys of a cache named `app2`;
 * - lone surrogates and NUL are refused, as in keys.
 */
export function normalisePrefix(prefix: unknown, option: string): string {
  if (typeof prefix !== 'string') throw new ConfigError(option, 'expected a string key prefix such as "hoard:"');
  if (prefix.length === 0) {
    throw new ConfigError(option, 'an empty key prefix would let clear() reach every key of the Redis database; use a prefix such as "hoard:"');
  }
  if (!prefix.isWellFormed() || prefix.includes('\u0000')) throw new ConfigError(option, `must be well-formed text without NUL, got ${JSON.stringify(prefix)}`);
  if (Buffer.byteLength(prefix) > 256) throw new ConfigError(option, 'must be at most 256 UTF-8 bytes');
  return prefix.endsWith(':') ? prefix : `${prefix}:`;
}

const parsed = new Map<string, number>();
const MAX_PARSED = 1_000;

/**
 * A per-call TTL or grace in milliseconds (> 0). String durations are parsed once and remembered,
 * so a literal like `'5m'` on a hot path costs one map lookup. Durations past `MAX_DURATION_MS`
 * become `Infinity`.
 */
export function durationMs(value: unknown, option: string): number {
  if (typeof value === 'number' && value > 0) return value > MAX_DURATION_MS ? Infinity : Math.ceil(value);
  if (typeof value === 'string') {
    const known = parsed.get(value);
    if (known !== undefined) return known;
    const ms = parseDuration(value, option);
    if (parsed.size < MAX_PARSED) parsed.set(value, ms);
    return ms;
  }
  return parseDuration(value, option);
}

/** Like {@link durationMs} but `0` is allowed (timeouts: `soft: 0` is stale-while-revalidate). */
export function timeoutMs(value: unknown, option: string): number {
  return value === 0 ? 0 : durationMs(value, option);
}
