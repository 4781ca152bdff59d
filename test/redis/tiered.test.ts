import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Cache, createCache, memoryStore, SerializationError } from '../../src/index.js';
import type { CacheOptions } from '../../src/index.js';
import { redisBus, redisStore } from '../../src/redis/index.js';
import type { RedisStore } from '../../src/redis/index.js';
import { guardProcess } from '../helpers/guard.js';
import { pollUntil, startRedis } from '../harness/index.js';
import type { RedisProcess } from '../harness/index.js';

guardProcess();

let redis: RedisProcess;
let inspect: Redis;
let n = 0;
const caches: Cache[] = [];

/** A two-tier cache on its own prefix. */
function tiered(options: CacheOptions = {}): Cache {
  const prefix = `tt${++n}:`;
  const cache = createCache({ l1: memoryStore(), l2: redisStore({ url: redis.url, prefix }), namespace: prefix, ...options }, {});
  caches.push(cache);
  return cache;
}

/** A Redis-only cache (memory is only the fallback while Redis is away). */
function redisOnly(prefix = `ro${++n}:`): Cache {
  const cache = createCache({ store: redisStore({ url: redis.url, prefix }), namespace: prefix }, {});
  caches.push(cache);
  return cache;
}

before(async () => {
  redis = await startRedis();
  inspect = new Redis(redis.url);
});
after(async () => {
  await Promise.all(caches.map((c) => c.close()));
  inspect.disconnect();
  await redis.stop();
});

