import type { Duration } from '../config/duration.js';
import type { Bus } from '../bus/bus.js';
import type { CircuitBreakerOptions } from '../resilience/circuit-breaker.js';
import type { Serializer } from '../serialization/codec.js';
import type { RemoteStore, Store, SyncStore } from '../stores/store.js';
import type { Clock } from '../util/clock.js';
import type { LatencyHistogram } from './latency.js';

/** Where an event happened: the memory tier, the Redis tier, or the factory of `getOrSet`. */
export type Tier = 'l1' | 'l2';

export interface KeyEvent {
  /** The key inside the cache's root, namespaces included (`t1:k`). */
  key: string;
  /** The tier the event happened in. */
  tier: Tier;
}
export interface EvictEvent extends KeyEvent {
  /** `capacity`: over `maxEntries`; `bytes`: over `maxBytes`; `too-large`: one entry larger than `maxBytes`. */
  reason: 'capacity' | 'bytes' | 'too-large';
}
export interface ExpireEvent extends KeyEvent {
  /** Always `ttl`: the entry outlived its time to live (and grace). */
  reason: 'ttl';
}
export interface ErrorEvent {
  /** What went wrong: a Redis error (`StoreError`, a timeout, a lost connection) or the factory's own error. */
  error: Error;
  /** `factory` for a failed background refresh or a failure masked by a stale value. */
  tier: Tier | 'factory';
  /** The call that failed: `get`, `set`, `getOrSet`, `connection`, `publish`, ... */
  operation: string;
  /** The key involved, when there is one. */
  key?: string;
}
export interface L2StateEvent {
  /** Why Redis became unavailable, when known (`l2:down` only). */
  error?: Error;
}

/** Events of a cache and their payloads. */
export interface CacheEvents {
  hit: KeyEvent;
  miss: KeyEvent;
  set: KeyEvent;
  delete: KeyEvent;
  evict: EvictEvent;
  expire: ExpireEvent;
  error: ErrorEvent;
  'l2:down': L2StateEvent;
  'l2:up': L2StateEvent;
}
export type CacheEventName = keyof CacheEvents;

export interface CacheStats {
  /** Lookups that found a value (`get`, each key of `getMany`, the lookup of `getOrSet`). */
  hits: number;
  /** Lookups that found nothing. */
  misses: number;
  /** hits / (hits + misses); 0 when nothing was asked. */
  hitRate: number;
  /** Values stored: `set`, each entry of `setMany`, `incr`, and factory results of `getOrSet`. */
  sets: number;
  /** Entries removed by delete, deleteMany, deletePattern, invalidateTags and clear. */
  deletes: number;
  /** Entries the memory tier dropped to stay within `maxEntries` / `maxBytes`. */
  evictions: number;
  /** Entries the memory tier dropped at their TTL. */
  expirations: number;
  /** Count of `error` events. */
  errors: number;
  /** Live entries in memory. */
  size: number;
  /** Bytes accounted in memory, when the memory store has `maxBytes`. */
  bytes?: number;
  /** Whether the Redis tier answers; only on Redis-backed caches. */
  l2Available?: boolean;
  /** Why L2 is unavailable: the last error it gave (e.g. `WRONGPASS invalid username-password pair`); only while `l2Available` is false. */
  l2Error?: string;
  /** Times the memory tier was flushed because Redis or the bus came back; only on Redis-backed caches. */
  l1Flushes?: number;
  /**
   * Whether the bus is subscribed and hears itself; only on caches with a bus. While false and
   * Redis answers, a two-tier cache reads through to Redis instead of serving its memory tier.
   */
  busHealthy?: boolean;
  /** Milliseconds over recent facade calls (sampled). */
  latency: { p50: number; p99: number };
}

/** Counters of one tier, as metrics collectors read them (see `cache.metrics()`). */
export interface TierMetrics {
  /** Lookups this tier answered. */
  hits: number;
  /** Lookups that ended as a miss at this tier, the last one asked (each lookup counts once). */
  misses: number;
  /** Entries this tier removed for room. Memory tier only: Redis' evictions are server-wide (admin `GET /stats`). */
  evictions: number;
  /** `error` events of this tier. */
  errors: number;
  /** Latency of the facade calls this tier answered: one call in 16 timed, each sample weighted by 16. */
  latency: LatencyHistogram;
}

/** Everything metrics collectors read from a cache at scrape time: `cache.metrics()`. */
export interface CacheMetrics {
  /** The cache's `name`, the `cache` label of its metrics. */
  name: string;
  /** `l2` only on Redis-backed caches. */
  tiers: { l1: TierMetrics; l2?: TierMetrics };
  /** `error` events of factories (a failed background refresh, a failure masked by a stale value). */
  factoryErrors: number;
  sets: number;
  deletes: number;
  /** Entries the memory tier dropped at their TTL. */
  expirations: number;
  /** Live entries in memory. */
  size: number;
  /** Bytes accounted in memory, when the memory store has `maxBytes`. */
  bytes?: number;
  /** Whether the Redis tier takes calls; only on Redis-backed caches. */
  l2Available?: boolean;
}

export type { LatencyHistogram };

export interface SetOptions {
  /** Time to live. @default the cache's `defaultTtl` */
  ttl?: Duration | undefined;
  /** Names `invalidateTags` can remove the entry by. Scoped by namespace like keys. */
  tags?: readonly string[] | undefined;
  /** How long past `ttl` the value stays as a fallback for `getOrSet`. @default the cache's `defaultGrace` */
  grace?: Duration | undefined;
}

export interface SetManyEntry<T = unknown> extends SetOptions {
  /** The key, as for `set`. */
  key: string;
  /** The value, as for `set` (`undefined` is a `TypeError`). */
  value: T;
}

