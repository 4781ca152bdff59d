/**
 * Cold start against a Redis that is not on loopback (issue 7, point 2): connecting takes several
 * round trips, longer than `l2Timeout`, so the first calls must wait for the first connection
 * (`connectTimeout`) instead of missing Redis. The proxy adds 10 ms each way: a 20 ms round trip.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCache, memoryStore } from '../../src/index.js';
import type { Cache, CacheOptions } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { guardProcess } from '../helpers/guard.js';
import { directStore, freshPrefix, proxyTo, registerCleanup, server, timed } from './faults-support.js';

registerCleanup();
guardProcess();

const caches: Cache[] = [];
function fresh(url: string, prefix: string, options: CacheOptions = {}): Cache {
  const cache = createCache({ l1: memoryStore(), l2: redisStore({ url }), namespace: prefix, ...options }, {});
  caches.push(cache);
  return cache;
}

describe('cold start through a 20 ms round trip', () => {
  it('the first set lands, the first getOrSet finds what Redis holds, and incr counts across fresh instances', async () => {
    const redis = await server();
    const proxy = await proxyTo(redis);
    proxy.set({ delayMs: 10 });
    const prefix = freshPrefix('cold');
    const check = await directStore(redis.url, prefix);
    try {
      await fresh(proxy.url, prefix).set('k', 'first');
      assert.equal(await check.get('k'), 'first', 'the first set reached Redis');
      let ran = 0;
      const value = await fresh(proxy.url, prefix).getOrSet('k', () => {
        ran++;
        return 'recomputed';
      });
      assert.equal(value, 'first');
      assert.equal(ran, 0, 'the factory did not run for a key Redis holds');
      const [a, b] = [fresh(proxy.url, prefix), fresh(proxy.url, prefix)];
      await Promise.all([a, b].map(async (c) => {
        for (let i = 0; i < 10; i++) await c.incr('n');
      }));
      assert.equal(await check.get('n'), 20, 'no count was lost');
    } finally {
      await Promise.all(caches.splice(0).map((c) => c.close()));
    }
  });

  it('without the budget (connectTimeout 0) the first set misses Redis: what the budget is for', async () => {
    const redis = await server();
    const proxy = await proxyTo(redis);
    proxy.set({ delayMs: 10 });
    const prefix = freshPrefix('nobudget');
    const check = await directStore(redis.url, prefix);
    try {
      await fresh(proxy.url, prefix, { connectTimeout: 0 }).set('k', 'first');
      assert.equal(await check.get('k'), undefined);
    } finally {
      await Promise.all(caches.splice(0).map((c) => c.close()));
    }
  });

  it('ready() resolves once connected; against a refused port it resolves at once with l2Available false', async () => {
    const redis = await server();
    const proxy = await proxyTo(redis);
    proxy.set({ delayMs: 10 });
    try {
      const cache = fresh(proxy.url, freshPrefix('ready'));
      await cache.ready();
      assert.equal(cache.stats().l2Available, true);
      const first = await timed(() => cache.get('x'));
      assert.ok(first.ms < 50 + 100, `a call after ready() takes one round trip (${first.ms.toFixed(0)} ms)`);
      proxy.set({ mode: 'refuse' });
      const refused = fresh(proxy.url, freshPrefix('refused'));
      const wait = await timed(() => refused.ready());
      assert.ok(wait.ms < 500, `ready() gave up at the refusal, not at connectTimeout (${wait.ms.toFixed(0)} ms)`);
      const call = await timed(() => refused.set('k', 1));
      assert.ok(call.ms < 150, `calls do not wait for a refused connection (${call.ms.toFixed(0)} ms)`);
      assert.equal(await createCache({}, {}).ready(), undefined, 'a memory cache is ready at once');
    } finally {
      await Promise.all(caches.splice(0).map((c) => c.close()));
    }
  });
});
