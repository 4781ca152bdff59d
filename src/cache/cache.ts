import { escapeGlob, globToRegExp } from '../util/glob.js';
import { CacheCore } from './core.js';
import type { LoadOptions } from './get-or-set.js';
import { load, loadMany } from './get-or-set.js';
import type {
  BatchFactory,
  CacheEventName,
  CacheEvents,
  CacheOptions,
  CacheStats,
  Factory,
  GetOrSetOptions,
  SetManyEntry,
  SetOptions,
} from './types.js';
import { checkKey, checkKeys, checkNamespaceName, durationMs, scopeTags, timeoutMs } from './validate.js';

/**
 * The facade: one API over the memory store (and, through `hoard/redis`, Redis and two tiers).
 * A `Cache` is either the root or a namespace view of it; views share the root's stores, stats,
 * listeners and in-flight runs, and prefix keys, tags and patterns with their path (`t1:`).
 *
 * Hot path: `get` and the hit of `getOrSet` validate the key, look it up synchronously in memory
 * and count the hit; the only promise is the one `async` returns.
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
    this.#defaults = { ttl: this.#core.defaultTtl, grace: this.#core.defaultGrace, tags: undefined, soft: undefined, hard: Infinity };
  }

  /** The name that labels metrics and the dashboard. */
  get name(): string {
    return this.#core.name;
  }

  /** The namespace path of this view (`''` for the root, `t1:` for `namespace('t1')`). */
  get path(): string {
    return this.#prefix;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    checkKey(key);
    return this.#lookup(this.#prefix === '' ? key : this.#prefix + key) as T | undefined;
  }

  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    checkKey(key);
    if (value === undefined) throw new TypeError(`set: undefined cannot be cached (key "${key}"); use delete() or null`);
    const k = this.#prefix === '' ? key : this.#prefix + key;
    const o = options === undefined ? this.#defaults : this.#entryOptions(options);
    this.#write(k, value, o.ttl, o.grace, o.tags);
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    return this.#delete(this.#prefix + key);
  }

  async has(key: string): Promise<boolean> {
    checkKey(key);
    return this.#core.l1.has(this.#prefix + key);
  }

  async ttl(key: string): Promise<number | undefined> {
    checkKey(key);
    return this.#core.l1.ttl(this.#prefix + key);
  }

  async incr(key: string, by = 1): Promise<number> {
    checkKey(key);
    if (typeof by !== 'number' || !Number.isFinite(by)) throw new TypeError(`incr: by must be a finite number, got ${String(by)}`);
    const k = this.#prefix + key;
    const core = this.#core;
    const next = core.l1.incr(k, by);
    core.touched(k);
    core.sets++;
    if (core.emitter.has('set')) core.emitter.emit('set', { key: k, tier: 'l1' });
    return next;
  }

  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    checkKeys(keys, 'getMany');
    const out = new Array<T | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = this.#lookup(this.#prefix + keys[i]!) as T | undefined;
    return out;
  }

  async setMany(entries: readonly SetManyEntry[]): Promise<void> {
    if (!Array.isArray(entries)) throw new TypeError('setMany: entries must be an array of { key, value, ttl?, tags? }');
    // Validate everything first: bad input writes nothing.
    const parsed = entries.map((entry: SetManyEntry) => {
      if (typeof entry !== 'object' || entry === null) throw new TypeError('setMany: each entry must be an object');
      checkKey(entry.key);
      if (entry.value === undefined) throw new TypeError(`setMany: undefined cannot be cached (key "${entry.key}")`);
      return { key: this.#prefix + entry.key, value: entry.value, options: this.#entryOptions(entry) };
    });
    for (const { key, value, options } of parsed) this.#write(key, value, options.ttl, options.grace, options.tags);
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    checkKeys(keys, 'deleteMany');
    let removed = 0;
    for (const key of new Set(keys)) if (this.#delete(this.#prefix + key)) removed++;
    return removed;
  }

  /**
   * Cache-aside: the value of `key`, or the factory's result, stored. Concurrent calls for a key
   * run the factory once; `grace` and `timeout` make it fail-safe (see the README).
   */
  async getOrSet<T>(key: string, factory: Factory<T>, options?: GetOrSetOptions): Promise<T> {
    checkKey(key);
    if (typeof factory !== 'function') throw new TypeError('getOrSet: factory must be a function');
    const resolved = options === undefined ? this.#defaults : this.#loadOptions(options);
    const k = this.#prefix === '' ? key : this.#prefix + key;
    const value = this.#lookup(k);
    if (value !== undefined) return value as T;
    const core = this.#core;
    const started = performance.now();
    try {
      return await load(core, k, this.#prefix, factory, resolved);
    } finally {
      core.latency.record(performance.now() - started);
    }
  }

  /**
   * The values of `keys` in order; the missing ones come from one call of `factory` with the
   * array of missing keys (none: no call).
   */
  async getOrSetMany<T>(keys: readonly string[], factory: BatchFactory<T>, options?: GetOrSetOptions): Promise<(T | undefined)[]> {
    checkKeys(keys, 'getOrSetMany');
    if (typeof factory !== 'function') throw new TypeError('getOrSetMany: factory must be a function');
    const resolved = options === undefined ? this.#defaults : this.#loadOptions(options);
    const out = new Array<T | undefined>(keys.length);
    const missing = new Map<string, string>(); // full key -> user key, deduplicated
    for (let i = 0; i < keys.length; i++) {
      const k = this.#prefix + keys[i]!;
      const value = this.#lookup(k);
      if (value !== undefined) out[i] = value as T;
      else missing.set(k, keys[i]!);
    }
    if (missing.size === 0) return out;
    const started = performance.now();
    try {
      const loaded = await loadMany<T>(this.#core, [...missing.keys()], [...missing.values()], this.#prefix, factory, resolved);
      const byKey = new Map<string, T | undefined>();
      let j = 0;
      for (const userKey of missing.values()) byKey.set(userKey, loaded[j++]);
      for (let i = 0; i < keys.length; i++) if (out[i] === undefined) out[i] = byKey.get(keys[i]!);
      return out;
    } finally {
      this.#core.latency.record(performance.now() - started);
    }
  }

  /** Removes the keys of this namespace matching a Redis-style glob (`*`, `?`, `[...]`). */
  async deletePattern(glob: string): Promise<number> {
    if (typeof glob !== 'string' || glob.length === 0) throw new TypeError('deletePattern: expected a non-empty glob string');
    const full = escapeGlob(this.#prefix) + glob;
    const core = this.#core;
    const removed = core.l1.deletePattern(full);
    const re = globToRegExp(full);
    core.touchedWhere((key) => re.test(key));
    core.deletes += removed;
    return removed;
  }

  /** Removes every entry set with any of `tags` (scoped to this namespace). */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    const scoped = scopeTags(tags, this.#prefix);
    if (scoped === undefined) throw new TypeError('invalidateTags: expected an array of tags');
    const core = this.#core;
    core.flights.supersedeTags(scoped);
    const removed = core.l1.invalidateTags(scoped);
    core.deletes += removed;
    return removed;
  }

  /** Removes every entry of this namespace (the root: of the whole cache). */
  async clear(): Promise<void> {
    const core = this.#core;
    if (this.#prefix === '') {
      core.deletes += core.l1.size;
      core.l1.clear();
      core.touchedWhere(() => true);
      core.backoff.clear();
      return;
    }
    const prefix = this.#prefix;
    core.deletes += core.l1.deletePattern(`${escapeGlob(prefix)}*`);
    core.touchedWhere((key) => key.startsWith(prefix));
  }

  /** A view whose keys, tags, patterns and `clear()` stay inside `name` (tenant isolation). */
  namespace(name: string): Cache {
    checkNamespaceName(name);
    viewing = { core: this.#core, prefix: `${this.#prefix}${name}:` };
    return new Cache();
  }

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
    return stats;
  }

  /** Listens to an event; returns a function that removes the listener. */
  on<E extends CacheEventName>(event: E, listener: (payload: CacheEvents[E]) => void): () => void {
    const core = this.#core;
    const off = core.emitter.on(event, listener);
    if (event === 'evict' || event === 'expire') bridgeStoreEvents(core);
    return off;
  }

  /** Stops timers and closes what the cache opened. */
  async close(): Promise<void> {
    this.#core.l1.close();
  }

  /** @internal Test hook: sizes of the bounded auxiliary structures. */
  static internals(cache: Cache): { flights: number; backoff: number } {
    return { flights: cache.#core.flights.size, backoff: cache.#core.backoff.size };
  }

  // ----------------------------------------------------------------------------------------------

  #lookup(k: string): unknown {
    const core = this.#core;
    const value = core.l1.get(k);
    if (value !== undefined) {
      core.hits++;
      if (core.emitter.lists.hit.length !== 0) core.emitter.emit('hit', { key: k, tier: 'l1' });
    } else {
      core.misses++;
      if (core.emitter.lists.miss.length !== 0) core.emitter.emit('miss', { key: k, tier: 'l1' });
    }
    return value;
  }

  #write(k: string, value: unknown, ttl: number | undefined, grace: number, tags: readonly string[] | undefined): void {
    const core = this.#core;
    if (core.flights.size !== 0 || core.backoff.size !== 0) core.touched(k);
    core.l1.write(k, value, ttl, grace, tags);
    core.sets++;
    if (core.emitter.lists.set.length !== 0) core.emitter.emit('set', { key: k, tier: 'l1' });
  }

  #delete(k: string): boolean {
    const core = this.#core;
    core.touched(k);
    const removed = core.l1.delete(k);
    if (removed) {
      core.deletes++;
      if (core.emitter.lists.delete.length !== 0) core.emitter.emit('delete', { key: k, tier: 'l1' });
    }
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
    };
  }

  #loadOptions(options: GetOrSetOptions): LoadOptions {
    const resolved = this.#entryOptions(options);
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
