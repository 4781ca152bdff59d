import type { Cache } from '../cache/cache.js';
import { cache as defaultCache } from '../cache/default-cache.js';
import type { Duration } from '../config/duration.js';
import { stableHash } from './stable-hash.js';
import { callOptions } from './cached.js';

type AsyncMethod<This, Args extends unknown[], R> = (this: This, ...args: Args) => Promise<R>;

export interface CachedDecoratorOptions<Args extends unknown[]> {
  /** @default the default `cache` */
  cache?: Cache | undefined;
  ttl?: Duration | undefined;
  grace?: Duration | undefined;
  /** The key of a call; without it: `ClassName.method` plus a hash of the arguments. */
  key?: ((...args: Args) => string) | undefined;
  tags?: readonly string[] | ((...args: Args) => readonly string[]) | undefined;
}

export interface InvalidatesCacheOptions<Args extends unknown[]> {
  /** @default the default `cache` */
  cache?: Cache | undefined;
  /** Keys to delete once the method resolved. */
  keys?: ((...args: Args) => readonly string[]) | undefined;
  /** Tags to invalidate once the method resolved. */
  tags?: ((...args: Args) => readonly string[]) | undefined;
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
export function Cached<Args extends unknown[]>(options: CachedDecoratorOptions<Args> = {}) {
  return function <This, R>(method: AsyncMethod<This, Args, R>, context: ClassMethodDecoratorContext<This, AsyncMethod<This, Args, R>>): AsyncMethod<This, Args, R> {
    const name = String(context.name);
    return function (this: This, ...args: Args): Promise<R> {
      const key = options.key !== undefined ? options.key(...args) : `${className(this, context.static)}.${name}:${stableHash(args)}`;
      return (options.cache ?? defaultCache).getOrSet<R>(key, () => method.apply(this, args), callOptions(options, args));
    };
  };
}

/**
 * Invalidates keys and tags after the method resolves (not when it throws).
 * @example @InvalidatesCache({ tags: (id) => [`user:${id}`] }) async update(id: string) { ... }
 */
export function InvalidatesCache<Args extends unknown[]>(options: InvalidatesCacheOptions<Args>) {
  return function <This, R>(method: AsyncMethod<This, Args, R>, _context: ClassMethodDecoratorContext<This, AsyncMethod<This, Args, R>>): AsyncMethod<This, Args, R> {
    return async function (this: This, ...args: Args): Promise<R> {
      const result = await method.apply(this, args);
      const target = options.cache ?? defaultCache;
      if (options.keys !== undefined) await target.deleteMany(options.keys(...args));
      if (options.tags !== undefined) await target.invalidateTags(options.tags(...args));
      return result;
    };
  };
}
