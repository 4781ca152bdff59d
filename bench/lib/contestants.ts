/**
 * One small adapter per contestant, all behind the same get/set/close interface, plus the shared
 * `prefill` and `verifyFilled` helpers. Each library is imported lazily inside `create`, so a
 * `--heap` child loads only the library it measures.
 */

/** The value every contestant stores: one small shared object, so the numbers measure the cache. */
export const VALUE = Object.freeze({ id: 1, name: 'value' });
export type Value = typeof VALUE;

export interface CacheConfig {
  readonly maxEntries: number;
  /** Time to live of every entry in ms, set as the cache's default; `undefined`: no expiry. */
  readonly ttl: number | undefined;
}

interface Closable {
  close(): void | Promise<void>;
}

/** A cache that answers synchronously; timed with plain calls. */
export interface SyncCache extends Closable {
  readonly sync: true;
  get(key: string): unknown;
  set(key: string, value: Value): void;
}

/** A cache that answers with promises; timed with `await` on every call. */
export interface AsyncCache extends Closable {
  readonly sync: false;
  get(key: string): Promise<unknown>;
  set(key: string, value: Value): Promise<unknown>;
}

export type CacheUnderTest = SyncCache | AsyncCache;

export interface Contestant {
  /** Name on the command line (`--heap <id>`) and in the JSON results. */
  readonly id: string;
  /** Name in the tables. */
  readonly label: string;
  /** Whether `create` returns a {@link SyncCache}. Sync and async contestants run in separate heats. */
  readonly sync: boolean;
  /**
   * Set when the contestant always expires entries: its TTL-off runs use this default TTL
   * instead of none, and its tables mark it.
   */
  readonly alwaysTtl?: string;
  create(config: CacheConfig): Promise<CacheUnderTest>;
}

/** The baseline every ratio is taken against. */
export const BASELINE = 'lru-cache';

/** hoard's facade always has a TTL; without one asked for, it runs with its documented default. */
const FACADE_DEFAULT_TTL = '5m';

