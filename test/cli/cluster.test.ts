/**
 * The `hoard` bin against a real 3-master Redis Cluster (issue 12): listing and invalidation reach
 * every master, warm writes one transaction per hash slot with its own marker, doctor reads the
 * cluster state, and one node taken for a single server is caught.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { createCache } from '../../src/index.js';
import type { Cache } from '../../src/index.js';
import type { Cluster } from 'ioredis';
import { RedisStore, redisStore } from '../../src/redis/index.js';
import { describeWhere } from '../../src/cli/targets/redis-target.js';
import { Checkpoint } from '../../src/cli/warm/checkpoint.js';
import { guardProcess } from '../helpers/guard.js';
import type { RedisCluster } from '../harness/index.js';
import { cluster as startCluster, FIXTURES, freshPrefix, json, onCleanup, registerCleanup, runCli, show } from './support.js';

registerCleanup();
guardProcess();

let cluster: RedisCluster;
let nodes: string;
const dir = mkdtempSync(join(tmpdir(), 'hoard-cluster-'));
onCleanup(async () => rmSync(dir, { recursive: true, force: true }));

before(async () => {
  cluster = await startCluster({ masters: 3 });
  nodes = cluster.seeds.map((s) => `${s.host}:${s.port}`).join(',');
});

function cacheOn(prefix: string): Cache {
  const cache = createCache({ store: redisStore({ cluster: cluster.seeds }), namespace: prefix }, {});
  onCleanup(() => cache.close());
  return cache;
}

/** Keys under `pattern` on every master, by SCAN through each node. */
async function keysOnMasters(pattern: string): Promise<string[][]> {
  return Promise.all(cluster.nodes.map(async (node) => (await node.cli('--scan', '--pattern', pattern)).split('\n').filter((k) => k !== '')));
}

/** hoard's internal keys (tag records, batch markers) under `prefix`, on every master. */
async function internalKeys(prefix: string): Promise<string[]> {
  const store = new RedisStore({ cluster: cluster.seeds, prefix });
  try {
    await store.ping();
    const masters = (store.client as Cluster).nodes('master');
    return (await Promise.all(masters.map((m) => m.keys(`${prefix}\u0000*`)))).flat();
  } finally {
    await store.close();
  }
}

const on = (prefix: string, ...args: string[]): string[] => ['--cluster', nodes, '--prefix', prefix, ...args];