describe('two tiers', () => {
  it('after await set() the value is in Redis and in memory', async () => {
    const cache = tiered();
    await cache.set('k', { a: 1 }, { ttl: '1m' });
    const prefix = `tt${n}:`;
    assert.ok((await inspect.get(`${prefix}k`))?.includes('"a":1'));
    assert.equal(Cache.internals(cache).flights, 0);
    assert.deepEqual(await cache.get('k'), { a: 1 });
    assert.equal(cache.stats().l2Available, true);
  });

  it('disable(): a set removes the key in Redis and in the other instances, so nothing stale is served after enable()', async () => {
    const prefix = `dis${++n}:`;
    const a = createCache({ l1: memoryStore(), l2: redisStore({ url: redis.url }), bus: redisBus({ url: redis.url }), namespace: prefix }, {});
    const b = createCache({ l1: memoryStore(), l2: redisStore({ url: redis.url }), bus: redisBus({ url: redis.url }), namespace: prefix }, {});
    caches.push(a, b);
    await Promise.all([a.ready(), b.ready()]);
    await a.set('k', 'old');
    assert.equal(await b.get('k'), 'old', 'b holds a copy in its L1');
    a.disable();
    await a.set('k', 'new');
    assert.equal(await a.get('k'), undefined);
    await pollUntil(async () => (await b.get('k')) === undefined, { timeoutMs: 3_000, description: "b dropped its copy of k" });
    a.enable();
    assert.equal(await a.get('k'), undefined, 'Redis no longer holds the old value');
  });

  it('an L1 hit sends nothing to Redis', async () => {
    const cache = tiered();
    await cache.set('k', 1);
    const monitor = await redis.monitor();
    for (let i = 0; i < 50; i++) assert.equal(await cache.get('k'), 1);
    assert.equal(await cache.getOrSet('k', () => 2), 1);
    await monitor.stop();
    assert.deepEqual(monitor.commands().filter((c) => c !== 'ping'), []);
  });

  it('a value only in L2 is read once, counted as a hit, and copied to L1 with the TTL it has left', async () => {
    const writer = tiered();
    const prefix = `tt${n}:`;
    await writer.set('k', 'v', { ttl: 10_000 });
    const reader = createCache({ l1: memoryStore(), l2: redisStore({ url: redis.url, prefix }), namespace: prefix }, {});
    caches.push(reader);
    assert.equal(await reader.get('k'), 'v');
    const ttl = await reader.ttl('k');
    assert.ok(ttl !== undefined && ttl <= 10_000 && ttl > 9_000, `L1 ttl ${String(ttl)}`);
    const monitor = await redis.monitor();
    assert.equal(await reader.get('k'), 'v');
    await monitor.stop();
    assert.deepEqual(monitor.commands().filter((c) => c !== 'ping'), [], 'second read served by L1');
    assert.equal(reader.stats().hits, 2);
    let calls = 0;
    assert.equal(await reader.getOrSet('k', () => (calls++, 'x')), 'v');
    assert.equal(calls, 0);
  });

  it('getOrSet: concurrent misses read L2 once and run the factory once; the result reaches Redis', async () => {
    const cache = tiered();
    const prefix = `tt${n}:`;
    let calls = 0;
    const monitor = await redis.monitor();
    const values = await Promise.all(
      Array.from({ length: 50 }, () =>
        cache.getOrSet('cold', async () => {
          calls++;
          await new Promise((r) => setTimeout(r, 20));
          return 'loaded';
        }),
      ),
    );
    await new Promise((r) => setTimeout(r, 20));
    await monitor.stop();
    assert.equal(calls, 1);
    assert.ok(values.every((v) => v === 'loaded'));
    assert.equal(monitor.commands().filter((c) => c === 'get').length, 1);
    assert.ok((await inspect.get(`${prefix}cold`))?.endsWith('"loaded"'));
    assert.equal(cache.stats().misses, 50);
  });

  it('a SerializationError at set writes nothing to any tier and keeps the old value', async () => {
    const cache = tiered();
    await cache.set('k', 'old');
    await assert.rejects(cache.set('k', { fn: () => 1 }), (e: unknown) => e instanceof SerializationError && e.path === '$.fn');
    assert.equal(await cache.get('k'), 'old');
    assert.ok((await inspect.get(`tt${n}:k`))?.endsWith('"old"'));
    await assert.rejects(cache.setMany([{ key: 'a', value: 1 }, { key: 'b', value: Symbol('s') }]), SerializationError);
    assert.equal(await cache.has('a'), false);
  });

  it('a factory result that cannot be serialized is returned but stored nowhere', async () => {
    const cache = tiered();
    const errors: string[] = [];
    cache.on('error', (e) => errors.push(e.error.name));
    const value = await cache.getOrSet('k', () => ({ fn: () => 1 }));
    assert.equal(typeof value.fn, 'function');
    assert.equal(await cache.has('k'), false);
    assert.deepEqual(errors, ['SerializationError']);
  });

  it('delete, deleteMany, deletePattern, invalidateTags and clear reach both tiers and count distinct entries', async () => {
    const cache = tiered();
    const prefix = `tt${n}:`;
    await cache.setMany([
      { key: 'user:1', value: 1, tags: ['u'] },
      { key: 'user:2', value: 2, tags: ['u'] },
      { key: 'post:1', value: 3 },
      { key: 'post:2', value: 4 },
    ]);
    assert.equal(await cache.delete('post:1'), true);
    assert.equal(await cache.delete('post:1'), false);
    assert.equal(await cache.invalidateTags(['u']), 2);
    assert.equal(await cache.deletePattern('post:*'), 1);
    await cache.namespace('t').set('x', 1);
    await cache.set('y', 1);
    await cache.namespace('t').clear();
    assert.equal(await inspect.exists(`${prefix}t:x`), 0);
    assert.equal(await inspect.exists(`${prefix}y`), 1);
    await cache.clear();
    assert.deepEqual(await inspect.keys(`${prefix}*`), []);
    assert.equal(cache.stats().size, 0);
  });

  it('getMany reads the keys missing from memory in one round trip and keeps key order', async () => {
    const cache = tiered();
    const prefix = `tt${n}:`;
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    await cache.setMany(keys.map((key, i) => ({ key, value: i })));
    const other = createCache({ l1: memoryStore(), l2: redisStore({ url: redis.url, prefix }), namespace: prefix }, {});
    caches.push(other);
    await other.get('k0');
    const monitor = await redis.monitor();
    assert.deepEqual(await other.getMany([...keys, 'nope']), [...keys.map((_, i) => i), undefined]);
    await monitor.stop();
    assert.deepEqual(monitor.commands().filter((c) => c !== 'ping'), ['mget']);
  });

  it('incr is atomic across instances through Redis', async () => {
    const a = tiered();
    const prefix = `tt${n}:`;
    const b = createCache({ l1: memoryStore(), l2: redisStore({ url: redis.url, prefix }), namespace: prefix }, {});
    caches.push(b);
    await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).incr('n')));
    assert.equal(await a.get('n'), 100);
    assert.equal(await b.get('n'), 100);
  });

  it('namespaces map to <prefix><ns>:key in Redis', async () => {
    const cache = tiered();
    await cache.namespace('tenant').namespace('users').set('42', 'x');
    assert.equal(await inspect.exists(`tt${n}:tenant:users:42`), 1);
  });
});

