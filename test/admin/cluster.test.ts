/**
 * The admin routes on a Redis Cluster (a throwaway 3-master cluster): key listing pages through
 * every master with SCAN, INFO figures are summed over the masters, and a key is inspected on the
 * node that owns it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AdminStats, KeyReport, RedisFigures } from '../../src/admin/index.js';
import { createCache, memoryStore } from '../../src/index.js';
import type { Cache } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { guardProcess } from '../helpers/guard.js';
import { startCluster } from '../harness/index.js';
import type { RedisCluster } from '../harness/index.js';
import { mount } from './support.js';
import type { Mounted } from './support.js';

guardProcess();

const TOKEN = 'cluster-admin-token-0123456789';
let cluster: RedisCluster;
let cache: Cache;
let server: Mounted;

before(async () => {
  cluster = await startCluster();
  cache = createCache({ name: 'on-cluster', namespace: 'adm:', l1: memoryStore(), l2: redisStore({ cluster: cluster.seeds }), l2Timeout: '1s' }, {});
  await cache.ready();
  server = await mount('node', { cache, token: TOKEN });
});
after(async () => {
  await server?.close();
  await cache?.close();
  await cluster?.stop();
});

async function get<T>(path: string): Promise<T> {
  const res = await fetch(server.base + path, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200, `${path}: 200`);
  return (await res.json()) as T;
}

describe('admin routes on a Redis Cluster', () => {
  it('lists the keys of every master, page by page', async () => {
    const wanted = Array.from({ length: 60 }, (_v, i) => `order:${i}`);
    await cache.setMany(wanted.map((key, i) => ({ key, value: i, tags: ['orders'] })));
    const keys: string[] = [];
    let cursor = '0';
    let pages = 0;
    do {
      const page = await get<{ keys: string[]; cursor: string; source: string }>(`/keys?pattern=${encodeURIComponent('order:*')}&count=7&cursor=${cursor}`);
      assert.equal(page.source, 'l2', 'from Redis');
      keys.push(...page.keys);
      cursor = page.cursor;
      pages++;
    } while (cursor !== '0' && pages < 200);
    assert.deepEqual([...new Set(keys)].sort(), [...wanted].sort(), 'every key of every master');
  });

  it('sums INFO over the masters and inspects a key on its node', async () => {
    const stats = await get<AdminStats>('/stats');
    const redis = stats.redis as RedisFigures;
    assert.ok(redis !== undefined && !('error' in redis), `figures (${JSON.stringify(stats.redis)})`);
    assert.ok(redis.usedMemory > 0 && redis.connectedClients >= 3, 'summed over three masters');
    await cache.set('invoice:9', { total: 12 }, { ttl: '2m', tags: ['invoices'] });
    const report = await get<KeyReport>(`/keys/${encodeURIComponent('invoice:9')}`);
    assert.ok(report.tiers.l2 !== undefined && !('error' in report.tiers.l2), 'held by L2');
    assert.deepEqual(report.tags, ['invoices'], 'tags');
    assert.ok(report.bytes !== null && report.bytes > 0, 'size');
  });
});
