import type { Cache } from '../cache/cache.js';
import { cache as defaultCache } from '../cache/default-cache.js';
import type { FactoryTimeouts } from '../cache/types.js';
import type { Duration } from '../config/duration.js';
import { ConfigError } from '../errors/config-error.js';
import { stableHash } from './stable-hash.js';

export interface CachedOptions<Args extends unknown[]> {
  /** The cache to use. @default the default `cache` */
  cache?: Cache | undefined;
  /** Time to live of each call's entry. @default the cache's `defaultTtl` */
  ttl?: Duration | undefined;
  /** How long past `ttl` an entry stays as a fallback when the function fails (fail-safe). @default none */
  grace?: Duration | undefined;
  /** Soft and hard timeouts of a call, as in `getOrSet`. @default none */
  timeout?: FactoryTimeouts | undefined;
  /** The key of a call; without it: the function's name (or `prefix`) plus a hash of the arguments. */
  key?: ((...args: Args) => string) | undefined;
  /** Prepended to keys as `prefix:`; replaces the function's name in hashed keys. */
  prefix?: string | undefined;
  /** Tags of a call's entry, for `invalidateTags`. */
  tags?: readonly string[] | ((...args: Args) => readonly string[]) | undefined;
}

/** A cached function: same arguments, promise of the same result, plus cache helpers. */
export interface CachedFunction<Args extends unknown[], R> {
  (...args: Args): Promise<R>;
  /** Drops the entry of these arguments; true if one was removed. */
  invalidate(...args: Args): Promise<boolean>;
  /** The cache key these arguments map to. */
  keyFor(...args: Args): string;
}

/**
 * Wraps `fn` so calls with equal arguments are served from the cache (cache-aside through
 * `getOrSet`, so concurrent equal calls run `fn` once).
 * @example const getUser = cached(fetchUser, { ttl: '5m', key: (id) => `user:${id}` });
 */
export function cached<Args extends unknown[], R>(
  fn: (...args: Args) => R | Promise<R>,
  options: CachedOptions<Args> = {},
): CachedFunction<Args, R> {
  if (typeof fn !== 'function') throw new TypeError('cached: expected a function');
  const keyFor = keyMaker(options, fn.name, 'prefix');
  // async: a key that cannot be made (InvalidKeyError) or a throwing `tags` rejects, never throws.
  const run = async function (this: unknown, ...args: Args): Promise<R> {
    const target = options.cache ?? defaultCache;
    return target.getOrSet<R>(keyFor(...args), () => fn.apply(this, args), callOptions(options, args));
  };
  return Object.assign(run, {
    invalidate: async (...args: Args) => (options.cache ?? defaultCache).delete(keyFor(...args)),
    keyFor,
  });
}

/** @internal Shared with the decorators: the key function of a cached call. */
export function keyMaker<Args extends unknown[]>(
  options: { key?: ((...args: Args) => string) | undefined; prefix?: string | undefined },
  name: string,
  nameOption: string,
): (...args: Args) => string {
  const { key, prefix } = options;
  if (key !== undefined && typeof key !== 'function') throw new ConfigError('key', 'expected a function (...args) => string');
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length === 0)) {
    throw new ConfigError('prefix', 'expected a non-empty string');
  }
  if (key !== undefined) return prefix === undefined ? key : (...args) => `${prefix}:${key(...args)}`;
  const base = prefix ?? name;
  if (base === '') throw new ConfigError(nameOption, 'an anonymous function needs `prefix` or `key` to name its cache entries');
  return (...args) => `${base}:${stableHash(args)}`;
}

/** @internal Per-call getOrSet options of a cached call. */
export function callOptions<Args extends unknown[]>(
  options: Pick<CachedOptions<Args>, 'ttl' | 'grace' | 'timeout' | 'tags'>,
  args: Args,
): { ttl?: Duration | undefined; grace?: Duration | undefined; timeout?: FactoryTimeouts | undefined; tags?: readonly string[] | undefined } {
  const tags = typeof options.tags === 'function' ? options.tags(...args) : options.tags;
  return { ttl: options.ttl, grace: options.grace, timeout: options.timeout, tags };
}
