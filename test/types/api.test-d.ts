/**
 * Compile-time tests of the public types, checked by `npm run typecheck` (never run: the unit
 * runner only picks `*.test.ts`). Every `expectTypeOf` and `@ts-expect-error` here fails the
 * type check when the API's types drift.
 */
import { expectTypeOf } from 'expect-type';
import { cache, cached, createCache, EventInvalidator, memoryStore, parseDuration } from '../../src/index.js';
import type {
  Cache,
  CachedFunction,
  CacheStats,
  DomainEvent,
  Duration,
  ErrorEvent,
  EvictEvent,
  FactoryContext,
  KeyEvent,
  MemoryStore,
  Tier,
} from '../../src/index.js';

interface User {
  id: number;
  name: string;
}

declare const c: Cache;

// ------------------------------------------------------------------------------------------------
// getOrSet infers T from the factory

expectTypeOf(c.getOrSet('k', () => 42)).toEqualTypeOf<Promise<number>>();
expectTypeOf(c.getOrSet('k', async () => 42)).toEqualTypeOf<Promise<number>>();
expectTypeOf(c.getOrSet('k', () => Promise.resolve('s'))).toEqualTypeOf<Promise<string>>();
expectTypeOf(c.getOrSet('k', async (): Promise<User> => ({ id: 1, name: 'a' }))).toEqualTypeOf<Promise<User>>();
expectTypeOf(c.getOrSet('k', () => ({ id: 1, name: 'a' }), { ttl: '5m', tags: ['users'] })).toEqualTypeOf<Promise<{ id: number; name: string }>>();
expectTypeOf(c.getOrSet<User | null>('k', () => null)).toEqualTypeOf<Promise<User | null>>();
// @ts-expect-error the factory's result must match an explicit T
void c.getOrSet<User>('k', () => 42);

// A factory that takes the context still infers the value type from what it returns.
declare function loadUser(): Promise<User>;
expectTypeOf(c.getOrSet('k', async (ctx) => {
  expectTypeOf(ctx.stale).toEqualTypeOf<unknown>();
  ctx.setOptions({ ttl: '1m' });
  return loadUser();
})).toEqualTypeOf<Promise<User>>();
expectTypeOf(c.getOrSet('k', (ctx) => (ctx.signal.aborted ? 0 : 1))).toEqualTypeOf<Promise<0 | 1>>();
// @ts-expect-error an explicit T still checks the factory's result
void c.getOrSet<User>('k', async (ctx) => (ctx.signal.aborted ? 1 : 2));

// With T given, ctx.stale is T | undefined; the rest of the context is typed too.
void c.getOrSet<number>('k', (ctx) => {
  expectTypeOf(ctx).toEqualTypeOf<FactoryContext<number>>();
  expectTypeOf(ctx.stale).toEqualTypeOf<number | undefined>();
  expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
  expectTypeOf(ctx.skip).toEqualTypeOf<() => void>();
  ctx.setOptions({ ttl: '1m', tags: ['t'], grace: 500 });
  // @ts-expect-error setOptions takes Durations
  ctx.setOptions({ ttl: '1 minute' });
  return ctx.stale ?? 1;
});
void c.getOrSet<User>('k', async (ctx) => {
  expectTypeOf(ctx.stale).toEqualTypeOf<User | undefined>();
  return ctx.stale ?? { id: 1, name: 'a' };
});

// ------------------------------------------------------------------------------------------------
// get / getMany / getOrSetMany / the other methods

expectTypeOf(c.get<User>('k')).toEqualTypeOf<Promise<User | undefined>>();
expectTypeOf(c.get('k')).toEqualTypeOf<Promise<unknown>>();
expectTypeOf(c.getMany<User>(['a', 'b'])).toEqualTypeOf<Promise<(User | undefined)[]>>();
expectTypeOf(c.getOrSetMany(['a', 'b'], (missing) => missing.map((id) => ({ id: Number(id), name: id })))).toEqualTypeOf<
  Promise<({ id: number; name: string } | undefined)[]>
>();
expectTypeOf(c.getOrSetMany<User>(['a'], async (missing) => new Map(missing.map((k) => [k, { id: 1, name: k }])))).toEqualTypeOf<
  Promise<(User | undefined)[]>
