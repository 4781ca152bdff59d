import { MAX_DURATION_MS, parseDuration, timerDelay } from '../config/duration.js';
import { describeValue } from '../util/describe.js';
import type { Duration } from '../config/duration.js';
import { ConfigError } from '../errors/config-error.js';
import type { Clock } from '../util/clock.js';
import { cachedNow } from '../util/clock.js';
import { compileGlob } from '../util/glob.js';
import type { StoreCapabilities, StoreEntry, StoreSetOptions, StaleEntry, SyncStore } from '../stores/store.js';
import { estimateSize } from './size-of.js';
import type { TinyLfuState } from './tinylfu.js';
import { TinyLfu, slotHash } from './tinylfu.js';

/** The eviction policies `memoryStore` offers, as a runtime list (kept in step with the type). */
export const MEMORY_POLICIES = ['lru', 'tinylfu'] as const;

/**
 * How a full memory store chooses what to drop. `lru`: the least recently used entry.
 * `tinylfu`: W-TinyLFU, which also weighs how often keys are used and refuses newcomers that are
 * used less often than what they would replace (see docs/admission.md).
 */
export type MemoryPolicy = (typeof MEMORY_POLICIES)[number];

/** Why an entry left the store, as given to `evict` listeners. */
export type EvictReason = 'capacity' | 'bytes' | 'too-large';

export interface MemoryStoreEvictEvent<V> {
  key: string;
  value: V;
  reason: EvictReason;
}
export interface MemoryStoreExpireEvent<V> {
  key: string;
  value: V;
  reason: 'ttl';
}
export interface MemoryStoreEvents<V> {
  evict: MemoryStoreEvictEvent<V>;
  expire: MemoryStoreExpireEvent<V>;
}

export interface MemoryStoreOptions<V = unknown> {
  /**
   * Most entries held at once; which entry goes first is the `policy`'s choice. Slots are
   * allocated up front in typed arrays, so this is also the store's fixed footprint. lru-cache
   * calls this `max`. A whole number from 1 to 4,294,967,293.
   * @default 10_000
   */
  maxEntries?: number | undefined;
  /**
   * What a full store drops to make room. `'lru'`: the least recently used entry, always.
   * `'tinylfu'`: W-TinyLFU (as in Caffeine): new entries pass through a small LRU window, then
   * stay only if they are used more often than the entry they would replace, so one-hit wonders
   * and scans cannot push out the hot set; the window grows by itself on workloads that favour
   * recency. It costs 12 to 20 bytes more per entry (a frequency sketch of 4-bit counters, sized
   * to a power of two, and a key hash) and more time per call, most on inserts (docs/admission.md).
   * Either policy keeps `size <= maxEntries` and `bytes <= maxBytes` after every call.
   * @default 'lru' (the faster per call; choose `'tinylfu'` when the cache holds a fraction of a skewed working set)
   * @example memoryStore({ maxEntries: 50_000, policy: 'tinylfu' })
   */
  policy?: MemoryPolicy | undefined;
  /**
   * Most bytes held at once, as measured by `sizeOf`. Unset: no byte bound.
   * @example 64 << 20 // 64 MiB
   */
  maxBytes?: number | undefined;
  /**
   * Size of one entry in bytes, used only with `maxBytes`. Must return a positive integer.
   * @default an estimate of the key and value's heap size
   */
  sizeOf?: ((value: V, key: string) => number) | undefined;
  /** Default time to live of an entry. Unset: entries live until evicted. */
  ttl?: Duration | undefined;
  /** Source of time in milliseconds; tests pass a fake one instead of sleeping. */
  clock?: Clock | undefined;
  /**
   * How often the background sweep looks for expired entries. Each pass looks at a bounded
   * number of slots, so an expired entry never pins memory for long, and the timer is unref'd.
   * @default '1s'
   */
  sweepInterval?: Duration | undefined;
}

const DEFAULTS = {
  maxEntries: 10_000,
  policy: 'lru' as MemoryPolicy,
  sweepInterval: 1_000,
  /** Slots looked at by one sweep pass: bounds the pause while still covering 1M slots in ~2 min. */
  sweepBatch: 8_192,
} as const;

