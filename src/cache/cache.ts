import type { BusMessage } from '../bus/bus.js';
import type { RemoteEntry } from '../stores/store.js';
import { chunksOf, UNAVAILABLE } from '../tiers/remote-tier.js';
import { CacheClosedError } from '../errors/cache-closed-error.js';
import { StoreError } from '../errors/store-error.js';
import { checkGlob, escapeGlob } from '../util/glob.js';
import { describeValue } from '../util/describe.js';
import { applyToStore, CacheCore } from './core.js';
import { PEEK_MEMORY } from './peek.js';
import type { LoadOptions } from './get-or-set.js';
import { load, loadMany, readRemote, readRemoteMany } from './get-or-set.js';
import type {
  BatchFactory,
  CacheEventName,
  CacheEvents,
  CacheMetrics,
  CacheOptions,
  CacheStats,
  Factory,
  Given,
  GetOrSetOptions,
  SetManyEntry,
  SetOptions,
} from './types.js';
import { checkKey, checkKeys, checkNamespaceName, durationMs, scopeTags, timeoutMs } from './validate.js';

/**
 * The facade: one API over the memory store, Redis, and two tiers. A `Cache` is either the root
 * or a namespace view of it; views share the root's tiers, stats, listeners and in-flight runs,
 * and prefix keys, tags and patterns with their path (`t1:`).
 *
 * Hot path: `get` and the hit of `getOrSet` validate the key, look it up synchronously in memory
 * and count the hit; the only promise is the one `async` returns. Only a memory miss goes on to
 * the shared tier, every call there bounded by `l2Timeout` and the circuit breaker.
 */
export class Cache {
  readonly #core: CacheCore;
  readonly #prefix: string;
  readonly #defaults: LoadOptions;

  constructor(options: CacheOptions = {}) {
    if (viewing !== undefined) {
      this.#core = viewing.core;
      this.#prefix = viewing.prefix;
      viewing = undefined;
    } else {
      this.#core = new CacheCore(options);
      this.#prefix = '';
    }
    this.#defaults = { ttl: this.#core.defaultTtl, grace: this.#core.defaultGrace, tags: undefined, soft: undefined, hard: Infinity, lock: true };
  }

  /** The name that labels metrics and the dashboard. */
  get name(): string {
    return this.#core.name;
  }

  /** The namespace path of this view (`''` for the root, `t1:` for `namespace('t1')`). */
  get path(): string {
    return this.#prefix;
  }

  /**
   * Whether the cache caches: false after `disable()` or with `enabled: false` (`CACHE_ENABLED=false`).
   * Shared by the root and every namespace view.
   */
  get enabled(): boolean {
    return this.#core.enabled;
  }

  /** Turns caching back on after `disable()`: reads find what the tiers kept meanwhile. */
  enable(): void {
    this.#core.enabled = true;
  }

  /**
   * Makes the cache a pass-through at run time, as `enabled: false` does at creation: reads miss,
   * `getOrSet` always runs the factory, nothing is stored. What the tiers hold is kept for
   * `enable()`, and kept true: a `set` while disabled removes the key's entry, and deletes, patterns,
   * tags and `clear()` still apply, in every tier and (through the bus) every instance. `incr`
   * counts nothing (it returns `by`). Applies to the root and every namespace view.
   * @example
   * cache.disable(); // e.g. while debugging a stale-data report
   * await cache.getOrSet('user:1', loadUser); // always loadUser()
   * cache.enable();
   */
  disable(): void {
    this.#core.enabled = false;
  }

  /**
   * The value of `key`, or `undefined` when it is absent or expired (a value inside its grace
   * period counts as absent here; only `getOrSet` serves it). Memory first, then Redis.
   * Counts a hit or a miss. `T` is not checked: it is what you say the value is.
   * @example const user = await cache.get<User>('user:1');
   */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    if (this.#core.closed) throw new CacheClosedError('get');
    checkKey(key);
    const k = this.#prefix === '' ? key : this.#prefix + key;
    const core = this.#core;
    if (!core.enabled) {
      this.#miss(k, 'l1');
      return undefined;
    }
    // One call in sixteen is timed for stats().latency; the others never read the clock.
    if (core.latency.sample()) return this.#timed(() => this.#get<T>(k));
    return this.#get<T>(k);
  }