>();
expectTypeOf(c.getOrSetMany<number>(['a'], () => ({ a: 1 }))).toEqualTypeOf<Promise<(number | undefined)[]>>();
void c.getOrSetMany(['a'], (missing) => {
  expectTypeOf(missing).toEqualTypeOf<string[]>();
  return [1];
});
expectTypeOf(c.set('k', { any: 'value' }, { ttl: 1000, tags: ['t'] })).toEqualTypeOf<Promise<void>>();
expectTypeOf(c.delete('k')).toEqualTypeOf<Promise<boolean>>();
expectTypeOf(c.has('k')).toEqualTypeOf<Promise<boolean>>();
expectTypeOf(c.ttl('k')).toEqualTypeOf<Promise<number | undefined>>();
expectTypeOf(c.incr('k')).toEqualTypeOf<Promise<number>>();
expectTypeOf(c.deleteMany(['a'])).toEqualTypeOf<Promise<number>>();
expectTypeOf(c.deletePattern('user:*')).toEqualTypeOf<Promise<number>>();
expectTypeOf(c.invalidateTags(['t'])).toEqualTypeOf<Promise<number>>();
expectTypeOf(c.clear()).toEqualTypeOf<Promise<void>>();
expectTypeOf(c.namespace('t1')).toEqualTypeOf<Cache>();
expectTypeOf(c.stats()).toEqualTypeOf<CacheStats>();
expectTypeOf(c.stats().latency).toEqualTypeOf<{ p50: number; p99: number }>();
expectTypeOf(c.close()).toEqualTypeOf<Promise<void>>();
expectTypeOf(cache).toEqualTypeOf<Cache>();
expectTypeOf(createCache()).toEqualTypeOf<Cache>();
expectTypeOf(createCache({ store: memoryStore({ maxEntries: 10_000, maxBytes: 64 << 20 }), defaultTtl: '5m' })).toEqualTypeOf<Cache>();

// @ts-expect-error set needs a value
void c.set('k');
// @ts-expect-error keys are strings
void c.get(1);
// @ts-expect-error getOrSet needs a factory
void c.getOrSet('k');
// @ts-expect-error tags are strings
void c.set('k', 1, { tags: [1] });

// ------------------------------------------------------------------------------------------------
// Durations

const durations: Duration[] = [250, Infinity, '250ms', '1.5s', '5m', '2h', '1d'];
void durations;
expectTypeOf(parseDuration('5m', 'ttl')).toEqualTypeOf<number>();
// @ts-expect-error not a Duration
const parsecs: Duration = '5 parsecs';
void parsecs;
// @ts-expect-error not a unit
const weeks: Duration = '2w';
void weeks;
// @ts-expect-error a ttl is a Duration
void c.set('k', 1, { ttl: '5 parsecs' });
// @ts-expect-error a default TTL is a Duration
createCache({ defaultTtl: '5 parsecs' });
// @ts-expect-error a hard timeout is a Duration
void c.getOrSet('k', () => 1, { timeout: { hard: 'soon' } });

// ------------------------------------------------------------------------------------------------
// Events

const off = c.on('error', (e) => {
  expectTypeOf(e).toEqualTypeOf<ErrorEvent>();
  expectTypeOf(e.error).toEqualTypeOf<Error>();
  expectTypeOf(e.tier).toEqualTypeOf<Tier | 'factory'>();
  expectTypeOf(e.operation).toEqualTypeOf<string>();
});
expectTypeOf(off).toEqualTypeOf<() => void>();
c.on('hit', (e) => {
  expectTypeOf(e).toEqualTypeOf<KeyEvent>();
  expectTypeOf(e.key).toEqualTypeOf<string>();
  expectTypeOf(e.tier).toEqualTypeOf<Tier>();
});
c.on('miss', (e) => expectTypeOf(e.key).toEqualTypeOf<string>());
c.on('evict', (e) => {
  expectTypeOf(e).toEqualTypeOf<EvictEvent>();
  expectTypeOf(e.reason).toEqualTypeOf<'capacity' | 'bytes' | 'too-large'>();
});
c.on('expire', (e) => expectTypeOf(e.reason).toEqualTypeOf<'ttl'>());
c.on('l2:down', (e) => expectTypeOf(e.error).toEqualTypeOf<Error | undefined>());
// @ts-expect-error no such event
c.on('hits', () => {});
// @ts-expect-error no such event
c.on('l2:unknown', () => {});
c.on('hit', (e) => {
  // @ts-expect-error a hit has no error
  void e.error;
});

// ------------------------------------------------------------------------------------------------
// memoryStore

