import type { Duration } from '../config/duration.js';

/** A value, or a promise of it: memory stores answer synchronously, remote ones asynchronously. */
export type MaybePromise<T> = T | Promise<T>;

/** What a store can do, declared so the facade and the conformance suite can adapt to it. */
export interface StoreCapabilities {
  /** Methods return values directly (never promises): the store can serve as the memory tier. */
  readonly sync: boolean;
  /** Entries are visible to other processes (Redis): needs serialization and the bus. */
  readonly shared: boolean;
  /** `set` takes `tags` and `invalidateTags` removes by them. */
  readonly tags: boolean;
  /** `deletePattern` is supported. */
  readonly patterns: boolean;
  /** `set` takes `grace` and `getStale` returns entries inside it. */
  readonly grace: boolean;
  /**
   * Tag invalidation is lazy: `invalidateTags` records the invalidation and entries are removed
   * when next read, so the count it returns is a lower bound (0 for entries it never touched).
   */
  readonly lazyTags?: boolean;
}

/** As of when a tagged value is true, for lazy tag invalidation: an absolute store time, or an age. */
export interface WriteStamp {
  /** The store's own clock (µs), as returned by `RemoteStore.time()` when the value's load began. */
  at?: number | undefined;
  /** Milliseconds since the value's load began, when no store time was taken. */
  age?: number | undefined;
}

export interface StoreSetOptions {
  /** Time to live; unset: the store's default. `Infinity`: no expiry. */
  ttl?: Duration | undefined;
  /** How long past `ttl` the entry stays available to `getStale`. */
  grace?: Duration | undefined;
  /** Names `invalidateTags` can remove the entry by. */
  tags?: readonly string[] | undefined;
}

export interface StoreEntry<V> {
  key: string;
  value: V;
  ttl?: Duration | undefined;
  tags?: readonly string[] | undefined;
}

/** An entry found by `getStale`: `stale` is true once its TTL passed (it is inside its grace). */
export interface StaleEntry<V> {
  value: V;
  stale: boolean;
}

/**
 * The contract every store implements (memory now; Redis and tiers build on it). Keys given to a
 * store are final: namespaces and prefixes are applied by the facade. Every store passes the
 * conformance suite in `test/stores/conformance.ts`.
 */
export interface Store<V = unknown> {
  readonly capabilities: StoreCapabilities;
  get(key: string): MaybePromise<V | undefined>;
  getStale(key: string): MaybePromise<StaleEntry<V> | undefined>;
  has(key: string): MaybePromise<boolean>;
  ttl(key: string): MaybePromise<number | undefined>;
  set(key: string, value: V, options?: StoreSetOptions): MaybePromise<void>;
  delete(key: string): MaybePromise<boolean>;
  incr(key: string, by?: number): MaybePromise<number>;
  getMany(keys: readonly string[]): MaybePromise<(V | undefined)[]>;
  setMany(entries: readonly StoreEntry<V>[]): MaybePromise<void>;
  deleteMany(keys: readonly string[]): MaybePromise<number>;
  deletePattern(glob: string): MaybePromise<number>;
  invalidateTags(tags: readonly string[]): MaybePromise<number>;
  clear(): MaybePromise<void>;
  close(): MaybePromise<void>;
}

/** A store that answers synchronously: the memory tier of a cache. */
export interface SyncStore<V = unknown> extends Store<V> {
  readonly size: number;
  get(key: string): V | undefined;
  getStale(key: string): StaleEntry<V> | undefined;
  has(key: string): boolean;
  ttl(key: string): number | undefined;
  set(key: string, value: V, options?: StoreSetOptions): void;
  /** `set` with arguments already parsed (ms; undefined or Infinity: no expiry). */
  write(key: string, value: V, ttl: number | undefined, grace: number, tags: readonly string[] | undefined): void;
  delete(key: string): boolean;
  incr(key: string, by?: number): number;
  getMany(keys: readonly string[]): (V | undefined)[];
  setMany(entries: readonly StoreEntry<V>[]): void;
  deleteMany(keys: readonly string[]): number;
  deletePattern(glob: string): number;
  invalidateTags(tags: readonly string[]): number;
  clear(): void;
  close(): void;
}