  #get<T>(k: string): T | undefined | Promise<T | undefined> {
    const core = this.#core;
    if (core.remote === undefined) return this.#lookup(k) as T | undefined;
    const value = core.l1.get(k);
    if (value !== undefined) return this.#hit(k, value, 'l1') as T;
    return this.#remoteGet<T>(k);
  }

  async #timed<R>(run: () => R | Promise<R>): Promise<R> {
    const started = performance.now();
    // A call answered synchronously never left memory; one that returned a promise went to L2.
    let tier: 0 | 1 = 0;
    try {
      const result = run();
      if (!(result instanceof Promise)) return result;
      if (this.#core.remote !== undefined) tier = 1;
      return await result;
    } finally {
      this.#core.latency.record(performance.now() - started, tier);
    }
  }

  /**
   * Stores `value` under `key` in every tier and tells the other instances. `null` is a value;
   * `undefined` is a `TypeError` (use `delete`). A value Redis cannot hold (a function, a class
   * instance with methods) is a `SerializationError` and nothing is written anywhere. After
   * `await set()` with Redis up, the value is in Redis.
   * @param options `ttl` (default: the cache's `defaultTtl`), `tags`, `grace`.
   * @example await cache.set('user:1', user, { ttl: '10m', tags: ['users', 'tenant:7'] });
   */
  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    if (this.#core.closed) throw new CacheClosedError('set');
    checkKey(key);
    if (value === undefined) throw new TypeError(`set: undefined cannot be cached (key "${key}"); use delete() or null`);
    const k = this.#prefix === '' ? key : this.#prefix + key;
    const o = options === undefined ? this.#defaults : this.#entryOptions(options);
    // Disabled: nothing is stored, and what was stored under the key is no longer true.
    if (!this.#core.enabled) return void (await this.#deleteKeys([k]));
    if (this.#core.remote === undefined) return this.#write(k, value, o.ttl, o.grace, o.tags);
    const payload = this.#core.serializer.encode(value); // a SerializationError writes nothing anywhere
    await this.#writeTiers([{ k, value, payload, o }]);
  }

  /**
   * Removes `key` from every tier (and from every instance's memory through the bus); a removed
   * value is never served as stale. Resolves to whether something was removed.
   */
  async delete(key: string): Promise<boolean> {
    if (this.#core.closed) throw new CacheClosedError('delete');
    checkKey(key);
    return (await this.#deleteKeys([this.#prefix + key])) > 0;
  }

  /** Whether `key` holds a live (unexpired) value. Counts neither a hit nor a miss. */
  async has(key: string): Promise<boolean> {
    if (this.#core.closed) throw new CacheClosedError('has');
    checkKey(key);
    const k = this.#prefix + key;
    const core = this.#core;
    if (!core.enabled) return false;
    if (core.l1.has(k)) return true;
    if (core.remote === undefined) return false;
    const r = await core.remote.run('has', k, (s) => s.has(k));
    return r === UNAVAILABLE ? false : r;
  }

  /**
   * Milliseconds `key` has left before it expires: `Infinity` without expiry, `undefined` when
   * absent. Counts neither a hit nor a miss.
   */
  async ttl(key: string): Promise<number | undefined> {
    if (this.#core.closed) throw new CacheClosedError('ttl');
    checkKey(key);
    const k = this.#prefix + key;
    const core = this.#core;
    if (!core.enabled) return undefined;
    const local = core.l1.ttl(k);
    if (local !== undefined || core.remote === undefined) return local;
    const r = await core.remote.run('ttl', k, (s) => s.ttl(k));
    return r === UNAVAILABLE ? undefined : r;
  }

  /** Adds `by` atomically (across processes on Redis; in memory while Redis is away). */
  async incr(key: string, by = 1): Promise<number> {
    if (this.#core.closed) throw new CacheClosedError('incr');
    checkKey(key);
    if (typeof by !== 'number' || !Number.isFinite(by)) throw new TypeError(`incr: by must be a finite number, got ${describeValue(by)}`);
    const k = this.#prefix + key;
    const core = this.#core;
    if (!core.enabled) return by; // a pass-through counts nothing: a fresh counter each time
    core.touched(k);
    let next: number;
    const remote = core.remote === undefined ? UNAVAILABLE : await core.remote.run('incr', k, (s) => s.incr(k, by));
    if (remote === UNAVAILABLE) {
      next = core.l1.incr(k, by);
    } else {
      next = remote;
      core.l1.delete(k); // the memory copy is now behind; the next read refreshes it
      core.publish({ type: 'keys', keys: [k] });
    }
    core.sets++;
    if (core.emitter.has('set')) core.emitter.emit('set', { key: k, tier: remote === UNAVAILABLE ? 'l1' : 'l2' });
    return next;
  }

  /**
   * The values of `keys`, in order (`undefined` for each absent one). What memory lacks is read
   * from Redis in one round trip (MGET; per hash slot on a cluster).
   */
  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    if (this.#core.closed) throw new CacheClosedError('getMany');
    checkKeys(keys, 'getMany');
    const core = this.#core;
    const out = new Array<T | undefined>(keys.length);
    if (!core.enabled) {
      for (const key of keys) this.#miss(this.#prefix + key, 'l1');
      return out.fill(undefined);
    }
    if (core.remote === undefined) {
      for (let i = 0; i < keys.length; i++) out[i] = this.#lookup(this.#prefix + keys[i]!) as T | undefined;
      return out;
    }
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const k = this.#prefix + keys[i]!;
      const value = core.l1.get(k);
      if (value !== undefined) out[i] = this.#hit(k, value, 'l1') as T;
      else missing.push(i);
    }
    if (missing.length === 0) return out;
    const full = missing.map((i) => this.#prefix + keys[i]!);
    const entries = await readRemoteMany(core, full);
    missing.forEach((i, j) => {
      const entry = entries[j];
      if (entry !== undefined && !entry.stale) {
        core.l2Hits++;
        out[i] = this.#hit(full[j]!, entry.value, 'l2') as T;
      } else {
        out[i] = undefined;
        this.#miss(full[j]!, 'l2');
      }
    });
    return out;
  }

  /**
   * Stores many entries, each with its own `ttl` and `tags`, in one round trip on Redis. Every
   * entry is checked (and serialized) first: one bad entry writes nothing at all.
   * @example await cache.setMany([{ key: 'a', value: 1 }, { key: 'b', value: 2, ttl: '1m', tags: ['t'] }]);
   */
  async setMany(entries: readonly SetManyEntry[]): Promise<void> {
    if (this.#core.closed) throw new CacheClosedError('setMany');
    if (!Array.isArray(entries)) throw new TypeError('setMany: entries must be an array of { key, value, ttl?, tags? }');
    const core = this.#core;
    // Validate (and encode) everything first: bad input writes nothing.
    const parsed = entries.map((entry: SetManyEntry) => {
      if (typeof entry !== 'object' || entry === null) throw new TypeError('setMany: each entry must be an object');
      checkKey(entry.key);
      if (entry.value === undefined) throw new TypeError(`setMany: undefined cannot be cached (key "${entry.key}")`);
      const payload = core.remote === undefined ? '' : core.serializer.encode(entry.value);
      return { k: this.#prefix + entry.key, value: entry.value, payload, o: this.#entryOptions(entry) };
    });
    if (!core.enabled) return void (await this.#deleteKeys(parsed.map((e) => e.k)));
    if (core.remote === undefined) {
      for (const { k, value, o } of parsed) this.#write(k, value, o.ttl, o.grace, o.tags);
      return;
    }
    await this.#writeTiers(parsed);
  }

  /** Removes `keys` from every tier; resolves to the number of distinct entries removed. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    if (this.#core.closed) throw new CacheClosedError('deleteMany');
    checkKeys(keys, 'deleteMany');
    return this.#deleteKeys([...new Set(keys)].map((k) => this.#prefix + k));
  }

  /**
   * Cache-aside: the value of `key`, or the factory's result, stored. Concurrent calls for a key
   * run the factory once; `grace` and `timeout` make it fail-safe (see the README).
   *
   * The value type is what the factory returns, also when the factory takes the context:
   * `getOrSet('user:1', async (ctx) => loadUser(1))` is a `Promise<User>`. Give it explicitly
   * (`getOrSet<User>(...)`) to type `ctx.stale` as well.
   * @example
   * const user = await cache.getOrSet(`user:${id}`, () => db.users.find(id), { ttl: '5m', tags: ['users'] });
   */
  async getOrSet<T = never, R = T>(key: string, factory: Factory<Given<T, unknown>, R>, options?: GetOrSetOptions): Promise<Given<T, R>> {
    if (this.#core.closed) throw new CacheClosedError('getOrSet');
    checkKey(key);
    if (typeof factory !== 'function') throw new TypeError('getOrSet: factory must be a function');
    const resolved = options === undefined ? this.#defaults : this.#loadOptions(options);
    const k = this.#prefix === '' ? key : this.#prefix + key;
    const core = this.#core;
    const value = core.enabled ? core.l1.get(k) : undefined;
    if (value !== undefined) return this.#memoryHit(k, value) as Given<T, R>;
    // With a shared tier, load() counts the hit or miss once it knows whether L2 had the value.
    if (core.remote === undefined) this.#miss(k, 'l1');
    const run = factory as Factory<Given<T, R>>; // the value type is the factory's own
    if (core.latency.sample()) return this.#timed(() => load(core, k, this.#prefix, run, resolved));
    return load(core, k, this.#prefix, run, resolved);
  }

  /**
   * The values of `keys` in order; the missing ones come from one call of `factory` with the
   * array of missing keys (none: no call).
   */
  async getOrSetMany<T>(keys: readonly string[], factory: BatchFactory<T>, options?: GetOrSetOptions): Promise<(T | undefined)[]> {
    if (this.#core.closed) throw new CacheClosedError('getOrSetMany');
    checkKeys(keys, 'getOrSetMany');
    if (typeof factory !== 'function') throw new TypeError('getOrSetMany: factory must be a function');
    const resolved = options === undefined ? this.#defaults : this.#loadOptions(options);
    const started = performance.now();
    try {
      // In memory the lookup stays synchronous, so runs start before any concurrent getOrSet can.
      const values = this.#core.remote === undefined || !this.#core.enabled ? keys.map((k) => this.#lookup(this.#prefix + k) as T | undefined) : await this.getMany<T>(keys);
      const missing = new Map<string, string>(); // full key -> user key, deduplicated
      for (let i = 0; i < keys.length; i++) if (values[i] === undefined) missing.set(this.#prefix + keys[i]!, keys[i]!);
      if (missing.size === 0) return values;
      const loaded = await loadMany<T>(this.#core, [...missing.keys()], [...missing.values()], this.#prefix, factory, resolved);
      const byKey = new Map<string, T | undefined>();
      let j = 0;
      for (const userKey of missing.values()) byKey.set(userKey, loaded[j++]);
      for (let i = 0; i < keys.length; i++) if (values[i] === undefined) values[i] = byKey.get(keys[i]!);
      return values;
    } finally {
      // Timed on every call, so each sample stands for one call.
      this.#core.latency.record(performance.now() - started, this.#core.remote === undefined ? 0 : 1, 1);
    }
  }

  /** Removes the keys of this namespace matching a Redis-style glob (`*`, `?`, `[...]`). */
  async deletePattern(glob: string): Promise<number> {
    if (this.#core.closed) throw new CacheClosedError('deletePattern');
    checkGlob(glob, 'deletePattern');
    return this.#invalidate({ type: 'pattern', pattern: escapeGlob(this.#prefix) + glob }, 'deletePattern');
  }

  /** Removes every entry set with any of `tags` (scoped to this namespace). */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    if (this.#core.closed) throw new CacheClosedError('invalidateTags');
    const scoped = scopeTags(tags, this.#prefix);
    if (scoped === undefined) throw new TypeError('invalidateTags: expected an array of tags');
    return this.#invalidate({ type: 'tags', tags: scoped }, 'invalidateTags');
  }

  /** Removes every entry of this namespace (the root: of the whole cache, never the whole Redis). */
  async clear(): Promise<void> {
    if (this.#core.closed) throw new CacheClosedError('clear');
    const prefix = this.#prefix;
    await this.#invalidate({ type: 'clear', path: prefix }, 'clear');
  }

  /** A view whose keys, tags, patterns and `clear()` stay inside `name` (tenant isolation). */
  namespace(name: string): Cache {
    checkNamespaceName(name);
    viewing = { core: this.#core, prefix: `${this.#prefix}${name}:` };
    return new Cache();
  }

  /**
   * Counters since creation: hits, misses, hit rate, sets, deletes, evictions, expirations,
   * errors, size (memory entries), bytes (with `maxBytes`), L2 and bus state, and p50/p99 latency
   * in milliseconds over recent calls. Synchronous and cheap.
   */
  stats(): CacheStats {
    const core = this.#core;
    const l1 = core.l1 as { evictions?: number; expirations?: number; bytes?: number; maxBytes?: number };
    const asked = core.hits + core.misses;
    const stats: CacheStats = {
      hits: core.hits,
      misses: core.misses,
      hitRate: asked === 0 ? 0 : core.hits / asked,
      sets: core.sets,
      deletes: core.deletes,
      evictions: l1.evictions ?? 0,
      expirations: l1.expirations ?? 0,
      errors: core.errors,
      size: core.l1.size,
      latency: core.latency.percentiles(),
    };
    if (l1.maxBytes !== undefined && l1.bytes !== undefined) stats.bytes = l1.bytes;
    if (core.remote !== undefined) {
      stats.l2Available = core.remote.available;
      if (!core.remote.available && core.lastL2Error !== undefined) stats.l2Error = core.lastL2Error;
      stats.l1Flushes = core.l1Flushes;
    }
    if (core.bus !== undefined) stats.busHealthy = core.bus.healthy;
    return stats;
  }

  /** Listens to an event; returns a function that removes the listener. */
  on<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    const core = this.#core;
    const off = core.emitter.on(event, listener);
    if (event === 'evict' || event === 'expire') bridgeStoreEvents(core);
    return off;
  }

  /**
   * Resolves when Redis is connected and the bus hears itself, or when connecting failed or
   * `connectTimeout` (1 s) is spent (`stats().l2Available` says which): Redis being down is not an
   * error. It rejects only with a `ConfigError` when the Redis backend cannot work at all (the
   * `ioredis` package is not installed). A memory cache is ready at once. Await it before serving
   * traffic to start with warm connections.
   */
  ready(): Promise<void> {
    return this.#core.ready();
  }

  /**
   * Waits up to `closeTimeout` for calls to Redis in flight (write-backs included), then stops
   * timers and closes the connections the cache opened (a client passed in stays open).
   * Idempotent; afterwards every method rejects with `CacheClosedError` (`HOARD_CLOSED`).
   */
  close(): Promise<void> {
    return this.#core.close();
  }

  /**
   * What metrics collectors read at scrape time (`prometheusMetrics`, the OpenTelemetry binding,
   * the admin API): hits, misses, evictions and errors per tier, and latency histograms. Every
   * lookup counts once, at the tier that answered it (a miss at the last tier asked), so the tiers
   * add up to `stats().hits` and `stats().misses`. Reading it costs a few small allocations and
   * nothing is counted for it on the hot path beyond what `stats()` already counts.
   * Shared by the root and every namespace view.
   * @example
   * const { tiers } = cache.metrics();
   * const l1HitRatio = tiers.l1.hits / (cache.stats().hits + cache.stats().misses);
   */
  metrics(): CacheMetrics {
    const core = this.#core;
    const l1 = core.l1 as { evictions?: number; expirations?: number; bytes?: number; maxBytes?: number };
    const metrics: CacheMetrics = {
      name: core.name,
      tiers: {
        l1: {
          hits: core.hits - core.l2Hits,
          misses: core.misses - core.l2Misses,
          evictions: l1.evictions ?? 0,
          errors: core.errors - core.l2Errors - core.factoryErrors,
          latency: core.latency.histogram(0),
        },
      },
      factoryErrors: core.factoryErrors,
      sets: core.sets,
      deletes: core.deletes,
      expirations: l1.expirations ?? 0,
      size: core.l1.size,
    };
    if (l1.maxBytes !== undefined && l1.bytes !== undefined) metrics.bytes = l1.bytes;
    if (core.remote !== undefined) {
      metrics.tiers.l2 = { hits: core.l2Hits, misses: core.l2Misses, evictions: 0, errors: core.l2Errors, latency: core.latency.histogram(1) };
      metrics.l2Available = core.remote.available;
    }
    return metrics;
  }

  /** @internal The shared state behind a cache or view, for the admin API (key inspection, key listing, Redis figures). */
  static coreOf(cache: Cache): CacheCore {
    return cache.#core;
  }

  /**
   * @internal The value of `key` when the memory tier holds it and `accept(value, now)` takes it, read without
   * waiting and counted as the hit a `getOrSet` would count; undefined otherwise (closed, disabled,
   * not in memory, refused), and then nothing is counted. The response cache's hit path. A symbol
   * method, so the default cache's proxy forwards it like any other.
   */
  [PEEK_MEMORY]<V>(key: string, accept: (value: unknown, now: number) => value is V, now: number): V | undefined {
    const core = this.#core;
    if (core.closed || !core.enabled) return undefined;
    const k = this.#prefix === '' ? key : this.#prefix + key;
    const value = core.l1.get(k);
    if (value === undefined || !accept(value, now)) return undefined;
    this.#memoryHit(k, value);
    return value;
  }

  /** @internal Test hook: sizes of the bounded auxiliary structures. */
  static internals(cache: Cache): { flights: number; reads: number; backoff: number } {
    const core = cache.#core;
    return { flights: core.flights.size, reads: core.reads.size, backoff: core.backoff.size };
  }

  // ----------------------------------------------------------------------------------------------

  #lookup(k: string): unknown {
    const value = this.#core.enabled ? this.#core.l1.get(k) : undefined;
    if (value !== undefined) return this.#hit(k, value, 'l1');
    this.#miss(k, 'l1');
    return undefined;
  }

  /** A `getOrSet` hit in the memory tier: counted, and its latency sampled as 0. */
  #memoryHit(k: string, value: unknown): unknown {
    // A memory hit takes well under the microsecond stats() resolves, so it is sampled as 0.
    if (this.#core.latency.sample()) this.#core.latency.record(0);
    return this.#hit(k, value, 'l1');
  }

  #hit(k: string, value: unknown, tier: 'l1' | 'l2'): unknown {
    const core = this.#core;
    core.hits++;
    if (core.emitter.lists.hit.length !== 0) core.emitter.emit('hit', { key: k, tier });
    return value;
  }

  #miss(k: string, tier: 'l1' | 'l2'): void {
    const core = this.#core;
    core.misses++;
    if (tier === 'l2') core.l2Misses++;
    if (core.emitter.lists.miss.length !== 0) core.emitter.emit('miss', { key: k, tier });
  }

  async #remoteGet<T>(k: string): Promise<T | undefined> {
    const entry: RemoteEntry | undefined = await readRemote(this.#core, k);
    if (entry !== undefined && !entry.stale) {
      this.#core.l2Hits++;
      return this.#hit(k, entry.value, 'l2') as T;
    }
    this.#miss(k, 'l2');
    return undefined;
  }

  #write(k: string, value: unknown, ttl: number | undefined, grace: number, tags: readonly string[] | undefined): void {
    const core = this.#core;
    core.touched(k);
    core.l1.write(k, value, ttl, grace, tags);
    core.sets++;
    if (core.emitter.lists.set.length !== 0) core.emitter.emit('set', { key: k, tier: 'l1' });
  }

  /**
   * Writes to both tiers: L1 at once (in a Redis-only cache, only if Redis cannot take the write),
   * then L2, in chunks each bounded by `l2Timeout`, then tells the other instances. Each key is
   * one command in L2, so the writes land in the order they were issued. When Redis refuses the
   * write (OOM, NOPERM), the memory copies go too and the call rejects with `StoreError`: no
   * instance may serve a value Redis does not hold while Redis is up.
   */
  async #writeTiers(entries: readonly { k: string; value: unknown; payload: string; o: LoadOptions }[]): Promise<void> {
    const core = this.#core;
    const remote = core.remote!;
    for (const { k, value, o } of entries) {
      core.touched(k);
      if (core.tiered || !remote.available) core.l1.write(k, value, o.ttl, o.grace, o.tags);
      else core.l1.delete(k);
    }
    const key = entries.length === 1 ? entries[0]!.k : undefined;
    const operation = entries.length === 1 ? 'set' : 'setMany';
    let unavailable = false;
    let failure: StoreError | undefined;
    for (const chunk of chunksOf(entries)) {
      try {
        const r = await remote.run(operation, key, (s) => Promise.all(chunk.map(({ k, payload, o }) => s.write(k, payload, o.ttl, o.grace, o.tags))));
        const keys = chunk.map((e) => e.k);
        if (r === UNAVAILABLE) {
          unavailable = true;
          core.missedInL2({ type: 'keys', keys });
        } else {
          core.reachedL2(keys);
        }
      } catch (error) {
        if (!(error instanceof StoreError)) throw error;
        failure ??= error;
        for (const { k } of chunk) core.l1.delete(k);
      }
    }
    if (unavailable && !core.tiered) {
      // Redis-only: while Redis is away the in-memory fallback serves.
      for (const { k, value, o } of entries) core.l1.write(k, value, o.ttl, o.grace, o.tags);
    }
    core.publish({ type: 'keys', keys: entries.map((e) => e.k) });
    if (failure !== undefined) throw failure;
    core.sets += entries.length;
    if (core.emitter.has('set')) {
      for (const { k } of entries) core.emitter.emit('set', { key: k, tier: unavailable ? 'l1' : 'l2' });
    }
  }

  async #deleteKeys(keys: readonly string[]): Promise<number> {
    const core = this.#core;
    const local = new Set<string>();
    for (const k of keys) {
      core.touched(k);
      if (core.l1.delete(k)) local.add(k);
    }
    let removed = local.size;
    if (core.remote !== undefined && keys.length !== 0) {
      const remote = core.remote;
      let inL2 = 0;
      let answered = false;
      try {
        for (const chunk of chunksOf(keys)) {
          const r = await remote.run(keys.length === 1 ? 'delete' : 'deleteMany', keys.length === 1 ? keys[0] : undefined, (s) => s.deleteMany(chunk));
          if (r !== UNAVAILABLE) {
            answered = true;
            inL2 += r;
            core.reachedL2(chunk);
          } else {
            core.missedInL2({ type: 'keys', keys: [...chunk] });
          }
        }
      } finally {
        core.publish({ type: 'keys', keys: [...keys] });
      }
      if (answered) removed = Math.max(removed, inL2);
    }
    core.deletes += removed;
    if (removed !== 0 && core.emitter.has('delete')) {
      if (core.remote === undefined) for (const k of local) core.emitter.emit('delete', { key: k, tier: 'l1' });
      else for (const k of keys) core.emitter.emit('delete', { key: k, tier: 'l2' });
    }
    return removed;
  }

  /**
   * A bulk invalidation: memory first (so no run in flight stores the old value back), then L2,
   * then the other instances. Counts distinct entries: L1 mostly mirrors L2, so the larger count.
   * When Redis refuses the call (a denied SCAN), the other instances are still told and the call
   * rejects with `StoreError`: it could not do its job.
   */
  async #invalidate(message: BusMessage, operation: string): Promise<number> {
    const core = this.#core;
    // Tags go to L2 in parts, each with its own l2Timeout; the other invalidations are one call.
    const parts = message.type === 'tags' ? chunksOf(message.tags).map((tags): BusMessage => ({ type: 'tags', tags: [...tags] })) : [message];
    const local = core.dropLocal(message);
    let removed = local;
    if (core.remote !== undefined) {
      try {
        let inL2 = 0;
        let answered = false;
        let missed = false;
        for (const part of parts) {
          const r = await core.remote.run(operation, undefined, (s) => applyToStore(s, part));
          if (r === UNAVAILABLE) {
            missed = true;
            continue;
          }
          answered = true;
          inL2 += r;
        }
        if (missed) core.missedInL2(message);
        if (answered) removed = Math.max(local, inL2);
      } finally {
        core.publish(message);
      }
    }
    core.deletes += removed;
    return removed;
  }

  #entryOptions(options: SetOptions): LoadOptions {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    const d = this.#defaults;
    return {
      ttl: options.ttl === undefined ? d.ttl : finite(durationMs(options.ttl, 'ttl')),
      grace: options.grace === undefined ? d.grace : durationMs(options.grace, 'grace'),
      tags: scopeTags(options.tags, this.#prefix),
      soft: undefined,
      hard: Infinity,
      lock: true,
    };
  }

  #loadOptions(options: GetOrSetOptions): LoadOptions {
    const resolved = this.#entryOptions(options);
    if (options.lock !== undefined) {
      if (typeof options.lock !== 'boolean') throw new TypeError('lock must be true or false');
      resolved.lock = options.lock;
    }
    const timeout = options.timeout;
    if (timeout !== undefined) {
      if (typeof timeout !== 'object' || timeout === null) throw new TypeError('timeout must be an object { soft?, hard? }');
      if (timeout.soft !== undefined) resolved.soft = timeoutMs(timeout.soft, 'timeout.soft');
      if (timeout.hard !== undefined) resolved.hard = durationMs(timeout.hard, 'timeout.hard');
    }
    return resolved;
  }
}

function finite(ms: number): number | undefined {
  return ms === Infinity ? undefined : ms;
}

/** Set by `namespace()` just before it constructs a view, so views share their root's core. */
let viewing: { core: CacheCore; prefix: string } | undefined;

const bridged = new WeakSet<CacheCore>();

/** Forwards the memory store's evict and expire events, once someone listens for them. */
function bridgeStoreEvents(core: CacheCore): void {
  if (bridged.has(core)) return;
  const store = core.l1 as {
    on?: (event: 'evict' | 'expire', listener: (e: { key: string; reason: string }) => void) => () => void;
  };
  if (typeof store.on !== 'function') return;
  bridged.add(core);
  store.on('evict', (e) => core.emitter.emit('evict', { key: e.key, tier: 'l1', reason: e.reason as 'capacity' }));
  store.on('expire', (e) => core.emitter.emit('expire', { key: e.key, tier: 'l1', reason: 'ttl' }));
}