export const CONTESTANTS: readonly Contestant[] = [
  {
    id: 'hoard-store',
    label: 'hoard memoryStore (sync)',
    sync: true,
    async create({ maxEntries, ttl }) {
      const { memoryStore } = await import('../../src/index.js');
      const store = memoryStore<Value>(ttl === undefined ? { maxEntries } : { maxEntries, ttl });
      return {
        sync: true,
        get: (key) => store.get(key),
        set: (key, value) => store.set(key, value),
        close: () => store.close(),
      };
    },
  },
  {
    id: 'hoard-facade',
    label: 'hoard createCache (async)',
    sync: false,
    alwaysTtl: FACADE_DEFAULT_TTL,
    async create({ maxEntries, ttl }) {
      const { createCache, memoryStore } = await import('../../src/index.js');
      const cache = createCache({ store: memoryStore({ maxEntries }), defaultTtl: ttl ?? FACADE_DEFAULT_TTL });
      return {
        sync: false,
        get: (key) => cache.get(key),
        set: (key, value) => cache.set(key, value),
        close: () => cache.close(),
      };
    },
  },
  {
    id: 'lru-cache',
    label: 'lru-cache',
    sync: true,
    async create({ maxEntries, ttl }) {
      const { LRUCache } = await import('lru-cache');
      const lru = new LRUCache<string, Value>(ttl === undefined ? { max: maxEntries } : { max: maxEntries, ttl });
      return {
        sync: true,
        get: (key) => lru.get(key),
        set: (key, value) => {
          lru.set(key, value);
        },
        close: () => lru.clear(),
      };
    },
  },
  {
    id: 'tiny-lru',
    label: 'tiny-lru',
    sync: true,
    async create({ maxEntries, ttl }) {
      const { lru } = await import('tiny-lru');
      // resetTTL: a set restarts the entry's TTL, as it does in every other contestant.
      const cache = lru<Value>(maxEntries, ttl ?? 0, true);
      return {
        sync: true,
        get: (key) => cache.get(key),
        set: (key, value) => {
          cache.set(key, value);
        },
        close: () => {
          cache.clear();
        },
      };
    },
  },
  {
    id: 'quick-lru',
    label: 'quick-lru',
    sync: true,
    async create({ maxEntries, ttl }) {
      const { default: QuickLRU } = await import('quick-lru');
      const cache = new QuickLRU<string, Value>(
        ttl === undefined ? { maxSize: maxEntries } : { maxSize: maxEntries, maxAge: ttl },
      );
      return {
        sync: true,
        get: (key) => cache.get(key),
        set: (key, value) => {
          cache.set(key, value);
        },
        close: () => cache.clear(),
      };
    },
  },
  {
    id: 'bentocache',
    label: 'bentocache (memory)',
    sync: false,
    async create({ maxEntries, ttl }) {
      const { BentoCache, bentostore } = await import('bentocache');
      const { memoryDriver } = await import('bentocache/drivers/memory');
      const bento = new BentoCache({
        default: 'memory',
        ttl: ttl ?? null, // null: no expiry (its default is 30 s)
        stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: maxEntries })) },
      });
      return {
        sync: false,
        get: (key) => bento.get({ key }),
        set: (key, value) => bento.set({ key, value }),
        close: () => bento.disconnectAll(),
      };
    },
  },
  {
    id: 'cache-manager',
    label: 'cache-manager (memory)',
    sync: false,
    async create({ maxEntries, ttl }) {
      const { createCache } = await import('cache-manager');
      const { createKeyv } = await import('cacheable');
      // The bounded in-memory Keyv store its README recommends (plain `new Keyv()` has no size limit).
      const store = createKeyv({ lruSize: maxEntries, useClone: false });
      const cache = createCache(ttl === undefined ? { stores: [store] } : { stores: [store], ttl });
      return {
        sync: false,
        get: (key) => cache.get(key),
        set: (key, value) => cache.set(key, value),
        close: async () => {
          await cache.disconnect();
        },
      };
    },
  },
  {
    id: 'cacheable',
    label: 'cacheable (memory)',
    sync: false,
    async create({ maxEntries, ttl }) {
      const { Cacheable, createKeyv } = await import('cacheable');
      const primary = createKeyv({ lruSize: maxEntries, useClone: false });
      const cache = new Cacheable(ttl === undefined ? { primary } : { primary, ttl });
      return {
        sync: false,
        get: (key) => cache.get(key),
        set: (key, value) => cache.set(key, value),
        close: () => cache.disconnect(),
      };
    },
  },
];

export function contestantById(id: string): Contestant {
  const found = CONTESTANTS.find((c) => c.id === id);
  if (found === undefined) {
    throw new Error(`unknown contestant "${id}"; expected one of ${CONTESTANTS.map((c) => c.id).join(', ')}`);
  }
  return found;
}

/** Writes `keys` into the cache (untimed), awaiting each write of an async cache. */
export async function prefill(cache: CacheUnderTest, keys: readonly string[]): Promise<void> {
  if (cache.sync) {
    for (const key of keys) cache.set(key, VALUE);
  } else {
    for (const key of keys) await cache.set(key, VALUE);
  }
}

/**
 * Checks a filled cache before timing it: sampled fill keys must hit (with the stored value or,
 * for caches that serialize, an equal copy) and sampled other keys must miss. Catches a cache
 * that is smaller than asked for or expires early, which would turn "get (hit)" into misses.
 */
export async function verifyFilled(cache: CacheUnderTest, fill: readonly string[], misses: readonly string[]): Promise<void> {
  const expected = JSON.stringify(VALUE);
  const step = Math.max(1, Math.floor(fill.length / 100));
  for (let i = 0; i < fill.length; i += step) {
    const value = await cache.get(fill[i]!);
    if (value !== VALUE && JSON.stringify(value) !== expected) throw new Error(`filled key ${fill[i]!} is missing`);
  }
  for (let i = 0; i < misses.length; i += step) {
    if ((await cache.get(misses[i]!)) !== undefined) throw new Error(`key ${misses[i]!} was never set but is found`);
  }
}