/** An entry read from a shared store, with what the memory tier needs to hold a copy of it. */
export interface RemoteEntry<V = unknown> {
  value: V;
  /** True once the TTL passed (the entry is inside its grace). */
  stale: boolean;
  /** Ms until the value turns stale; undefined: never. */
  freshFor: number | undefined;
  tags: readonly string[] | undefined;
}

/**
 * A store in another process (Redis): what a cache needs to use it as its shared tier. The cache
 * bounds every call with `l2Timeout` and a circuit breaker; the store itself never waits forever
 * and never queues commands while disconnected.
 */
export interface RemoteStore<V = unknown> extends Store<V> {
  readonly serializer: { encode(value: unknown): string; decode(text: string): unknown };
  /** Whether the connection is up. */
  readonly ready: boolean;
  /**
   * Set when the store can never work, as opposed to a connection that is down for now: a store
   * whose module could not be loaded (the Redis client is not installed). `cache.ready()` rejects with it.
   */
  readonly failure?: Error | undefined;
  /**
   * A counter that moves whenever the connection receives data. A call that passes its deadline
   * while it moves met a busy link (a large reply, a burst), not a dead one: it does not count
   * against the circuit breaker.
   */
  readonly activity: number;
  /**
   * Called once by the cache that uses the store, with the cache's key prefix: the cache owns the
   * prefix, and every key, internal key and pattern of the store lives under it.
   */
  bind(prefix: string): void;
  /** The store's clock in µs, taken when a `getOrSet` run begins (see {@link WriteStamp}). */
  time(): Promise<number>;
  get(key: string): Promise<V | undefined>;
  getStale(key: string): Promise<StaleEntry<V> | undefined>;
  has(key: string): Promise<boolean>;
  ttl(key: string): Promise<number | undefined>;
  set(key: string, value: V, options?: StoreSetOptions): Promise<void>;
  delete(key: string): Promise<boolean>;
  incr(key: string, by?: number): Promise<number>;
  getMany(keys: readonly string[]): Promise<(V | undefined)[]>;
  setMany(entries: readonly StoreEntry<V>[]): Promise<void>;
  deleteMany(keys: readonly string[]): Promise<number>;
  deletePattern(glob: string): Promise<number>;
  invalidateTags(tags: readonly string[]): Promise<number>;
  clear(): Promise<void>;
  close(): Promise<void>;
  getEntry(key: string): Promise<RemoteEntry<V> | undefined>;
  getEntries(keys: readonly string[]): Promise<(RemoteEntry<V> | undefined)[]>;
  /** `set` of a payload the cache already encoded (so a serialization error writes nothing anywhere). */
  write(key: string, payload: string, ttl: number | undefined, grace: number, tags: readonly string[] | undefined, stamp?: WriteStamp): Promise<void>;
  /** Resolves once the connection is ready (or rejects when `signal` aborts). */
  whenReady(signal: AbortSignal): Promise<void>;
  /** A cheap round trip, used by the circuit breaker's probe. */
  ping(): Promise<void>;
  /**
   * Drops the connection and reconnects (only one the store opened): commands stuck on a hung
   * link fail now instead of holding up the ones behind them. Called when the breaker opens.
   */
  reset(): void;
  /** Takes the lock of `key` for `ttl` ms; resolves to a token if taken, undefined if held by someone else. */
  lock(key: string, ttl: number): Promise<string | undefined>;
  /** Releases a lock taken with `token` (a lock that expired and was taken by another is left alone). */
  unlock(key: string, token: string): Promise<void>;
  onError(listener: (error: Error) => void): () => void;
  /** Called with false when the connection drops and true when it is ready again. */
  onStatus(listener: (ready: boolean) => void): () => void;
}
