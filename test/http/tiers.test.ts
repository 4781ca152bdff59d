/**
 * Two instances of a service, each with a two-tier cache (memory in front of one redis-server of
 * this file, with the bus and the distributed lock), each behind the response cache: pages
 * round-trip through Redis exactly, single flight holds across instances, and a successful unsafe
 * request on one instance purges the page on the other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync, gunzipSync } from 'node:zlib';
import { createCache, memoryStore } from '../../src/index.js';
import type { Cache } from '../../src/index.js';
import { redisBus, redisStore } from '../../src/redis/index.js';
import { pollUntil, startRedis, type RedisProcess } from '../harness/index.js';
import { guardProcess } from '../helpers/guard.js';
import { ADAPTERS, registerCleanup, request, startServer, type Handler, type TestServer } from './support.js';

registerCleanup();
guardProcess();

let redis: RedisProcess;
const caches: Cache[] = [];
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await Promise.all(caches.map((c) => c.close().catch(() => undefined)));
  await redis.stop();
});

let n = 0;
async function twoInstances(adapter: (typeof ADAPTERS)[number], handler: Handler): Promise<[TestServer, TestServer]> {
  const namespace = `pages${++n}:`;
  const make = (): Cache => {
    const cache = createCache({ l1: memoryStore(), l2: redisStore({ url: redis.url }), bus: redisBus({ url: redis.url }), namespace, distributedLock: true, l2Timeout: '500ms' }, {});
    caches.push(cache);
    return cache;
  };
  const a = make();
  const b = make();
  await Promise.all([a.ready(), b.ready()]);
  return [await startServer(adapter, handler, {}, { cache: a }), await startServer(adapter, handler, {}, { cache: b })];
}

/** Both instances answer for one site: the Host header is the same. */
const site = { host: 'shop.test' };

for (const adapter of ADAPTERS) {
  describe(`${adapter}: two instances on two tiers`, () => {
    it('a page stored by one instance is served by the other from Redis, exactly', async () => {
      let runs = 0;
      const body = gzipSync('binary page \u0000\u00ff');
      const [a, b] = await twoInstances(adapter, () => {
        runs++;
        return { headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip', vary: 'Accept-Encoding', link: ['</a>; rel=preload', '</b>; rel=preload'] }, body };
      });
      const headers = { ...site, 'accept-encoding': 'gzip' };
      const first = await request(a.port, '/p', { headers });
      const other = await request(b.port, '/p', { headers });
      assert.equal(first.headers['x-cache'], 'MISS');
      assert.equal(other.headers['x-cache'], 'HIT', 'the other instance found the page in Redis');
      assert.equal(runs, 1);
      assert.ok(other.body.equals(body), 'the body bytes round-trip');
      assert.equal(gunzipSync(other.body).toString(), 'binary page \u0000\u00ff');
      assert.equal(other.headers.etag, first.headers.etag);
      assert.equal(other.headers['content-encoding'], 'gzip');
      assert.equal(other.headers.link, first.headers.link);
    });

    it('concurrent misses on both instances run the handler once (single flight across instances)', async () => {
      let runs = 0;
      const [a, b] = await twoInstances(adapter, async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 100));
        return { body: `page ${runs}` };
      });
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => request(i % 2 === 0 ? a.port : b.port, '/flight', { headers: site })));
      assert.equal(runs, 1, 'the distributed lock lets one instance run the handler');
      for (const r of replies) assert.equal(r.text, 'page 1');
    });

    it('a successful POST on one instance purges the page on the other', async () => {
      let version = 1;
      const [a, b] = await twoInstances(adapter, (c) => {
        if (c.method === 'POST') {
          version++;
          return { status: 204 };
        }
        return { body: `v${version}` };
      });
      await request(a.port, '/item', { headers: site });
      assert.equal((await request(a.port, '/item', { headers: site })).headers['x-cache'], 'HIT');
      await request(b.port, '/item', { method: 'POST', headers: site });
      await pollUntil(async () => (await request(a.port, '/item', { headers: site })).text === 'v2', { timeoutMs: 2_000, description: 'instance A serves v2' });
    });
  });
}
