import { parseDuration } from '../config/duration.js';
import { InvalidKeyError } from '../errors/invalid-key-error.js';

/** Longest key in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
// A UTF-16 code unit is at most 3 UTF-8 bytes, so keys this short need no byte count.
const SAFE_KEY_LENGTH = Math.floor(MAX_KEY_BYTES / 3);

/** Throws `InvalidKeyError` unless `key` is a non-empty string of at most 1024 UTF-8 bytes. */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || (key.length > SAFE_KEY_LENGTH && Buffer.byteLength(key) > MAX_KEY_BYTES)) {
    throw invalidKey(key);
  }
}

function invalidKey(key: unknown): InvalidKeyError {
  if (typeof key !== 'string') return new InvalidKeyError(`a key must be a string, got ${key === null ? 'null' : typeof key}`);
  if (key.length === 0) return new InvalidKeyError('a key must not be empty');
  return new InvalidKeyError(`a key must be at most ${MAX_KEY_BYTES} UTF-8 bytes, got ${Buffer.byteLength(key)}`);
}

export function checkKeys(keys: unknown, operation: string): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) throw new TypeError(`${operation}: keys must be an array of strings`);
  for (const key of keys as unknown[]) checkKey(key);
}

/** Throws `InvalidKeyError` unless `name` can be a namespace: no `:` and no glob character. */
export function checkNamespaceName(name: unknown): asserts name is string {
  checkKey(name);
  if (/[:*?[\]\\]/.test(name)) {
    throw new InvalidKeyError(`a namespace name must not contain ':' or a glob character (* ? [ ] \\), got "${name}"`);
  }
}

/** Validates tags and applies the namespace prefix. */
export function scopeTags(tags: unknown, prefix: string): string[] | undefined {
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags)) throw new TypeError('tags must be an array of strings');
  const out = new Array<string>(tags.length);
  for (let i = 0; i < tags.length; i++) {
    const tag: unknown = tags[i];
    if (typeof tag !== 'string' || tag.length === 0) throw new InvalidKeyError(`a tag must be a non-empty string, got ${JSON.stringify(tag) ?? typeof tag}`);
    out[i] = prefix + tag;
  }
  return out;
}

const parsed = new Map<string, number>();
const MAX_PARSED = 1_000;

/**
 * A per-call TTL or grace in milliseconds (> 0). String durations are parsed once and remembered,
 * so a literal like `'5m'` on a hot path costs one map lookup.
 */
export function durationMs(value: unknown, option: string): number {
  if (typeof value === 'number' && value > 0) return value === Infinity ? value : Math.ceil(value);
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