describe('Redis only', () => {
  it('reads and writes go to Redis; memory stays empty while Redis is up', async () => {
    const cache = redisOnly();
    await cache.set('k', 'v');
    assert.equal(await cache.get('k'), 'v');
    assert.equal(cache.stats().size, 0);
    assert.equal(await cache.getOrSet('k', () => 'other'), 'v');
    assert.equal(cache.stats().l2Available, true);
  });

  it('createCache() from the environment builds the redis and tiered backends', async () => {
    const prefix = `env${++n}:`;
    const env = { CACHE_BACKEND: 'tiered', CACHE_REDIS_URL: redis.url, CACHE_KEY_PREFIX: prefix, CACHE_BUS: 'false' };
    const cache = createCache({}, env);
    caches.push(cache);
    await cache.set('k', 1);
    assert.equal(await inspect.exists(`${prefix}k`), 1);
    const viaRedisPort = createCache({}, { CACHE_TYPE: 'redis', REDIS_HOST: '127.0.0.1', REDIS_PORT: String(redis.port), CACHE_KEY_PREFIX: prefix });
    caches.push(viaRedisPort);
    assert.equal(await viaRedisPort.get('k'), 1);
    assert.throws(() => createCache({}, { CACHE_BACKEND: 'redis', REDIS_PORT: 'tcp://10.0.0.1:6379' }), { option: 'REDIS_PORT' });
  });
});

describe('distributed lock (C6)', () => {
  it('instances missing the same key run the factory once between them', async () => {
    const prefix = `dl${++n}:`;
    const stores: RedisStore[] = [];
    const make = (): Cache => {
      const l2 = redisStore({ url: redis.url, prefix });
      stores.push(l2);
      // A generous l2Timeout: on a loaded machine a lock call past the default 50 ms runs the
      // factory unlocked (fail open, by design), which is not what this test is about.
      const cache = createCache({ l1: memoryStore(), l2, namespace: prefix, distributedLock: { ttl: '1s' }, l2Timeout: '2s' }, {});
      caches.push(cache);
      return cache;
    };
    const a = make();
    const b = make();
    // Connected first: a lock call that misses l2Timeout while connecting runs the factory unlocked.
    await pollUntil(() => stores.every((s) => s.ready), { timeoutMs: 5_000, description: 'both connected' });
    let calls = 0;
    const loader = async (): Promise<string> => {
      calls++;
      await new Promise((r) => setTimeout(r, 300));
      return 'once';
    };
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).getOrSet('k', loader)));
    assert.ok(results.every((r) => r === 'once'));
    assert.equal(calls, 1);
    // Released right after the value reached Redis (in the background), well before its 1 s TTL.
    await pollUntil(async () => (await inspect.exists(`${prefix}\u0000l:k`)) === 0, { timeoutMs: 500, description: 'lock released' });
  });

  it('a crashed holder delays the others by at most the lock TTL', async () => {
    const prefix = `dl${++n}:`;
    const cache = createCache(
      { l1: memoryStore(), l2: redisStore({ url: redis.url, prefix }), namespace: prefix, distributedLock: { ttl: 500 } },
      {},
    );
    caches.push(cache);
    await cache.get('warm-up');
    await inspect.set(`${prefix}\u0000l:k`, 'crashed-holder', 'PX', 500, 'NX');
    const started = performance.now();
    assert.equal(await cache.getOrSet('k', () => 'mine'), 'mine');
    const waited = performance.now() - started;
    assert.ok(waited >= 400 && waited < 500 + 300, `waited ${waited.toFixed(0)} ms for a 500 ms lock`);
  });

  it('lock: false opts one call out', async () => {
    const prefix = `dl${++n}:`;
    const cache = createCache(
      { l1: memoryStore(), l2: redisStore({ url: redis.url, prefix }), namespace: prefix, distributedLock: true },
      {},
    );
    caches.push(cache);
    await cache.get('warm-up');
    await inspect.set(`${prefix}\u0000l:k`, 'someone', 'PX', 5000, 'NX');
    const started = performance.now();
    assert.equal(await cache.getOrSet('k', () => 'v', { lock: false }), 'v');
    assert.ok(performance.now() - started < 200);
  });
});

