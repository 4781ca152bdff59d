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
  /** Time to live of each call's entry. @default the cache's `defaultTtl` */
  ttl?: Duration | undefined;
  /** How long past `ttl` an entry stays as a fallback when the method fails. @default none */
  grace?: Duration | undefined;
  /** The key of a call; without it: `ClassName.method` plus a hash of the arguments. */
  key?: OfArgs<string> | undefined;
  /** Tags of each call's entry (or a function of the arguments giving them), for `invalidateTags`. */
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

/** A method returning a promise, as a legacy decorator sees it. */
type AnyAsyncMethod = (...args: never[]) => Promise<unknown>;

/**
 * A method decorator of both flavours: TC39 standard decorators (TypeScript 5+ by default) and
 * legacy `experimentalDecorators` (NestJS, TypeORM projects). TypeScript picks the signature that
 * matches the project's setting.
 */
export interface AsyncMethodDecorator {
  /** Standard (TC39) decorator. */
  <This, Args extends unknown[], R>(
    method: AsyncMethod<This, Args, R>,
    context: ClassMethodDecoratorContext<This, AsyncMethod<This, Args, R>>,
  ): AsyncMethod<This, Args, R>;
  /** Legacy decorator (`experimentalDecorators: true`). */
  <M extends AnyAsyncMethod>(target: object, propertyKey: string | symbol, descriptor: TypedPropertyDescriptor<M>): TypedPropertyDescriptor<M>;
}

/**
 * Wraps a method with `wrap` under either decorator flavour: `(method, context)` for standard
 * decorators, `(target, key, descriptor)` for legacy ones.
 */
function methodDecorator(
  what: string,
  wrap: (method: (...args: unknown[]) => Promise<unknown>, name: string, isStatic: boolean) => (this: unknown, ...args: unknown[]) => Promise<unknown>,
): AsyncMethodDecorator {
  return function decorate(...args: unknown[]): unknown {
    const [first, second, third] = args;
    if (args.length === 2 && typeof first === 'function' && typeof second === 'object' && second !== null) {
      const context = second as ClassMethodDecoratorContext;
      if (context.kind !== 'method') throw new TypeError(`@${what} decorates methods, not a ${String(context.kind)}`);
      return wrap(first as (...a: unknown[]) => Promise<unknown>, String(context.name), context.static);
    }
    if (args.length === 3 && typeof third === 'object' && third !== null && (typeof first === 'object' || typeof first === 'function')) {
      const descriptor = third as PropertyDescriptor;
      if (typeof descriptor.value !== 'function') throw new TypeError(`@${what} decorates methods (not accessors or properties)`);
      const isStatic = typeof first === 'function';
      descriptor.value = wrap(descriptor.value as (...a: unknown[]) => Promise<unknown>, String(second), isStatic);
      return descriptor;
    }
    throw new TypeError(`@${what} must be used as a method decorator (standard or experimentalDecorators)`);
  } as AsyncMethodDecorator;
}

/**
 * Caches a method returning a promise. Works as a TC39 standard decorator (TypeScript 5+) and
 * under `experimentalDecorators` (NestJS). Without `key` the key is `ClassName.method` plus a
 * stable hash of the arguments.
 * @example class Users { @Cached({ ttl: '5m', tags: (id: string) => [`user:${id}`] }) async find(id: string) { ... } }
 */
export function Cached(options: CachedDecoratorOptions = {}): AsyncMethodDecorator {
  const key = options.key as ((...args: unknown[]) => string) | undefined;
  const tags = options.tags as readonly string[] | ((...args: unknown[]) => readonly string[]) | undefined;
  const perCall = { ttl: options.ttl, grace: options.grace, timeout: undefined, tags };
  return methodDecorator('Cached', (method, name, isStatic) =>
    // async, so a key that cannot be built rejects like the method would, instead of throwing.
    async function cachedMethod(this: unknown, ...args: unknown[]): Promise<unknown> {
      const k = key !== undefined ? key(...args) : `${className(this, isStatic)}.${name}:${stableHash(args)}`;
      return (options.cache ?? defaultCache).getOrSet<unknown>(k, () => method.apply(this, args), callOptions(perCall, args));
    },
  );
}

/**
 * Invalidates keys and tags after the method resolves (not when it throws). Both decorator
 * flavours, like {@link Cached}.
 * @example @InvalidatesCache({ tags: (id: string) => [`user:${id}`] }) async update(id: string) { ... }
 */
export function InvalidatesCache(options: InvalidatesCacheOptions): AsyncMethodDecorator {
  const keys = options.keys as ((...args: unknown[]) => readonly string[]) | undefined;
  const tags = options.tags as ((...args: unknown[]) => readonly string[]) | undefined;
  return methodDecorator('InvalidatesCache', (method) =>
    async function invalidatingMethod(this: unknown, ...args: unknown[]): Promise<unknown> {
      const result = await method.apply(this, args);
      const target = options.cache ?? defaultCache;
      if (keys !== undefined) await target.deleteMany(keys(...args));
      if (tags !== undefined) await target.invalidateTags(tags(...args));
      return result;
    },
  );
}