const NONE = 0xffffffff; // end-of-list marker in the link arrays
const CAPABILITIES: StoreCapabilities = { sync: true, shared: false, tags: true, patterns: true, grace: true };

type Listener<T> = (event: T) => void;

/**
 * An in-process store with TTL and LRU or W-TinyLFU eviction, usable on its own (synchronously,
 * like lru-cache) or as the memory tier of a `Cache`.
 *
 * Layout: entries live in slots; a `Map` finds a key's slot, doubly linked lists in `Uint32Array`s
 * keep the recency order, a stack of free slots avoids allocation, and TTL and byte accounting use
 * typed arrays that exist only once a TTL or `maxBytes` is in use. The plain `get` therefore does a
 * map lookup, a check through a function installed at construction, and a relink.
 *
 * The policy is installed the same way: `#access`, `#link`, `#unlink` and `#evictForBytes` are
 * chosen in the constructor, so the LRU path never asks which policy runs. With `tinylfu`,
 * {@link TinyLfu} keeps three lists (window, probation, protected) in its own per-slot records,
 * and the store has one spare slot: a new entry is linked first and the policy then decides who
 * leaves, the candidate the window pushed out or the main space's victim. `#skip` lets a hit
 * bypass the policy when tinylfu samples a long run of hits (LRU's `#access` always returns 0).
 */
export class MemoryStore<V = unknown> implements SyncStore<V> {
  readonly capabilities = CAPABILITIES;
  readonly maxEntries: number;
  readonly maxBytes: number | undefined;
  readonly policy: MemoryPolicy;

  /** Slots in the typed arrays: `maxEntries`, plus a spare one with `tinylfu`. */
  readonly #slots: number;
  readonly #keyMap = new Map<string, number>();
  /**
   * The key the last `get` missed, known absent until `write` inserts it. A miss is mostly
   * followed by `getStale` and `write` of the same key (getOrSet's miss path): they skip the
   * lookup, which in a large store costs a few cache misses each. `get` itself never reads it,
   * so hits pay nothing.
   */
  #absent: string | undefined;
  readonly #keys: (string | undefined)[];
  readonly #values: (V | undefined)[];
  readonly #next: Uint32Array;
  readonly #prev: Uint32Array;
  readonly #free: Uint32Array;
  #freeTop = 0;
  #fill = 0;
  #head = NONE; // least recently used (lru)
  #tail = NONE; // most recently used (lru)
  #size = 0;

  // --- the eviction policy, installed at construction ---
  /** W-TinyLFU's segments, sketch and climber; undefined with `lru`. */
  readonly #tiny: TinyLfu | undefined;
  /** A hit (or an overwrite) on slot `i`; returns how many of the next hits need not be told. */
  readonly #access: (i: number) => number;
  /** Hits still to pass without telling the policy (tinylfu's sampling of long runs of hits). */
  #skip = 0;
  /** Links a new entry; returns the admission candidate it displaced (tinylfu) or NONE. */
  readonly #link: (i: number, key: string) => number;
  /** Unlinks a slot that leaves the store. */
  readonly #unlink: (i: number) => void;
  /** Evicts until `bytes <= maxBytes` (and, with tinylfu, `size <= maxEntries`), sparing `keep`. */
  readonly #evictForBytes: (keep: number, candidate: number) => void;

  // --- TTL tracking, installed on first use (constructor `ttl` or a `set` with a ttl) ---
  #defaultTtl: number | undefined;
  /** Logical expiry per slot: past it, get/has/ttl see nothing. Infinity: none. */
  #fresh: Float64Array | undefined;
  /** Physical expiry per slot (fresh + grace): past it, the entry is removed. */
  #until: Float64Array | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweepCursor = 0;
  readonly #sweepInterval: number;
  readonly #now: () => number;
  /** Whether slot `i` is past its logical expiry. Replaced when TTL tracking is installed. */
  #isStale: (i: number) => boolean = () => false;

  // --- byte accounting, installed when maxBytes is set ---
  #sizes: Uint32Array | undefined;
  #bytes = 0;
  readonly #sizeOf: ((value: V, key: string) => number) | undefined;

  // --- tags, installed on the first tagged set ---
  #slotTags: (readonly string[] | undefined)[] | undefined;
  #tagIndex: Map<string, Set<string>> | undefined;