export interface FactoryTimeouts {
  /**
   * With a stale value at hand, wait at most this long for the factory, then answer with the stale
   * value while the factory goes on in the background. `0` is stale-while-revalidate. Without a
   * stale value it has no effect.
   */
  soft?: Duration | undefined;
  /**
   * Past this, answer with the stale value if there is one, else reject with `CacheTimeoutError`.
   * `ctx.signal` aborts. A late result still fills the cache unless the key changed meanwhile.
   */
  hard?: Duration | undefined;
}

export interface GetOrSetOptions extends SetOptions {
  /** How long callers wait for the factory: `soft` (answer with the stale value) and `hard` (give up). @default no timeouts */
  timeout?: FactoryTimeouts | undefined;
  /** `false`: skip the distributed lock for this call (when the cache has `distributedLock`). @default true */
  lock?: boolean | undefined;
}

/** What a factory can change about how its result is cached. */
export interface FactoryOptions {
  /** Time to live of this result, e.g. shorter for an empty answer. */
  ttl?: Duration | undefined;
  /** Tags of this result (replacing the call's `tags`). */
  tags?: readonly string[] | undefined;
  /** Grace of this result. */
  grace?: Duration | undefined;
}

/** Passed to the factory of `getOrSet`. */
export interface FactoryContext<T> {
  /** The expired value still inside its grace period, if any. */
  readonly stale: T | undefined;
  /** Aborted when the hard timeout passes. */
  readonly signal: AbortSignal;
  /** Adapts the TTL, tags or grace to the result, e.g. a shorter TTL for an empty answer. */
  setOptions(options: FactoryOptions): void;
  /** Returns the result without caching it. */
  skip(): void;
}

/**
 * What `getOrSet` calls on a miss: returns the value (or a promise of it). `R` is what it returns,
 * `T` the value type its context's `stale` carries (the same unless told otherwise).
 */
export type Factory<T, R = T> = (ctx: FactoryContext<T>) => R | Promise<R>;

/**
 * `T` when a type argument was given (`getOrSet<User>(...)`), else `R`, what the factory returns:
 * so a factory that takes the context still infers its value type.
 */
export type Given<T, R> = [T] extends [never] ? R : T;

/** The result of a batch factory: values in the order of the keys, or keyed by key. */
export type BatchResult<T> = readonly (T | undefined)[] | ReadonlyMap<string, T> | Readonly<Record<string, T>>;
export type BatchFactory<T> = (missingKeys: string[]) => BatchResult<T> | Promise<BatchResult<T>>;

export interface CacheOptions {
  /**
   * Where entries live: a memory store, or a shared one (`redisStore()`), which is then fronted by
   * an in-memory fallback used only while it is unreachable.
   * @default memoryStore() configured from the environment
   */
  store?: Store | undefined;
  /** Memory tier of a two-tier cache. @default memoryStore() */
  l1?: SyncStore | undefined;
  /** Shared tier of a two-tier cache (`redisStore()`). */
  l2?: RemoteStore | undefined;
  /** Keeps the memory tiers of instances sharing `l2` coherent (`redisBus()`). */
  bus?: Bus | undefined;
  /**
   * Longest an L2 call may take, the wait for a connection included; a slower call counts as a
   * failure and the operation goes on from L1 or the factory. @default '50ms'
   */
  l2Timeout?: Duration | undefined;
  /**
   * How long calls may wait for the shared tier's first connection, on top of `l2Timeout`. A Redis
   * a few milliseconds away takes several round trips to connect; without this budget the first
   * calls of a process would miss it. A connection refused or rejected (bad password) ends the
   * wait at once. `cache.ready()` resolves when it is up or this is spent. @default '1s'
   */
  connectTimeout?: Duration | undefined;
  /** When L2 calls stop being tried after repeated failures. @default { failureThreshold: 5, breakDuration: '2s' } */
  circuitBreaker?: CircuitBreakerOptions | undefined;
  /**
   * On a miss, take a short Redis lock so that instances missing the same key run the factory
   * once between them while the others wait for its value; a crashed holder delays the others by
   * at most the lock TTL. `true` uses a TTL of 5 s. @default false
   */
  distributedLock?: boolean | { ttl?: Duration | undefined } | undefined;
  /** How values are encoded for a shared store. @default hoard's codec */
  serializer?: Serializer | undefined;
  /**
   * Key prefix of the cache in shared stores, as `CACHE_KEY_PREFIX`. The cache owns it: stores
   * given to the cache (`store`, `l2`) use it for keys, tag records, locks and the bus channel. A
   * prefix that does not end with `:` gets one (`app` is `app:`), so `clear()` of `app` cannot
   * reach `app2`; an empty prefix is a `ConfigError`. @default 'hoard:'
   */
  namespace?: string | undefined;
  /** Labels metrics and the dashboard. @default 'default' */
  name?: string | undefined;
  /** TTL of entries written without one. @default '5m' */
  defaultTtl?: Duration | undefined;
  /** Grace of entries written without one (fail-safe). @default none */
  defaultGrace?: Duration | undefined;
  /**
   * After a factory failure is masked by a stale value, that stale value is served for this long
   * before the factory is tried again. @default '10s'
   */
  graceBackoff?: Duration | undefined;
  /**
   * The longest `close()` waits for calls to L2 in flight (write-backs of `getOrSet` included)
   * before it closes the connections. @default '1s'
   */
  closeTimeout?: Duration | undefined;
  /** `false`: a pass-through that stores nothing and always runs factories. @default true */
  enabled?: boolean | undefined;
  /** Source of time in milliseconds. */
  clock?: Clock | undefined;
}