describe('a 3-master cluster', () => {
  it('keys, get, ttl, del and invalidate reach every master', async () => {
    const prefix = freshPrefix('cl');
    const cache = cacheOn(prefix);
    await cache.setMany(Array.from({ length: 300 }, (_v, i) => ({ key: `k:${i}`, value: i, ttl: '10m' })));
    const perMaster = await keysOnMasters(`${prefix}*`);
    assert.ok(perMaster.every((keys) => keys.length > 0), 'the keys are spread over every master');

    const keys = await runCli(on(prefix, 'keys'));
    assert.equal(keys.code, 0, show(keys));
    assert.equal(new Set(keys.stdout.trim().split('\n')).size, 300, 'every key from every master');
    const got = await runCli(on(prefix, '--json', 'get', 'k:7'));
    assert.equal(json<{ value: number }>(got).value, 7, show(got));
    const del = await runCli(on(prefix, '--json', 'del', 'k:1', 'k:2', 'k:3', 'k:4'));
    assert.deepEqual(json(del), { deleted: 4 }, show(del));
    const inv = await runCli(on(prefix, '--json', 'invalidate', '--pattern', 'k:1*'));
    // k:1, k:10-19, k:100-199 minus the deleted k:1: 1 + 10 + 100 - 1.
    assert.deepEqual(json(inv), { removed: 110, dryRun: false }, show(inv));
    const viaEnv = await runCli(['--json', 'ttl', 'k:9'], { env: { CACHE_REDIS_CLUSTER_NODES: nodes, CACHE_KEY_PREFIX: prefix } });
    assert.equal(json<{ present: boolean }>(viaEnv).present, true, show(viaEnv));

    const clear = await runCli(on(prefix, 'clear', '--yes'));
    assert.equal(clear.code, 0, show(clear));
    assert.deepEqual(await keysOnMasters(`${prefix}*`), [[], [], []], 'cleared on every master');
  });

  it('warm: one transaction per slot, every item written, no marker left', async () => {
    const prefix = freshPrefix('clw');
    const r = await runCli(on(prefix, '--json', 'warm', join(FIXTURES, 'warm-items.mjs'), '--checkpoint', join(dir, 'w.json')), { env: { WARM_COUNT: '2000', WARM_TAGS: '1' }, timeoutMs: 120_000 });
    assert.equal(r.code, 0, show(r));
    assert.equal(json<{ written: number }>(r).written, 2000);
    const perMaster = await keysOnMasters(`${prefix}*`);
    const all = perMaster.flat();
    assert.equal(all.filter((k) => k.startsWith(`${prefix}item:`)).length, 2000);
    const internal = await internalKeys(prefix);
    assert.ok(internal.some((k) => k.endsWith('\u0000life')), `internal keys are visible to this check: ${JSON.stringify(internal)}`);
    assert.deepEqual(internal.filter((k) => k.includes('\u0000w:')), [], 'markers removed');
    const cache = cacheOn(prefix);
    assert.deepEqual(await cache.get('item:1234'), { id: 1234 });
  });

  it('resume on a cluster: the markers of a landed batch are found in every slot it spans', async () => {
    const prefix = freshPrefix('clm');
    const checkpoint = join(dir, 'm.json');
    const store = new RedisStore({ cluster: cluster.seeds, prefix });
    onCleanup(() => store.close());
    const items = join(FIXTURES, 'warm-items.mjs');
    const cp = Checkpoint.create(checkpoint, items, `${describeWhere({ cluster: [...cluster.seeds] })} prefix ${JSON.stringify(prefix)}`);
    const landed = { batch: cp.nextBatch(), range: [0, 100] as [number, number], entries: Array.from({ length: 100 }, (_v, i): [number, string] => [i, `item:${i}`]), failed: [] };
    cp.begin(landed);
    await store.writeMarked(
      landed.entries.map(([i, key]) => ({ key, payload: store.serializer.encode({ id: i }), ttl: undefined, grace: 0, tags: undefined })),
      `${cp.run}:${landed.batch}`,
      60_000,
    );
    const marked = await store.marked(landed.entries.map(([, key]) => key), `${cp.run}:${landed.batch}`);
    assert.ok(marked.every(Boolean), 'every slot of the batch has its marker');
    const r = await runCli(on(prefix, '--json', 'warm', items, '--resume', '--checkpoint', checkpoint), { env: { WARM_COUNT: '250' } });
    assert.equal(r.code, 0, show(r));
    const summary = json<{ written: number; alreadyWritten: number; recovered: { found: number; lost: number } }>(r);
    assert.deepEqual(summary.recovered, { found: 1, lost: 0 });
    assert.equal(summary.alreadyWritten, 100);
    assert.equal(summary.written, 150);
    assert.deepEqual(await internalKeys(prefix), [], 'markers removed');
  });

  it('doctor reads the cluster state of every master; a node used as a single server is caught', async () => {
    const r = await runCli(['--cluster', nodes, '--json', 'doctor']);
    const report = json<{ checks: { name: string; status: string; detail: string }[] }>(r);
    const state = report.checks.find((c) => c.name === 'cluster');
    assert.equal(state?.status, 'pass', JSON.stringify(report.checks));
    assert.match(state.detail, /all 3 masters/);
    assert.equal(report.checks.find((c) => c.name === 'maxmemory-policy')?.status, 'fail', 'stock masters: noeviction');
    assert.equal(r.code, 1, show(r));

    const single = await runCli(['--redis-url', cluster.nodes[0]!.url, '--json', 'doctor']);
    const wrong = json<{ checks: { name: string; status: string; fix?: string }[] }>(single).checks.find((c) => c.name === 'cluster');
    assert.equal(wrong?.status, 'fail', show(single));
    assert.match(wrong.fix ?? '', /--cluster/);
  });

  it('stats sums the figures of the masters', async () => {
    const r = await runCli(['--cluster', nodes, '--json', 'stats']);
    assert.equal(r.code, 0, show(r));
    const redis = json<{ redis: { nodes: number; mode: string } }>(r).redis;
    assert.equal(redis.nodes, 3);
    assert.equal(redis.mode, 'cluster');
  });
});
