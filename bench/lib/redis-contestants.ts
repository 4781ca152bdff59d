/**
 * Two-tier (memory + Redis) contestants of the Redis benchmark, all behind one small interface.
 * Each library is imported lazily inside `create`. Every contestant gets the same L1 size, the
 * same TTL, its own key prefix, and the same "database" (the loader passed in).
 *
 * What each one is given for outages is written next to it and in bench/README.md: the point is
 * that every library gets its own documented timeout and failure options set the way its docs
 * recommend, with the same 50 ms per-command deadline hoard's `l2Timeout` defaults to.
 */
import type { Keyv } from 'keyv';

/** What a factory returns: a small fresh object per call, as a database driver would. */
export interface Value {
  readonly key: string;
  readonly source: 'factory' | 'marker';
}

/** The "database" every contestant's factory calls. */
export type Loader = (key: string) => Promise<Value>;

export interface RedisCacheConfig {
  /** `redis://127.0.0.1:P` of the benchmark's own server. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Key prefix in Redis, unique per contestant. */
  readonly prefix: string;
  /** Time to live of every entry, in ms, set as the cache's default. */
  readonly ttlMs: number;
  /** Entries the memory tier holds. */
  readonly l1Entries: number;
  /** Per-command deadline given to every library that has one (hoard: its `l2Timeout` default). */
  readonly commandTimeoutMs: number;
  readonly load: Loader;
}

/** One contestant's cache, ready to use. */
export interface RedisCache {
  /** Cache-aside read of `key`; on a miss the value comes from the shared loader. */
  getOrSet(key: string): Promise<unknown>;
  /**
   * Writes `value` so that, once the promise settles, Redis holds it in the library's own format
   * (used to fill Redis before a run, from a second instance).
   */
  set(key: string, value: Value): Promise<void>;
  /** Errors the library reported without rejecting a call (events, logs, swallowed failures). */
  reported(): number;
  close(): Promise<void>;
}

export interface RedisContestant {
  /** Name in the JSON results. */
  readonly id: string;
  /** Name in the tables. */
  readonly label: string;
  /** What was configured, for the results and the README. */
  readonly settings: string;
  create(config: RedisCacheConfig): Promise<RedisCache>;
}

/** The floor every ratio is taken against. */
export const FLOOR = 'hand-rolled';

/**
 * The ioredis settings hoard's own clients use (its CLIENT_DEFAULTS), plus a per-command
 * deadline: given to bentocache so it is not judged on ioredis defaults (offline queue, 20
 * retries per request, no command timeout) that hoard does not use either.
 */
function fastFailIoredis(config: RedisCacheConfig): Record<string, unknown> {
  return {
    host: config.host,
    port: config.port,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: 2_000,
    retryStrategy: reconnectDelay,
  };
}

/** Resolves once an ioredis client is ready for commands (at most 5 s). */
async function ready(client: { status: string; once(event: 'ready', listener: () => void): unknown }): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Redis connection not ready within 5 s')), 5_000);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * The bus connection of bentocache: like the above, but with the offline queue on, since its bus
 * subscribes as soon as it is created (before the connection is up) and rejects without a queue.
 */
function busIoredis(config: RedisCacheConfig): Record<string, unknown> {
  return { ...fastFailIoredis(config), enableOfflineQueue: true };
}

/** hoard's reconnect backoff: 100 ms doubling to 1 s. Used by every client that takes one. */
function reconnectDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 5), 1_000);
}

/**
 * `@keyv/redis` (node-redis 5) with the fast-fail settings cacheable's README lists for a
 * secondary store (no offline queue, `throwOnConnectError: false`) and a per-command timeout.
 * Unlike `createKeyvNonBlocking` it keeps reconnecting (the README's version sets
 * `reconnectStrategy: false`, so a restarted Redis would never be used again).
 */
