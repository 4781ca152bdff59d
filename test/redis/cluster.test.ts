/**
 * Redis Cluster (API.md "Redis Cluster"; FAULTS.md N10, section 4 "3-master Redis Cluster"): a
 * throwaway 3-master cluster from startCluster(). Multi-key operations never fail with CROSSSLOT,
 * patterns and clear() reach every master (checked per node with SCAN), tags work across slots,
 * the bus reaches instances whatever node they were seeded with, and CACHE_REDIS_CLUSTER_NODES
 * builds a tiered cache on the cluster.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { createCache, memoryStore } from '../../src/index.js';
import type { Cache, CacheOptions, ErrorEvent } from '../../src/index.js';
import '../../src/redis/index.js';
import { redisStore } from '../../src/redis/index.js';
import type { RedisStore } from '../../src/redis/index.js';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess } from '../helpers/guard.js';
import { pollUntil, sendCommand, startCluster, startInstances } from '../harness/index.js';
import type { Instance, InstanceGroup, RedisCluster, RedisProcess, RespReply } from '../harness/index.js';
import { REAL_TIME, storeConformance } from '../stores/conformance.js';
import type { CacheInstanceHandlers } from './fixtures/cache-instance.js';

guardProcess();

const PROPAGATION_MS = 50;
const SLACK_MS = 400;

let cluster: RedisCluster;
let n = 0;
const stores: RedisStore[] = [];
const caches: Cache[] = [];
const errors: ErrorEvent[] = [];
let group: InstanceGroup<CacheInstanceHandlers, 2> | undefined;

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await group?.stopAll();
  await Promise.all([...stores.map((s) => s.close()), ...caches.map((c) => c.close())]);
  await cluster?.stop();
});

/** A cluster store on its own prefix, connected. */
async function freshStore(prefix = `cs${++n}:`): Promise<RedisStore> {
  const store = redisStore({ cluster: cluster.seeds, prefix });
  stores.push(store);
  await store.ping();
  return store;
}

/** A two-tier cache on the cluster whose `error` events are collected (none is expected). */
function tieredCache(prefix: string, options: CacheOptions = {}): Cache {
  const cache = createCache({ l1: memoryStore(), l2: redisStore({ cluster: cluster.seeds, prefix }), namespace: prefix, l2Timeout: '1s', ...options }, {});
  cache.on('error', (e) => errors.push(e));
  caches.push(cache);
  return cache;
}

function describeErrors(list: readonly ErrorEvent[]): string {
  return list.map((e) => `${e.tier}/${e.operation}: ${e.error.message}`).join('\n');
}

/** Keys matching `pattern` on one node, by SCAN (never KEYS). */
async function scanNode(node: RedisProcess, pattern: string): Promise<string[]> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const reply = await sendCommand(node.port, ['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000'], { timeoutMs: 5_000 });
    assert.ok(Array.isArray(reply), `SCAN reply ${String(reply)}`);
    const [next, keys] = reply as readonly RespReply[];
    cursor = String(next);
    for (const key of keys as readonly RespReply[]) found.add(String(key));
  } while (cursor !== '0');
  return [...found];
}

/** How many keys matching `pattern` each master holds, in node order. */
async function perNode(pattern: string): Promise<number[]> {
  return Promise.all(cluster.nodes.map(async (node) => (await scanNode(node, pattern)).length));
}

/** Subscribers of `channel` over all nodes (PUBSUB NUMSUB counts a node's own clients only). */
async function numsub(channel: string): Promise<number[]> {
  return Promise.all(
    cluster.nodes.map(async (node) => {
      const reply = await sendCommand(node.port, ['PUBSUB', 'NUMSUB', channel]);
      assert.ok(Array.isArray(reply), `PUBSUB NUMSUB reply ${String(reply)}`);
      return Number((reply as readonly RespReply[])[1]);
    }),
  );
}

const sum = (counts: readonly number[]): number => counts.reduce((a, b) => a + b, 0);

const keysOf = (count: number, head: string): string[] => Array.from({ length: count }, (_, i) => `${head}${i}`);

storeConformance('redisStore({ cluster })', () => freshStore(), fakeClock, REAL_TIME);

