import type { Cache } from '../cache/cache.js';
import { cache as defaultCache } from '../cache/default-cache.js';
import type { Duration } from '../config/duration.js';
import { stableHash } from './stable-hash.js';
import { callOptions } from './cached.js';

type AsyncMethod<This, Args extends unknown[], R> = (this: This, ...args: Args) => Promise<R>;
/**
 * A function of (a prefix of) the method's arguments. Decorator factories run before TypeScript
 * sees the method, so the arguments cannot be inferred from it; any parameter list is accepted.
 */
type OfArgs<R> = (...args: never[]) => R;

export interface CachedDecoratorOptions {
  /** @default the default `cache` */
  cache?: Cache | undefined;
  ttl?: Duration | undefined;
  grace?: Duration | undefined;
  /** The key of a call; without it: `ClassName.method` plus a hash of the arguments. */
  key?: OfArgs<string> | undefined;
  tags?: readonly string[] | OfArgs<readonly string[]> | undefined;
}

export interface InvalidatesCacheOptions {
  /** @default the default `cache` */
  cache?: Cache | undefined;
  /** Keys to delete once the method resolved. */
  keys?: OfArgs<readonly string[]> | undefined;
  /** Tags to invalidate once the method resolved. */
  tags?: OfArgs<readonly string[]> | undefined;
}

function className(self: unknown, isStatic: boolean): string {
  if (isStatic) return (self as { name: string }).name;
  return (self as { constructor: { name: string } }).constructor.name;
}

/**
 * Caches a method returning a promise (TC39 standard decorator, TypeScript 5+ without
 * `experimentalDecorators`).
 * @example class Users { @Cached({ ttl: '5m' }) async find(id: string) { ... } }
 */
export function Cached(options: CachedDecoratorOptions = {}) {
  return function <This, Args extends unknown[], R>(
    method: AsyncMethod<This, Args, R>,
    context: ClassMethodDecoratorContext<This, AsyncMethod<This, Args, R>>,
  ): AsyncMethod<This, Args, R> {
    const name = String(context.name);
    const key = options.key as ((...args: Args) => string) | undefined;
    const tags = options.tags as readonly string[] | ((...args: Args) => readonly string[]) | undefined;
    const perCall = { ttl: options.ttl, grace: options.grace, timeout: undefined, tags };
    // async, so a key that cannot be built rejects like the method would, instead of throwing.
    return async function (this: This, ...args: Args): Promise<R> {
      const k = key !== undefined ? key(...args) : `${className(this, context.static)}.${name}:${stableHash(args)}`;
      return (options.cache ?? defaultCache).getOrSet<R>(k, () => method.apply(this, args), callOptions(perCall, args));
    };
  };
}

/**
 * Invalidates keys and tags after the method resolves (not when it throws).
 * @example @InvalidatesCache({ tags: (id) => [`user:${id}`] }) async update(id: string) { ... }
 */
export function InvalidatesCache(options: InvalidatesCacheOptions) {
  return function <This, Args extends unknown[], R>(
    method: AsyncMethod<This, Args, R>,
    _context: ClassMethodDecoratorContext<This, AsyncMethod<This, Args, R>>,
  ): AsyncMethod<This, Args, R> {
    const keys = options.keys as ((...args: Args) => readonly string[]) | undefined;
    const tags = options.tags as ((...args: Args) => readonly string[]) | undefined;
    return async function (this: This, ...args: Args): Promise<R> {
      const result = await method.apply(this, args);
      const target = options.cache ?? defaultCache;
      if (keys !== undefined) await target.deleteMany(keys(...args));
      if (tags !== undefined) await target.invalidateTags(tags(...args));
      return result;
    };
  };
}