async function keyvRedis(config: RedisCacheConfig, count: () => void): Promise<Keyv> {
  const { createKeyv, default: KeyvRedis } = await import('@keyv/redis');
  const keyv = createKeyv(
    {
      url: config.url,
      disableOfflineQueue: true,
      commandOptions: { timeout: config.commandTimeoutMs },
      socket: { connectTimeout: 2_000, reconnectStrategy: reconnectDelay },
    },
    { namespace: config.prefix, throwOnConnectError: false, throwOnErrors: false },
  );
  keyv.on('error', count);
  // Connect now: the client connects on first use, and without an offline queue every call made
  // while it connects fails (and is swallowed), so a cold start would write nothing.
  const store: unknown = keyv.store;
  if (!(store instanceof KeyvRedis)) throw new Error('expected a KeyvRedis store');
  await store.getClient();
  return keyv;
}

/** A bounded in-memory Keyv (cacheable's CacheableMemory), as in the memory benchmark. */
async function keyvMemory(config: RedisCacheConfig): Promise<Keyv> {
  const { createKeyv } = await import('cacheable');
  return createKeyv({ lruSize: config.l1Entries, useClone: false, ttl: config.ttlMs });
}

export const REDIS_CONTESTANTS: readonly RedisContestant[] = [
  {
    id: 'hoard',
    label: 'hoard',
    settings:
      'createCache({ l1: memoryStore({ maxEntries }), l2: redisStore({ url, prefix }), bus: redisBus({ url }), namespace: prefix, defaultTtl }): defaults (l2Timeout 50 ms, circuit breaker, generation checks, no distributed lock, adaptive pipelining)',
    async create(config) {
      const { createCache, memoryStore } = await import('../../src/index.js');
      const { redisStore, redisBus } = await import('../../src/redis/index.js');
      const cache = createCache(
        {
          l1: memoryStore({ maxEntries: config.l1Entries }),
          l2: redisStore({ url: config.url, prefix: config.prefix }),
          bus: redisBus({ url: config.url }),
          namespace: config.prefix,
          defaultTtl: config.ttlMs,
        },
        {},
      );
      let reported = 0;
      cache.on('error', () => {
        reported++;
      });
      const load = config.load;
      return {
        getOrSet: (key) => cache.getOrSet(key, () => load(key)),
        set: (key, value) => cache.set(key, value),
        reported: () => reported,
        close: () => cache.close(),
      };
    },
  },
  {
    id: 'bentocache',
    label: 'bentocache',
    settings:
      "memoryDriver({ maxItems }) + redisDriver + redisBusDriver, prefix, ttl; l2CircuitBreakerDuration '2s'; ioredis as hoard's client (no offline queue, no retries, auto-pipelining) + commandTimeout 50 ms",
    async create(config) {
      const { BentoCache, bentostore } = await import('bentocache');
      const { memoryDriver } = await import('bentocache/drivers/memory');
      const { redisDriver, redisBusDriver } = await import('bentocache/drivers/redis');
      let reported = 0;
      // Bentocache suppresses L2 errors in two tiers and logs them: count the error logs.
      const quiet = (): void => {};
      const logger = {
        trace: quiet,
        debug: quiet,
        info: quiet,
        warn: quiet,
        error: () => {
          reported++;
        },
        fatal: () => {
          reported++;
        },
        child: () => logger,
      };
      // The L2 connection is made here and awaited: bentocache creates its driver on first use,
      // so the first calls of a cold start would fail without an offline queue and open the
      // circuit breaker before Redis was ever tried.
      const { Redis } = await import('ioredis');
      const connection = new Redis(fastFailIoredis(config));
      connection.on('error', () => {
        reported++;
      });
      await ready(connection);
      const bento = new BentoCache({
        default: 'tiered',
        prefix: config.prefix,
        ttl: config.ttlMs,
        logger,
        l2CircuitBreakerDuration: '2s',
        stores: {
          tiered: bentostore()
            .useL1Layer(memoryDriver({ maxItems: config.l1Entries }))
            .useL2Layer(redisDriver({ connection }))
            .useBus(redisBusDriver({ connection: busIoredis(config) })),
        },
      });
      const load = config.load;
      return {
        getOrSet: (key) => bento.getOrSet({ key, factory: () => load(key) }),
        set: async (key, value) => {
          await bento.set({ key, value });
        },
        reported: () => reported,
        close: async () => {
          await bento.disconnectAll();
          connection.disconnect();
        },
      };
    },
  },
  {
    id: 'cache-manager',
    label: 'cache-manager',
    settings:
      'createCache({ stores: [CacheableMemory keyv (lruSize), @keyv/redis keyv (namespace)], ttl, nonBlocking: true }) with wrap(); node-redis: disableOfflineQueue, commandOptions.timeout 50 ms, throwOnConnectError: false',
    async create(config) {
      const { createCache } = await import('cache-manager');
      let reported = 0;
      const count = (): void => {
        reported++;
      };
      const redis = await keyvRedis(config, count);
      // nonBlocking: writes do not wait for every store (its README's option for several stores).
      const cache = createCache({ stores: [await keyvMemory(config), redis], ttl: config.ttlMs, nonBlocking: true });
      const load = config.load;
      return {
        getOrSet: (key) => cache.wrap(key, () => load(key)),
        // Straight to the Redis store (what cache.set does there): with nonBlocking, cache.set
        // would not wait, and a flood of unawaited writes runs into the command timeout.
        set: async (key, value) => {
          await redis.set(key, value, config.ttlMs);
        },
        reported: () => reported,
        close: async () => {
          await cache.disconnect();
        },
      };
    },
  },
  {
    id: 'cacheable',
    label: 'cacheable',
    settings:
      'new Cacheable({ primary: CacheableMemory keyv (lruSize), secondary: @keyv/redis keyv (namespace), ttl, nonBlocking: true }) with getOrSet(k, f, { nonBlocking: false }); node-redis as for cache-manager',
    async create(config) {
      const { Cacheable } = await import('cacheable');
      let reported = 0;
      const count = (): void => {
        reported++;
      };
      const secondary = await keyvRedis(config, count);
      // nonBlocking (its README's advice with @keyv/redis) makes writes to Redis background
      // work; reads of getOrSet stay blocking, or a cold key would never be read from Redis.
      const cache = new Cacheable({ primary: await keyvMemory(config), secondary, ttl: config.ttlMs, nonBlocking: true });
      cache.on('error', count);
      const options = { nonBlocking: false };
      const load = config.load;
      return {
        getOrSet: (key) => cache.getOrSet(key, () => load(key), options),
        // Straight to the secondary, as for cache-manager.
        set: async (key, value) => {
          await secondary.set(key, value, config.ttlMs);
        },
        reported: () => reported,
        close: () => cache.disconnect(),
      };
    },
  },
  {
    id: FLOOR,
    label: 'hand-rolled lru-cache + ioredis',
    settings:
      "LRUCache({ max, ttl }) in front of ioredis({ enableAutoPipelining: true }) with ioredis defaults otherwise (no timeouts); JSON; GET, else factory + SET PX without waiting; a failed command falls through to the factory",
    async create(config) {
      const { LRUCache } = await import('lru-cache');
      const { Redis } = await import('ioredis');
      const lru = new LRUCache<string, object>({ max: config.l1Entries, ttl: config.ttlMs });
      const redis = new Redis({ host: config.host, port: config.port, enableAutoPipelining: true });
      let reported = 0;
      const count = (): void => {
        reported++;
      };
      redis.on('error', count);
      const { prefix, ttlMs, load } = config;
      const miss = async (key: string): Promise<unknown> => {
        const full = prefix + key;
        let text: string | null = null;
        try {
          text = await redis.get(full);
        } catch {
          count();
        }
        if (text !== null) {
          const value = JSON.parse(text) as object;
          lru.set(key, value);
          return value;
        }
        const value = await load(key);
        lru.set(key, value);
        redis.set(full, JSON.stringify(value), 'PX', ttlMs).catch(count);
        return value;
      };
      return {
        getOrSet: async (key) => {
          const value = lru.get(key);
          return value !== undefined ? value : miss(key);
        },
        set: async (key, value) => {
          lru.set(key, value);
          await redis.set(prefix + key, JSON.stringify(value), 'PX', ttlMs);
        },
        reported: () => reported,
        close: async () => {
          redis.disconnect();
        },
      };
    },
  },
];