describe('redisStore on a 3-master cluster', () => {
  it('getMany / setMany / deleteMany across slots never fail with CROSSSLOT; keys spread over every master', async (t: TestContext) => {
    const prefix = `xs${++n}:`;
    const store = await freshStore(prefix);
    const keys = keysOf(90, 'k');
    await store.setMany(keys.map((key, i) => ({ key, value: i })));
    const spread = await perNode(`${prefix}*`);
    t.diagnostic(`90 keys per master: ${spread.join('/')}`);
    assert.equal(sum(spread), 90);
    assert.ok(spread.every((count) => count > 0), `keys on every master: ${spread.join('/')}`);
    assert.deepEqual(await store.getMany([...keys, 'missing']), [...keys.map((_, i) => i), undefined]);
    assert.deepEqual(
      (await store.getEntries(keys)).map((e) => e?.value),
      keys.map((_, i) => i),
    );
    assert.equal(await store.deleteMany([...keys.slice(0, 60), keys[0]!, 'missing']), 60);
    assert.equal(sum(await perNode(`${prefix}*`)), 30);
    assert.deepEqual(await store.getMany(keys.slice(55, 65)), [undefined, undefined, undefined, undefined, undefined, 60, 61, 62, 63, 64]);
  });

  it('deletePattern reaches keys on every master and leaves the rest', async () => {
    const prefix = `dp${++n}:`;
    const store = await freshStore(prefix);
    await store.setMany([...keysOf(45, 'pat:'), ...keysOf(45, 'keep:')].map((key) => ({ key, value: key })));
    const before = await perNode(`${prefix}pat:*`);
    assert.ok(before.every((count) => count > 0), `pattern keys on every master: ${before.join('/')}`);
    assert.equal(await store.deletePattern('pat:*'), 45);
    assert.deepEqual(await perNode(`${prefix}pat:*`), [0, 0, 0]);
    assert.equal(sum(await perNode(`${prefix}keep:*`)), 45);
    assert.equal(await store.get('keep:3'), 'keep:3');
  });

  it('invalidateTags removes tagged keys in every slot; tag sets and values go with clear() on every master', async () => {
    const prefix = `tg${++n}:`;
    const store = await freshStore(prefix);
    const tagged = keysOf(30, 'a');
    for (const key of tagged) await store.set(key, key, { tags: ['tg'] });
    await store.set('other', 1, { tags: ['x'] });
    assert.ok((await perNode(`${prefix}a*`)).every((count) => count > 0), 'tagged keys on every master');
    const removed = await store.invalidateTags(['tg']);
    // Lazy tags: the store records the invalidation; its count is a lower bound (0 here).
    assert.ok(removed >= 0 && removed <= 30, `removed ${removed}`);
    assert.ok(sum(await perNode(`${prefix}\u0000t:*`)) >= 1, 'a tag record');
    assert.deepEqual(await store.getMany(tagged), tagged.map(() => undefined), 'every tagged entry reads as gone, in every slot');
    assert.equal(await store.get('other'), 1);
    // Entries found invalid are removed as they are read.
    await pollUntil(async () => sum(await perNode(`${prefix}a*`)) === 0, { timeoutMs: 2_000, description: 'invalid entries unlinked' });

    // clear(): values and internal keys (tag sets) on every master, nothing outside the prefix.
    const outsider = await freshStore(`out${++n}:`);
    await outsider.set('stay', 1);
    await store.setMany(keysOf(30, 'c').map((key) => ({ key, value: 1, tags: ['t2'] })));
    assert.ok((await perNode(`${prefix}*`)).every((count) => count > 0));
    await store.clear();
    assert.deepEqual(await perNode(`${prefix}*`), [0, 0, 0]);
    assert.equal(await outsider.get('stay'), 1);
  });
});

describe('data safety on the cluster (issue 6)', () => {
  it('two caches with different namespaces, built as users do (store without a prefix): clear and tags stay inside each', async () => {
    const make = (namespace: string): Cache => {
      const cache = createCache({ l1: memoryStore(), l2: redisStore({ cluster: cluster.seeds }), namespace, l2Timeout: '1s' }, {});
      caches.push(cache);
      return cache;
    };
    const one = make(`iso${++n}a:`);
    const two = make(`iso${n}b:`);
    const keys = keysOf(30, 'k');
    await one.setMany(keys.map((key) => ({ key, value: 1, tags: ['t'] })));
    await two.setMany(keys.map((key) => ({ key, value: 2, tags: ['t'] })));
    assert.equal(sum(await perNode('hoard:*')), 0, 'nothing under the default prefix');
    await one.invalidateTags(['t']);
    await one.clear();
    const reader = make(`iso${n}b:`);
    assert.deepEqual(await reader.getMany(keys), keys.map(() => 2), 'the other namespace is untouched');
    assert.equal(sum(await perNode(`iso${n}a:*`)), 0);
  });

  it('getMany, setMany, deleteMany of 100k keys and invalidateTags of 100k tags', async () => {
    const prefix = `big${++n}:`;
    const cache = tieredCache(prefix);
    const from = errors.length;
    const keys = keysOf(100_000, 'k');
    await cache.setMany(keys.map((key, i) => ({ key, value: i })));
    const reader = tieredCache(prefix);
    const values = await reader.getMany(keys);
    assert.equal(values.filter((v, i) => v === i).length, 100_000);
    assert.ok((await cache.invalidateTags(keysOf(100_000, 't'))) >= 0);
    assert.equal(await cache.deleteMany(keys), 100_000);
    assert.equal(errors.length, from, `no L2 error:\n${describeErrors(errors.slice(from, from + 5))}`);
  });
});