const store = memoryStore<User>({ maxEntries: 10, ttl: '1m' });
expectTypeOf(store).toEqualTypeOf<MemoryStore<User>>();
expectTypeOf(store.get('k')).toEqualTypeOf<User | undefined>();
expectTypeOf(store.peek('k')).toEqualTypeOf<User | undefined>();
expectTypeOf(store.delete('k')).toEqualTypeOf<boolean>();
expectTypeOf(store.size).toEqualTypeOf<number>();
expectTypeOf(store.keys()).toEqualTypeOf<IterableIterator<string>>();
store.on('evict', (e) => expectTypeOf(e.value).toEqualTypeOf<User>());
// @ts-expect-error the store holds Users
store.set('k', 42);

// ------------------------------------------------------------------------------------------------
// cached() keeps parameter and result types

declare function fetchUser(id: number, options: { fresh: boolean }): Promise<User>;
const getUser = cached(fetchUser, { ttl: '5m', key: (id) => `user:${id}`, tags: (id) => [`user:${id}`] });
expectTypeOf(getUser).toEqualTypeOf<CachedFunction<[id: number, options: { fresh: boolean }], User>>();
expectTypeOf(getUser).parameters.toEqualTypeOf<[id: number, options: { fresh: boolean }]>();
expectTypeOf(getUser).returns.toEqualTypeOf<Promise<User>>();
expectTypeOf(getUser.invalidate).parameters.toEqualTypeOf<[id: number, options: { fresh: boolean }]>();
expectTypeOf(getUser.invalidate).returns.toEqualTypeOf<Promise<boolean>>();
expectTypeOf(getUser.keyFor).parameters.toEqualTypeOf<[id: number, options: { fresh: boolean }]>();
expectTypeOf(getUser.keyFor).returns.toEqualTypeOf<string>();
// @ts-expect-error wrong argument type
void getUser('1', { fresh: true });
// @ts-expect-error missing argument
void getUser(1);
// @ts-expect-error wrong argument type for invalidate
void getUser.invalidate('1', { fresh: true });
// @ts-expect-error wrong argument type for keyFor
getUser.keyFor('1', { fresh: true });

// A synchronous function becomes an async one with the same result type.
const square = cached((n: number) => n * n, { prefix: 'square' });
expectTypeOf(square).toEqualTypeOf<CachedFunction<[n: number], number>>();
expectTypeOf(square(2)).toEqualTypeOf<Promise<number>>();
// The key and tags functions see the parameter types.
cached((id: string, page: number) => Promise.resolve([id, page] as const), {
  key: (id, page) => {
    expectTypeOf(id).toEqualTypeOf<string>();
    expectTypeOf(page).toEqualTypeOf<number>();
    return `${id}:${page}`;
  },
});
// @ts-expect-error the key function must return a string
cached((id: string) => Promise.resolve(id), { key: (id: string) => id.length });

// ------------------------------------------------------------------------------------------------
// EventInvalidator narrows the event by its type

type ShopEvent = { type: 'order.placed'; orderId: string; customerId: number } | { type: 'product.renamed'; sku: string };
new EventInvalidator<ShopEvent>(c)
  .on('order.placed', (e) => {
    expectTypeOf(e).toEqualTypeOf<{ type: 'order.placed'; orderId: string; customerId: number }>();
    return { keys: [`order:${e.orderId}`], tags: [`customer:${e.customerId}`] };
  })
  .on('product.renamed', async (e) => {
    expectTypeOf(e.sku).toEqualTypeOf<string>();
    // @ts-expect-error a renamed product carries no orderId
    void e.orderId;
    return { patterns: [`product:${e.sku}:*`] };
  });
// @ts-expect-error not an event type of ShopEvent
new EventInvalidator<ShopEvent>(c).on('order.cancelled', () => undefined);
// @ts-expect-error handle takes a ShopEvent
void new EventInvalidator<ShopEvent>(c).handle({ type: 'order.placed', orderId: 'o1' });
expectTypeOf(new EventInvalidator<ShopEvent>(c).handle({ type: 'product.renamed', sku: 's' })).toEqualTypeOf<Promise<number>>();
// @ts-expect-error a handler returns an Invalidation
new EventInvalidator<ShopEvent>(c).on('product.renamed', () => ({ key: 'x' }));

// Without a type argument (the API.md example): any event type, fields unknown, type narrowed.
new EventInvalidator(c).on('property.updated', (e) => {
  expectTypeOf(e).toMatchTypeOf<DomainEvent>();
  expectTypeOf(e.type).toEqualTypeOf<'property.updated'>();
  expectTypeOf(e.id).toEqualTypeOf<unknown>();
  return { keys: [`property:${String(e.id)}`], tags: [`tenant:${String(e.tenantId)}:properties`] };
});