describe('bounds and races', () => {
  it('I8: a 10 MB value over the memory tier\'s 1 MB bound lives in L2 only; the L1 bound holds', async () => {
    const prefix = `big${++n}:`;
    const l1 = memoryStore({ maxBytes: 1 << 20 });
    const cache = createCache({ l1, l2: redisStore({ url: redis.url, prefix }), namespace: prefix, l2Timeout: '2s' }, {});
    caches.push(cache);
    const big = 'x'.repeat(10 << 20);
    await cache.set('big', big);
    assert.ok(l1.bytes <= 1 << 20, `L1 holds ${l1.bytes} bytes`);
    assert.equal(l1.has('big'), false);
    assert.equal((await cache.get<string>('big'))?.length, big.length, 'served from L2');
    assert.ok(l1.bytes <= 1 << 20);
  });

  it('C7: no value whose write completed before invalidateTags started is readable afterwards', async (t) => {
    const cache = tiered();
    const prefix = `tt${n}:`;
    // Read back through the writing cache (its L1, then L2) and straight from Redis.
    const direct = redisStore({ url: redis.url, prefix });
    const completedAt = new Map<string, number>(); // "key=value" -> when that write completed
    let stop = false;
    let value = 0;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const key = `w${w}:${i % 50}`;
        const v = ++value;
        await cache.set(key, v, { tags: ['T'] });
        completedAt.set(`${key}=${v}`, performance.now());
      }
    };
    const writers = [writer(0), writer(1), writer(2)];
    let checked = 0;
    // Writers stop even when an assertion below fails, or they would keep the file running.
    t.after(async () => {
      stop = true;
      await Promise.allSettled(writers);
    });
    for (let round = 0; round < 20; round++) {
      await new Promise((r) => setTimeout(r, 5));
      const started = performance.now();
      await cache.invalidateTags(['T']);
      const keys = Array.from({ length: 150 }, (_, i) => `w${i % 3}:${Math.floor(i / 3)}`);
      for (const values of [await cache.getMany<number>(keys), (await direct.getMany(keys)) as (number | undefined)[]]) {
        keys.forEach((key, i) => {
          const v = values[i];
          if (v === undefined) return;
          checked++;
          const at = completedAt.get(`${key}=${v}`);
          // Readable values must come from writes still running when the invalidation started.
          assert.ok(at === undefined || at >= started, `${key}=${v} completed before round ${round}'s invalidation and is still readable`);
        });
      }
    }
    stop = true;
    await Promise.all(writers);
    await direct.close();
    assert.ok(value > 100, `writers made progress (${value} writes, ${checked} readable values checked)`);
  });
});