describe('two-tier cache on the cluster', () => {
  it('getMany / setMany / deleteMany / deletePattern / invalidateTags / clear: no CROSSSLOT, every master reached', async (t: TestContext) => {
    const prefix = `tc${++n}:`;
    const cache = tieredCache(prefix);
    const from = errors.length;
    const keys = keysOf(60, 'k');
    await cache.setMany(keys.map((key, i) => ({ key, value: i, tags: i % 2 === 0 ? ['even'] : ['odd'] })));
    const spread = await perNode(`${prefix}k*`);
    t.diagnostic(`60 keys per master: ${spread.join('/')}`);
    assert.ok(spread.every((count) => count > 0));
    // A second instance reads them from Redis (its L1 is empty): one MGET per slot.
    const reader = tieredCache(prefix);
    assert.deepEqual(await reader.getMany(keys), keys.map((_, i) => i));
    assert.equal(reader.stats().hits, 60);
    assert.equal(await cache.deleteMany(keys.slice(0, 10)), 10);
    assert.equal(sum(await perNode(`${prefix}k*`)), 50);
    const odd = await cache.invalidateTags(['odd']);
    assert.ok(odd >= 1 && odd <= 25, `removed ${odd}`);
    // Redis' copies are invalid at once and removed as they are read (these caches have no bus:
    // the first reader keeps its L1 copies until their TTL; a new reader sees Redis).
    const later = tieredCache(prefix);
    assert.deepEqual(await later.getMany(keys.slice(10)), keys.slice(10).map((_, i) => ((i + 10) % 2 === 0 ? i + 10 : undefined)));
    await pollUntil(async () => sum(await perNode(`${prefix}k*`)) === 25, { timeoutMs: 2_000, description: 'odd entries unlinked as read' });
    await cache.namespace('ns').setMany(keysOf(30, 'x').map((key) => ({ key, value: key })));
    assert.ok((await perNode(`${prefix}ns:*`)).every((count) => count > 0));
    assert.equal(await cache.deletePattern('k*'), 25);
    assert.deepEqual(await perNode(`${prefix}k*`), [0, 0, 0]);
    await cache.namespace('ns').clear();
    assert.deepEqual(await perNode(`${prefix}ns:*`), [0, 0, 0]);
    await cache.set('last', 1, { tags: ['t'] });
    await cache.clear();
    assert.deepEqual(await perNode(`${prefix}*`), [0, 0, 0]);
    assert.equal(errors.length, from, `no L2 error:\n${describeErrors(errors.slice(from))}`);
  });

  it('CACHE_REDIS_CLUSTER_NODES: createCache({}, { CACHE_BACKEND: "tiered", ... }) stores in the cluster, with a bus', async () => {
    const prefix = `env${++n}:`;
    const env = {
      CACHE_BACKEND: 'tiered',
      CACHE_REDIS_CLUSTER_NODES: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','),
      CACHE_KEY_PREFIX: prefix,
      CACHE_L2_TIMEOUT_MS: '1000',
    };
    const a = createCache({}, env);
    const b = createCache({}, { ...env, CACHE_REDIS_CLUSTER_NODES: `${cluster.seeds[1]!.host}:${cluster.seeds[1]!.port}` });
    caches.push(a, b);
    const from = errors.length;
    for (const c of [a, b]) c.on('error', (e) => errors.push(e));
    await a.setMany(keysOf(30, 'e').map((key) => ({ key, value: key })));
    assert.ok((await perNode(`${prefix}e*`)).every((count) => count > 0), 'keys on every master');
    assert.equal(a.stats().l2Available, true);
    const owner = await cluster.nodeForKey(`${prefix}e1`);
    assert.ok(String(await sendCommand(owner.port, ['GET', `${prefix}e1`])).endsWith('"e1"'));
    // The bus (on by default for tiered) reaches b once both have subscribed.
    await pollUntil(async () => sum(await numsub(`${prefix}bus`)) === 2, { timeoutMs: 5_000, description: 'both buses subscribed' });
    await pollUntil(async () => (await b.get('e1')) === 'e1' && b.stats().size > 0, { timeoutMs: 2_000, description: 'b warm' });
    await a.set('e1', 'changed');
    await pollUntil(async () => (await b.get('e1')) === 'changed', { timeoutMs: PROPAGATION_MS + SLACK_MS + 1_000, description: 'b sees a.set' });
    await a.clear();
    assert.deepEqual(await perNode(`${prefix}*`), [0, 0, 0]);
    assert.equal(errors.length, from, `no L2 error:\n${describeErrors(errors.slice(from))}`);
  });
});