  /** Entries evicted so far (capacity, bytes, too large). */
  evictions = 0;
  /** Entries removed so far because their TTL (and grace) passed. */
  expirations = 0;

  #evictListeners: Listener<MemoryStoreEvictEvent<V>>[] = [];
  #expireListeners: Listener<MemoryStoreExpireEvent<V>>[] = [];

  constructor(options: MemoryStoreOptions<V> = {}) {
    const maxEntries = options.maxEntries ?? DEFAULTS.maxEntries;
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries >= NONE) {
      throw new ConfigError('maxEntries', `expected a whole number from 1 to ${NONE - 1}, got ${String(maxEntries)}`);
    }
    if (options.maxBytes !== undefined && !(Number.isInteger(options.maxBytes) && options.maxBytes > 0)) {
      throw new ConfigError('maxBytes', `expected a whole number of bytes > 0, got ${String(options.maxBytes)}`);
    }
    if (options.sizeOf !== undefined && typeof options.sizeOf !== 'function') {
      throw new ConfigError('sizeOf', 'expected a function (value, key) => bytes');
    }
    const policy = options.policy ?? DEFAULTS.policy;
    if (!(MEMORY_POLICIES as readonly unknown[]).includes(policy)) {
      throw new ConfigError('policy', `expected ${MEMORY_POLICIES.map((p) => `'${p}'`).join(' or ')}, got ${describeValue(policy)}`);
    }
    const slots = policy === 'tinylfu' ? maxEntries + 1 : maxEntries;
    if (slots >= NONE) throw new ConfigError('maxEntries', `expected at most ${NONE - 2} with policy 'tinylfu', got ${maxEntries}`);
    this.maxEntries = maxEntries;
    this.maxBytes = options.maxBytes;
    this.policy = policy;
    this.#slots = slots;
    this.#keys = new Array<string | undefined>(slots).fill(undefined);
    this.#values = new Array<V | undefined>(slots).fill(undefined);
    // The LRU links; tinylfu keeps its own, next to each slot's hash and segment.
    this.#next = new Uint32Array(policy === 'lru' ? slots : 0);
    this.#prev = new Uint32Array(policy === 'lru' ? slots : 0);
    this.#free = new Uint32Array(slots);
    if (policy === 'tinylfu') {
      const tiny = (this.#tiny = new TinyLfu(maxEntries, slots, this.maxBytes !== undefined));
      this.#access = (i) => tiny.access(i);
      this.#link = (i, key) => {
        this.#skip = 0;
        return tiny.insert(i, key);
      };
      this.#unlink = (i) => {
        this.#skip = 0;
        tiny.remove(i);
      };
      this.#evictForBytes = (keep, candidate) => this.#evictTinyLfu(keep, candidate);
    } else {
      this.#access = (i) => {
        this.#touch(i);
        return 0;
      };
      this.#link = (i) => {
        this.#linkTail(i);
        return NONE;
      };
      this.#unlink = (i) => this.#unlinkLru(i);
      this.#evictForBytes = (keep) => this.#evictLruForBytes(keep);
    }
    const clock = options.clock;
    if (clock !== undefined && typeof clock.now !== 'function') {
      throw new ConfigError('clock', 'expected an object with a now() method returning milliseconds');
    }
    this.#now = clock === undefined ? cachedNow : () => clock.now();
    this.#sweepInterval = parseDuration(options.sweepInterval ?? DEFAULTS.sweepInterval, 'sweepInterval');
    if (options.ttl !== undefined) {
      const ttl = parseDuration(options.ttl, 'ttl');
      if (ttl !== Infinity) this.#defaultTtl = ttl;
      this.#installTtl();
    }
    if (this.maxBytes !== undefined) {
      this.#sizes = new Uint32Array(slots);
      this.#sizeOf = options.sizeOf ?? estimateSize;
    }
  }

  /** Number of live entries (expired ones are purged first). */
  get size(): number {
    if (this.#fresh !== undefined) this.purgeStale();
    return this.#size;
  }

  /** Bytes accounted by `sizeOf`; 0 without `maxBytes`. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Value of `key`, marking it most recently used; `undefined` if absent or expired. */
  get(key: string): V | undefined {
    const i = this.#keyMap.get(key);
    if (i === undefined) {
      this.#absent = key;
      return undefined;
    }
    if (this.#isStale(i)) {
      this.#dropIfGone(i);
      return undefined;
    }
    this.#accessed(i);
    return this.#values[i];
  }

  /** Tells the policy of a hit (or an overwrite) on slot `i`, unless tinylfu is sampling a run of hits. */
  #accessed(i: number): void {
    if (this.#skip === 0) this.#skip = this.#access(i);
    else this.#skip--;
  }

  /** Value of `key` without changing its recency. */
  peek(key: string): V | undefined {
    const i = this.#keyMap.get(key);
    if (i === undefined || this.#isStale(i)) return undefined;
    return this.#values[i];
  }

  /** Whether `key` holds a live value. Does not change recency. */
  has(key: string): boolean {
    const i = this.#keyMap.get(key);
    return i !== undefined && !this.#isStale(i);
  }

  /**
   * The entry of `key` even when past its TTL but still inside its grace period, with `stale`
   * telling which. Used by `getOrSet` for fail-safe and stale-while-revalidate.
   */
  getStale(key: string): StaleEntry<V> | undefined {
    const i = key === this.#absent ? undefined : this.#keyMap.get(key);
    if (i === undefined) return undefined;
    if (this.#isStale(i)) {
      if (this.#dropIfGone(i)) return undefined;
      return { value: this.#values[i] as V, stale: true };
    }
    this.#accessed(i);
    return { value: this.#values[i] as V, stale: false };
  }

  /** Milliseconds left before `key` expires; `Infinity` without expiry; `undefined` if absent. */
  ttl(key: string): number | undefined {
    const i = this.#keyMap.get(key);
    if (i === undefined || this.#isStale(i)) return undefined;
    const fresh = this.#fresh;
    if (fresh === undefined) return Infinity;
    const at = fresh[i]!;
    return at === Infinity ? Infinity : Math.max(1, Math.ceil(at - this.#now()));
  }

  /**
   * Stores `value` under `key` as the most recently used entry.
   * `ttl`: time to live (default: the store's). `grace`: how long the entry stays available to
   * `getStale` after its TTL. `tags`: names `invalidateTags` can remove it by.
   */
  set(key: string, value: V, options?: StoreSetOptions): void {
    // As the facade: undefined means "absent", so storing it would make get() lie about presence.
    if (value === undefined) throw new TypeError(`set: undefined cannot be stored (key "${key}"); use delete() or null`);
    let ttl = this.#defaultTtl;
    let grace = 0;
    let tags: readonly string[] | undefined;
    if (options !== undefined) {
      if (options.ttl !== undefined) ttl = toMs(options.ttl, 'ttl');
      if (options.grace !== undefined) grace = toMs(options.grace, 'grace');
      tags = options.tags;
    }
    this.write(key, value, ttl, grace, tags);
  }

  /**
   * `set` with parsed arguments, for callers that validated them once (the `Cache` facade).
   * `ttl` undefined or Infinity: no expiry.
   */
  write(key: string, value: V, ttl: number | undefined, grace: number, tags: readonly string[] | undefined): void {
    let size = 0;
    if (this.#sizes !== undefined) {
      size = this.#measure(value, key);
      if (size > this.maxBytes!) {
        // Never serve the old value after a set that could not be stored (lru-cache does the same).
        const old = this.#keyMap.get(key);
        if (old !== undefined) this.#remove(old);
        this.#emitEvict(key, value, 'too-large');
        return;
      }
    }
    let i = key === this.#absent ? undefined : this.#keyMap.get(key);
    let candidate = NONE;
    if (i === undefined) {
      this.#absent = undefined;
      i = this.#allocate();
      this.#keys[i] = key;
      this.#values[i] = value;
      this.#keyMap.set(key, i);
      this.#size++;
      candidate = this.#link(i, key);
    } else {
      this.#values[i] = value;
      this.#accessed(i);
      if (this.#slotTags !== undefined) this.#untag(i);
    }
    if (ttl !== undefined && ttl !== Infinity) {
      if (this.#fresh === undefined) this.#installTtl();
      const now = this.#now();
      this.#fresh![i] = now + ttl;
      this.#until![i] = now + ttl + grace;
    } else if (this.#fresh !== undefined) {
      this.#fresh[i] = Infinity;
      this.#until![i] = Infinity;
    }
    if (tags !== undefined && tags.length > 0) this.#tag(i, key, tags);
    if (this.#sizes !== undefined) {
      this.#bytes += size - this.#sizes[i]!;
      this.#sizes[i] = size;
      if (this.#bytes > this.maxBytes!) this.#evictForBytes(i, candidate);
    }
    // Only with tinylfu: the new entry took the spare slot, and the policy now picks who leaves.
    if (this.#size > this.maxEntries) this.#evictTinyLfu(i, candidate);
  }

  /** Removes `key`; true if it held a live value. */
  delete(key: string): boolean {
    const i = this.#keyMap.get(key);
    if (i === undefined) return false;
    const live = !this.#isStale(i);
    this.#remove(i);
    return live;
  }

  /** Adds `by` to the number at `key` (0 when absent), keeping its TTL. */
  incr(key: string, by = 1): number {
    if (typeof by !== 'number' || !Number.isFinite(by)) throw new TypeError(`incr: by must be a finite number, got ${describeValue(by)}`);
    const i = this.#keyMap.get(key);
    if (i === undefined || this.#isStale(i)) {
      this.write(key, by as V, this.#defaultTtl, 0, undefined);
      return by;
    }
    const current = this.#values[i];
    if (typeof current !== 'number') {
      throw new TypeError(`incr: the value at "${key}" is not a number`);
    }
    const next = current + by;
    this.#values[i] = next as V;
    this.#accessed(i);
    return next;
  }

  getMany(keys: readonly string[]): (V | undefined)[] {
    const out = new Array<V | undefined>(keys.length);
    for (let k = 0; k < keys.length; k++) out[k] = this.get(keys[k]!);
    return out;
  }

  setMany(entries: readonly StoreEntry<V>[]): void {
    for (const entry of entries) this.set(entry.key, entry.value, { ttl: entry.ttl, tags: entry.tags });
  }

  deleteMany(keys: readonly string[]): number {
    let removed = 0;
    for (const key of new Set(keys)) if (this.delete(key)) removed++;
    return removed;
  }

  /** Removes every key matching the Redis-style glob; returns how many live entries went. */
  deletePattern(glob: string): number {
    const matches = compileGlob(glob);
    let removed = 0;
    for (const [key, i] of [...this.#keyMap]) {
      if (!matches(key)) continue;
      if (!this.#isStale(i)) removed++;
      this.#remove(i);
    }
    return removed;
  }

  /** Removes every entry set with any of `tags`; returns how many live entries went. */
  invalidateTags(tags: readonly string[]): number {
    const index = this.#tagIndex;
    if (index === undefined) return 0;
    let removed = 0;
    for (const tag of tags) {
      const keys = index.get(tag);
      if (keys === undefined) continue;
      for (const key of [...keys]) {
        const i = this.#keyMap.get(key);
        if (i === undefined) continue;
        if (!this.#isStale(i)) removed++;
        this.#remove(i);
      }
    }
    return removed;
  }

  /** Removes everything. */
  clear(): void {
    this.#keyMap.clear();
    this.#keys.fill(undefined);
    this.#values.fill(undefined);
    this.#freeTop = 0;
    this.#fill = 0;
    this.#head = NONE;
    this.#tail = NONE;
    this.#tiny?.clear();
    this.#skip = 0;
    this.#size = 0;
    this.#bytes = 0;
    this.#sizes?.fill(0);
    this.#slotTags?.fill(undefined);
    this.#tagIndex?.clear();
  }

  /**
   * Live keys, most recently used first. With `tinylfu`, the window's keys come first, then the
   * protected segment's, then probation's (each most recent first): roughly, the last to be
   * evicted first.
   */
  *keys(): IterableIterator<string> {
    if (this.#size === 0) return;
    const tiny = this.#tiny;
    if (tiny !== undefined) {
      for (const i of tiny.slots()) if (!this.#isStale(i)) yield this.#keys[i]!;
      return;
    }
    for (let i = this.#tail; ; i = this.#prev[i]!) {
      if (!this.#isStale(i)) yield this.#keys[i]!;
      if (i === this.#head) break;
    }
  }

  /** Removes every entry past its physical expiry now, instead of waiting for the sweep. */
  purgeStale(): number {
    const until = this.#until;
    if (until === undefined) return 0;
    const now = this.#now();
    let purged = 0;
    for (let i = 0; i < this.#fill; i++) {
      if (this.#keys[i] !== undefined && until[i]! <= now) {
        this.#expire(i);
        purged++;
      }
    }
    return purged;
  }

  /**
   * Listens to `evict` (capacity, bytes, too-large) or `expire` (TTL passed). Returns a function
   * that removes the listener. A listener that throws does not break the store.
   */
  on<E extends keyof MemoryStoreEvents<V>>(event: E, listener: Listener<MemoryStoreEvents<V>[E]>): () => void {
    const list = (event === 'evict' ? this.#evictListeners : this.#expireListeners) as Listener<MemoryStoreEvents<V>[E]>[];
    list.push(listener);
    return () => {
      const at = list.indexOf(listener);
      if (at !== -1) list.splice(at, 1);
    };
  }

  /** Stops the background sweep. The store stays usable; the sweep restarts on the next TTL. */
  close(): void {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  // ----------------------------------------------------------------------------------------------

  #touch(i: number): void {
    if (i === this.#tail) return;
    const next = this.#next[i]!;
    if (i === this.#head) {
      this.#head = next;
    } else {
      const prev = this.#prev[i]!;
      this.#next[prev] = next;
      this.#prev[next] = prev;
    }
    this.#prev[i] = this.#tail;
    this.#next[this.#tail] = i;
    this.#tail = i;
  }

  #linkTail(i: number): void {
    if (this.#tail === NONE) {
      this.#head = i;
    } else {
      this.#next[this.#tail] = i;
      this.#prev[i] = this.#tail;
    }
    this.#tail = i;
  }

  #unlinkLru(i: number): void {
    if (i === this.#head && i === this.#tail) {
      this.#head = this.#tail = NONE;
    } else if (i === this.#head) {
      this.#head = this.#next[i]!;
    } else if (i === this.#tail) {
      this.#tail = this.#prev[i]!;
    } else {
      const prev = this.#prev[i]!;
      const next = this.#next[i]!;
      this.#next[prev] = next;
      this.#prev[next] = prev;
    }
  }

  /**
   * A free slot, evicting the least recently used entry when full (lru). With tinylfu there is
   * always one (the spare slot): the newcomer is linked first and {@link #evictTinyLfu} then
   * weighs it, through the window's candidate, against main space's victim.
   */
  #allocate(): number {
    if (this.#freeTop > 0) return this.#free[--this.#freeTop]!;
    if (this.#fill < this.#slots) return this.#fill++;
    const victim = this.#head;
    const key = this.#keys[victim]!;
    const value = this.#values[victim] as V;
    this.#remove(victim);
    this.#emitEvict(key, value, 'capacity');
    return this.#free[--this.#freeTop]!;
  }

  #evictLruForBytes(keep: number): void {
    while (this.#bytes > this.maxBytes! && this.#head !== NONE) {
      const victim = this.#head === keep ? this.#next[keep]! : this.#head;
      if (victim === NONE) break;
      const key = this.#keys[victim]!;
      const value = this.#values[victim] as V;
      this.#remove(victim);
      this.#emitEvict(key, value, 'bytes');
    }
  }

  /**
   * W-TinyLFU's eviction (Caffeine's evictFromMain): while over `maxEntries` or `maxBytes`, the
   * candidate the window pushed out meets probation's least recent entry and the less frequent
   * goes. `keep` (the entry being written) never goes.
   */
  #evictTinyLfu(keep: number, candidate: number): void {
    const tiny = this.#tiny!;
    const maxBytes = this.maxBytes ?? Infinity;
    tiny.beginEviction(candidate);
    while (this.#size > this.maxEntries || this.#bytes > maxBytes) {
      let victim = tiny.nextEviction(keep);
      if (victim === NONE) {
        // Only after an evict listener wrote to the store in the middle of the run: start over.
        tiny.beginEviction(NONE);
        victim = tiny.nextEviction(keep);
        if (victim === NONE) break;
      }
      const reason: EvictReason = this.#size > this.maxEntries ? 'capacity' : 'bytes';
      const key = this.#keys[victim]!;
      const value = this.#values[victim] as V;
      this.#remove(victim);
      this.#emitEvict(key, value, reason);
    }
    tiny.endEviction();
  }

  #remove(i: number): void {
    const key = this.#keys[i]!;
    if (this.#slotTags !== undefined) this.#untag(i);
    this.#keyMap.delete(key);
    this.#unlink(i);
    this.#keys[i] = undefined;
    this.#values[i] = undefined;
    if (this.#sizes !== undefined) {
      this.#bytes -= this.#sizes[i]!;
      this.#sizes[i] = 0;
    }
    this.#free[this.#freeTop++] = i;
    this.#size--;
  }

  /** Removes slot `i` if it is past its physical expiry; true if it did. */
  #dropIfGone(i: number): boolean {
    if (this.#until![i]! > this.#now()) return false;
    this.#expire(i);
    return true;
  }

  #expire(i: number): void {
    const key = this.#keys[i]!;
    const value = this.#values[i] as V;
    this.#remove(i);
    this.expirations++;
    const listeners = this.#expireListeners;
    if (listeners.length !== 0) emit(listeners, { key, value, reason: 'ttl' });
  }

  #emitEvict(key: string, value: V, reason: EvictReason): void {
    this.evictions++;
    const listeners = this.#evictListeners;
    if (listeners.length !== 0) emit(listeners, { key, value, reason });
  }

  #measure(value: V, key: string): number {
    const size = this.#sizeOf!(value, key);
    if (!Number.isInteger(size) || size < 1) {
      throw new ConfigError('sizeOf', `must return a whole number of bytes > 0, got ${String(size)} for "${key}"`);
    }
    return size;
  }

  #installTtl(): void {
    const fresh = (this.#fresh = new Float64Array(this.#slots).fill(Infinity));
    this.#until = new Float64Array(this.#slots).fill(Infinity);
    const now = this.#now;
    this.#isStale = (i) => fresh[i]! <= now();
    this.#startSweep();
  }

  #startSweep(): void {
    // The timer holds the store only weakly, so a store that is dropped without close() is still
    // collected, and the timer stops itself.
    const ref = new WeakRef(this);
    const timer = setInterval(() => {
      const store = ref.deref();
      if (store === undefined) clearInterval(timer);
      else store.#sweep();
    }, timerDelay(this.#sweepInterval));
    timer.unref();
    this.#sweepTimer = timer;
  }

  /** One bounded sweep pass over the next slots. */
  #sweep(): void {
    const until = this.#until!;
    const now = this.#now();
    const end = Math.min(this.#sweepCursor + DEFAULTS.sweepBatch, this.#fill);
    for (let i = this.#sweepCursor; i < end; i++) {
      if (this.#keys[i] !== undefined && until[i]! <= now) this.#expire(i);
    }
    this.#sweepCursor = end >= this.#fill ? 0 : end;
  }

  #tag(i: number, key: string, tags: readonly string[]): void {
    const slotTags = (this.#slotTags ??= new Array<readonly string[] | undefined>(this.#slots).fill(undefined));
    const index = (this.#tagIndex ??= new Map<string, Set<string>>());
    slotTags[i] = tags;
    for (const tag of tags) {
      let keys = index.get(tag);
      if (keys === undefined) index.set(tag, (keys = new Set<string>()));
      keys.add(key);
    }
  }

  #untag(i: number): void {
    const tags = this.#slotTags![i];
    if (tags === undefined) return;
    this.#slotTags![i] = undefined;
    const key = this.#keys[i]!;
    const index = this.#tagIndex!;
    for (const tag of tags) {
      const keys = index.get(tag);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) index.delete(tag);
    }
  }

  /** @internal Test hook: checks the invariants of the internal structures; throws on the first broken one. */
  static checkInvariants<T>(store: MemoryStore<T>): void {
    store.#checkInvariants();
  }

  /** @internal Test hook: the W-TinyLFU segments' sizes and maxima; undefined with `lru`. */
  static policyState<T>(store: MemoryStore<T>): TinyLfuState | undefined {
    return store.#tiny?.state();
  }

  #checkInvariants(): void {
    if (this.#absent !== undefined && this.#keyMap.has(this.#absent)) throw new Error(`${this.#absent} is held but remembered as absent`);
    let count = 0;
    if (this.#tiny !== undefined) {
      count = this.#tiny.checkInvariants((i, hash) => {
        const key = this.#keys[i];
        if (key === undefined || this.#keyMap.get(key) !== i) throw new Error(`slot ${i} not findable by its key`);
        if (slotHash(key) !== hash) throw new Error(`slot ${i} holds a stale hash for ${key}`);
      });
      if (this.#head !== NONE || this.#tail !== NONE) throw new Error('the lru list is in use with tinylfu');
    } else {
      let prev = NONE;
      for (let i = this.#head; i !== NONE; i = this.#next[i]!) {
        if (++count > this.maxEntries) throw new Error('loop in the recency list');
        if (prev !== NONE && this.#prev[i] !== prev) throw new Error(`broken prev link at ${i}`);
        const key = this.#keys[i];
        if (key === undefined || this.#keyMap.get(key) !== i) throw new Error(`slot ${i} not findable by its key`);
        prev = i;
        if (i === this.#tail) break;
      }
      if (prev !== this.#tail) throw new Error('tail is not the end of the list');
    }
    if (this.#size > this.maxEntries) throw new Error(`size ${this.#size} over maxEntries ${this.maxEntries}`);
    if (count !== this.#size || this.#keyMap.size !== this.#size) {
      throw new Error(`size ${this.#size}, list ${count}, map ${this.#keyMap.size}`);
    }
    if (this.#sizes !== undefined) {
      let sum = 0;
      for (const i of this.#keyMap.values()) sum += this.#sizes[i]!;
      if (sum !== this.#bytes) throw new Error(`bytes ${this.#bytes} but slots sum to ${sum}`);
      if (this.#bytes > this.maxBytes!) throw new Error(`bytes ${this.#bytes} over maxBytes ${this.maxBytes!}`);
    }
    if (this.#tagIndex !== undefined) {
      for (const [tag, keys] of this.#tagIndex) {
        if (keys.size === 0) throw new Error(`empty tag set left for ${tag}`);
        for (const key of keys) if (!this.#keyMap.has(key)) throw new Error(`tag ${tag} names removed key ${key}`);
      }
    }
    if (this.#freeTop + this.#size !== this.#fill) throw new Error('free slots and live slots do not add up');
  }

  /**
   * How `key` is held, without touching its recency or the policy's frequencies: ms until it
   * turns stale (`Infinity`: never), ms until it is gone (its grace included), its tags, and the
   * bytes accounted for it (with `maxBytes`). Undefined when absent or past its grace. For key
   * inspection (the admin API's `GET /keys/:key`).
   */
  describe(key: string): { freshFor: number; lifeLeft: number; tags: readonly string[] | undefined; bytes: number | undefined } | undefined {
    const i = this.#keyMap.get(key);
    if (i === undefined) return undefined;
    const now = this.#now();
    const fresh = this.#fresh?.[i] ?? Infinity;
    const until = this.#until?.[i] ?? Infinity;
    if (until <= now) return undefined;
    return {
      freshFor: fresh === Infinity ? Infinity : Math.max(0, fresh - now),
      lifeLeft: until === Infinity ? Infinity : until - now,
      tags: this.#slotTags?.[i],
      bytes: this.#sizes?.[i],
    };
  }
}

function toMs(value: Duration, option: string): number {
  if (typeof value === 'number' && value > 0) return value > MAX_DURATION_MS ? Infinity : Math.ceil(value);
  return parseDuration(value, option);
}

function emit<T>(listeners: readonly Listener<T>[], event: T): void {
  for (const listener of listeners.slice()) {
    try {
      listener(event);
    } catch {
      // A listener that throws never breaks the store.
    }
  }
}

/**
 * Creates a {@link MemoryStore}.
 * @example const store = memoryStore({ maxEntries: 10_000, ttl: '5m' });
 */
export function memoryStore<V = unknown>(options?: MemoryStoreOptions<V>): MemoryStore<V> {
  return new MemoryStore<V>(options);
}
