import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { AdminStats, KeyReport, RedisFigures } from '../../src/admin/index.js';
import { Cache } from '../../src/index.js';
import { guardProcess } from '../helpers/guard.js';
import { onCleanup, redisCache, registerCleanup, sharedRedis, tieredCache } from '../metrics/support.js';
import { mount } from './support.js';
import type { Adapter } from './support.js';

registerCleanup();
guardProcess();

const TOKEN = 'redis-admin-token-0123456789';
const headers = { authorization: `Bearer ${TOKEN}` };

async function get<T>(base: string, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(base + path, { headers });
  return { status: res.status, body: (await res.json()) as T };
}

async function admin(adapter: Adapter, cache: Parameters<typeof mount>[1]['cache']): Promise<string> {
  const m = await mount(adapter, { cache, token: TOKEN });
  onCleanup(() => m.close());
  return m.base;
}

describe('admin routes on a Redis-backed cache (real redis-server)', () => {
  it("GET /stats carries Redis' own figures from INFO", async () => {
    const cache = await tieredCache({ bus: true });
    await cache.set('k', 'v');
    await cache.get('absent');
    const redis = await sharedRedis();
    await redis.cli('CONFIG', 'SET', 'maxmemory', '64mb');
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    const base = await admin('express', cache);
    const { status, body } = await get<AdminStats>(base, '/stats');
    assert.equal(status, 200, 'ok');
    assert.equal(body.l2Available, true, 'L2 available');
    assert.deepEqual(body.l2, { state: 'up', bus: true }, 'L2 and bus state');
    const figures = body.redis as RedisFigures;
    assert.ok(figures !== undefined && !('error' in figures), `Redis figures present (${JSON.stringify(body.redis)})`);
    assert.ok(figures.usedMemory > 0, 'used memory');
    assert.equal(figures.maxmemory, 64 * 1024 * 1024, 'maxmemory');
    assert.equal(figures.maxmemoryPolicy, 'allkeys-lru', 'policy');
    assert.ok(figures.keyspaceMisses >= 1, 'keyspace misses');
    assert.ok(figures.keyspaceHits >= 0 && figures.evictedKeys >= 0, 'keyspace hits, evicted keys');
    assert.ok(figures.connectedClients >= 2, 'connected clients');
    assert.ok(body.tiers.l2 !== undefined && body.tiers.l2.misses === 1, 'the L2 miss in the per-tier counts');
  });

  it('describes a key in both tiers: TTL, grace, tags and Redis size (STRLEN)', async () => {
    const cache = await tieredCache();
    await cache.set('user:1', { name: 'Ada' }, { ttl: '1m', grace: '30s', tags: ['users'] });
    const base = await admin('fastify', cache);
    const { status, body } = await get<KeyReport>(base, `/keys/${encodeURIComponent('user:1')}`);
    assert.equal(status, 200, 'found');
    const l2 = body.tiers.l2;
    assert.ok(body.tiers.l1 !== undefined && l2 !== undefined && !('error' in l2), 'held by both tiers');
    const inspect = new Redis((await sharedRedis()).url);
    onCleanup(() => inspect.quit());
    const strlen = await inspect.strlen(`${Cache.coreOf(cache).prefix}user:1`);
    assert.equal(l2.bytes, strlen, 'L2 bytes is STRLEN');
    assert.ok(body.ttl !== null && body.ttl > 55_000 && body.ttl <= 60_000, `ttl in ms (${body.ttl})`);
    assert.ok(body.grace !== null && body.grace > 29_000 && body.grace <= 30_100, `grace in ms from PTTL (Redis' clock) (${body.grace})`);
    assert.deepEqual(body.tags, ['users'], 'tags from the entry header');
    assert.equal(body.bytes, strlen, 'top-level size from L2');
    assert.equal('value' in body, false, 'no value unless asked');
    const withValue = await get<KeyReport>(base, `/keys/${encodeURIComponent('user:1')}?value=1`);
    assert.deepEqual(withValue.body.value, { name: 'Ada' }, 'the value, decoded');

    await cache.invalidateTags(['users']);
    assert.equal((await get(base, `/keys/${encodeURIComponent('user:1')}`)).status, 404, 'invalidated by its tag: gone');
  });

  it('lists keys with SCAN (never KEYS), on a Redis-only cache too', async () => {
    const cache = await redisCache();
    for (let i = 0; i < 25; i++) await cache.set(`item:${i}`, i, { tags: i % 2 === 0 ? ['even'] : [] });
    await cache.set('other', 1);
    const redis = await sharedRedis();
    const monitor = await redis.monitor();
    const base = await admin('hono', cache);
    const keys: string[] = [];
    let cursor = '0';
    let pages = 0;
    do {
      const { body } = await get<{ keys: string[]; cursor: string; source: string }>(base, `/keys?pattern=${encodeURIComponent('item:*')}&count=10&cursor=${cursor}`);
      assert.equal(body.source, 'l2', 'listed from Redis');
      keys.push(...body.keys);
      cursor = body.cursor;
      pages++;
    } while (cursor !== '0' && pages < 50);
    await monitor.stop();
    assert.deepEqual([...new Set(keys)].sort(), Array.from({ length: 25 }, (_v, i) => `item:${i}`).sort(), 'every item, none of the internal keys');
    const commands = monitor.commands();
    assert.ok(commands.includes('scan'), 'SCAN was used');
    assert.ok(!commands.includes('keys'), 'KEYS was never sent');
    assert.equal(monitor.disconnected, false, 'the monitor saw everything');
  });

  it('reports Redis as unavailable instead of failing when it is away', async () => {
    const cache = await tieredCache();
    cache.on('error', () => {});
    const redis = await sharedRedis();
    const base = await admin('node', cache);
    redis.pause();
    try {
      // Calls time out, the breaker opens after a few; the admin answers within its own bounds.
      for (let i = 0; i < 8; i++) await cache.get(`k${i}`);
      const started = Date.now();
      const { status, body } = await get<AdminStats>(base, '/stats');
      assert.equal(status, 200, 'stats still answer');
      assert.ok(Date.now() - started < 2_500, 'within the INFO deadline');
      assert.ok(body.redis !== undefined && 'error' in body.redis, `Redis figures say why (${JSON.stringify(body.redis)})`);
      const inspect = await get<KeyReport>(base, '/keys/k1');
      assert.ok(inspect.status === 404 || inspect.status === 200, 'inspection answers');
    } finally {
      redis.resume();
    }
  });
});