describe('N10: the bus on a cluster, instances seeded with different nodes', () => {
  let A: Instance<CacheInstanceHandlers>;
  let B: Instance<CacheInstanceHandlers>;
  const PREFIX = 'n10:';

  before(async () => {
    const seed = (i: number): string => `${cluster.seeds[i]!.host}:${cluster.seeds[i]!.port}`;
    group = await startInstances<CacheInstanceHandlers, 2>(2, {
      entry: new URL('./fixtures/cache-instance.ts', import.meta.url),
      env: { HOARD_PREFIX: PREFIX, HOARD_HEARTBEAT: '1s', HOARD_L2_TIMEOUT: '1s' },
      envFor: (i) => ({ HOARD_REDIS_CLUSTER: seed(i), HOARD_BUS_CLUSTER: seed(i) }),
      readyTimeoutMs: 60_000,
    });
    [A, B] = group.instances;
    for (const inst of [A, B]) {
      assert.deepEqual(await inst.call('ready', 15_000), { l2Available: true, busHealthy: true }, `instance ${inst.index} ready`);
    }
  });

  const until = (inst: Instance<CacheInstanceHandlers>, key: string, expected: unknown): Promise<number> =>
    pollUntil(async () => isDeepStrictEqual(await inst.call('get', key), expected), {
      timeoutMs: PROPAGATION_MS + SLACK_MS,
      description: `instance ${inst.index}: get(${key}) === ${JSON.stringify(expected)}`,
    });

  const warm = async (inst: Instance<CacheInstanceHandlers>, key: string, value: unknown): Promise<void> => {
    await pollUntil(
      async () => {
        assert.deepEqual(await inst.call('get', key), value);
        return inst.call('l1Has', key);
      },
      { timeoutMs: 2_000, description: `instance ${inst.index} holds ${key} in L1` },
    );
  };

  it('each instance sees the other\'s set, delete, invalidateTags and deletePattern', async (t: TestContext) => {
    // Where each subscriber landed (ioredis picks a node for the subscriber connection).
    const subscribers = await numsub(`${PREFIX}bus`);
    t.diagnostic(`bus subscribers per node: ${subscribers.join('/')}`);
    assert.equal(sum(subscribers), 2);

    const times: string[] = [];
    const keys = keysOf(12, 'k'); // spread over slots, hence masters
    for (const key of keys) await A.call('set', key, 'a1', { tags: ['tg'] });
    for (const key of keys) await warm(B, key, 'a1');
    for (const key of keys.slice(0, 4)) {
      const started = performance.now();
      await A.call('set', key, 'a2');
      await until(B, key, 'a2');
      times.push(`A->B ${(performance.now() - started).toFixed(1)}`);
    }
    for (const key of keys.slice(0, 4)) await warm(A, key, 'a2');
    for (const key of keys.slice(0, 2)) {
      const started = performance.now();
      assert.equal(await B.call('delete', key), true);
      await until(A, key, undefined);
      times.push(`B->A ${(performance.now() - started).toFixed(1)}`);
    }
    for (const key of keys.slice(4)) await warm(A, key, 'a1');
    const removed = await B.call('invalidateTags', ['tg']);
    assert.ok(removed >= 1 && removed <= 10, `removed ${removed}`);
    for (const key of keys.slice(4)) await until(A, key, undefined);
    await A.call('setMany', keysOf(9, 'p:').map((key) => ({ key, value: 1 })));
    for (const key of keysOf(9, 'p:')) await warm(B, key, 1);
    assert.equal(await A.call('deletePattern', 'p:*'), 9);
    for (const key of keysOf(9, 'p:')) await until(B, key, undefined);
    t.diagnostic(`N10 propagation ms: ${times.join('; ')}`);
    const bad = [...(await A.call('errors')), ...(await B.call('errors'))];
    assert.deepEqual(bad, [], 'no L2 or bus error in the instances');
  });
});
