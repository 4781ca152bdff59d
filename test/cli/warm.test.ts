/**
 * `hoard warm` (issue 12): pipelined writes fast enough for 100k items, a concurrency limit, and a
 * checkpoint such that a run killed at 50% and started again with --resume writes every item
 * exactly once and counts it once. "Written" is what Redis itself reports: every SET of a key is a
 * keyspace notification, counted per key across both runs.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createCache } from '../../src/index.js';
import { RedisStore, redisStore } from '../../src/redis/index.js';
import { describeWhere } from '../../src/cli/targets/redis-target.js';
import { Checkpoint } from '../../src/cli/warm/checkpoint.js';
import { guardProcess } from '../helpers/guard.js';
import type { RedisProcess } from '../harness/index.js';
import { collect, FIXTURES, freshPrefix, json, onCleanup, registerCleanup, runCli, server, show, spawnCli } from './support.js';

registerCleanup();
guardProcess();

const ITEMS = join(FIXTURES, 'warm-items.mjs');

interface Summary {
  written: number;
  skipped: number;
  alreadyWritten: number;
  nothingToWrite: number;
  failed: number;
  seen: number;
  ms: number;
  itemsPerSecond: number;
  stopped?: string;
  recovered: { found: number; lost: number };
  failures: { index: number; key?: string; reason: string }[];
  checkpoint: string | null;
}

let redis: RedisProcess;
const dir = mkdtempSync(join(tmpdir(), 'hoard-warm-'));
onCleanup(async () => rmSync(dir, { recursive: true, force: true }));

/** Counts SETs per key as Redis reports them (keyspace notifications). */
async function setCounter(): Promise<{ counts: Map<string, number>; settle(): Promise<void>; reset(): void }> {
  const sub = new Redis(redis.url, { lazyConnect: true });
  await sub.connect();
  onCleanup(async () => sub.disconnect());
  const counts = new Map<string, number>();
  sub.on('pmessage', (_pattern: string, _channel: string, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1));
  await sub.psubscribe('__keyevent@*__:set');
  return {
    counts,
    // A PING answered on the subscriber comes after every notification queued before it.
    settle: async () => void (await sub.ping()),
    reset: () => counts.clear(),
  };
}

function itemCounts(counts: Map<string, number>, prefix: string): Map<string, number> {
  return new Map([...counts].filter(([key]) => key.startsWith(`${prefix}item:`)));
}

before(async () => {
  redis = await server({ extraArgs: ['--notify-keyspace-events', 'E$'] });
});

const on = (prefix: string, ...args: string[]): string[] => ['--redis-url', redis.url, '--prefix', prefix, ...args];

describe('warm', () => {
  it('writes 100k small items at well over 10k items/s, with a status line every 10% off a terminal', async (t) => {
    const prefix = freshPrefix('fast');
    const checkpoint = join(dir, 'fast.json');
    const r = await runCli(on(prefix, '--json', 'warm', ITEMS, '--checkpoint', checkpoint), { env: { WARM_COUNT: '100000' }, timeoutMs: 120_000 });
    assert.equal(r.code, 0, show(r));
    const summary = json<Summary>(r);
    assert.equal(summary.written, 100_000);
    assert.equal(summary.failed, 0);
    t.diagnostic(`warm: 100,000 items in ${Math.round(summary.ms)} ms, ${summary.itemsPerSecond} items/s`);
    assert.ok(summary.itemsPerSecond >= 10_000, `${summary.itemsPerSecond} items/s`);
    const tenths = r.stderr.split('\n').filter((l) => /^warm \d+% /.test(l));
    assert.deepEqual(tenths.map((l) => /^warm (\d+)%/.exec(l)![1]), ['10', '20', '30', '40', '50', '60', '70', '80', '90', '100'], r.stderr);
    const count = Number(await redis.cli('EVAL', "return #redis.call('KEYS', ARGV[1])", '0', `${prefix}*`));
    assert.equal(count, 100_000, 'every item, and no batch marker left behind');
    const cache = createCache({ store: redisStore({ url: redis.url }), namespace: prefix }, {});
    onCleanup(() => cache.close());
    assert.deepEqual(await cache.get('item:99999'), { id: 99_999 });
    assert.ok(!existsSync(checkpoint), 'a complete run removes its checkpoint');
  });

  it('killed at 50% and resumed: every item written exactly once, and counted once', async () => {
    const prefix = freshPrefix('resume');
    const checkpoint = join(dir, 'resume.json');
    const sets = await setCounter();
    const N = 4_000;
    const env = { WARM_COUNT: String(N), WARM_FACTORY_MS: '3' };
    const args = on(prefix, '--json', 'warm', ITEMS, '--concurrency', '4', '--batch', '100', '--checkpoint', checkpoint);

    // 1. The first run, SIGKILLed once its checkpoint shows half the items.
    const first = spawnCli(args, { env });
    const firstRun = collect(first, 120_000);
    let completed = 0;
    const deadline = Date.now() + 90_000;
    while (completed < N / 2 && Date.now() < deadline) {
      await sleep(20);
      try {
        completed = (JSON.parse(readFileSync(checkpoint, 'utf8')) as { completed: number }).completed;
      } catch {
        // not written yet, or being replaced
      }
    }
    first.kill('SIGKILL');
    const killed = await firstRun;
    assert.equal(killed.signal, 'SIGKILL', `killed, not finished: ${show(killed)}`);
    await sets.settle();
    const byFirst = itemCounts(sets.counts, prefix);
    assert.ok(byFirst.size >= N / 2 && byFirst.size < N, `killed half-way: ${byFirst.size} of ${N} written`);

    // 2. Without --resume the checkpoint is not silently ignored.
    const refused = await runCli(args, { env });
    assert.equal(refused.code, 2, show(refused));
    assert.match(refused.stderr, /--resume/, show(refused));

    // 3. Resumed: the rest, and nothing twice.
    const resumed = await runCli([...args, '--resume'], { env, timeoutMs: 120_000 });
    assert.equal(resumed.code, 0, show(resumed));
    const summary = json<Summary>(resumed);
    await sets.settle();
    const all = itemCounts(sets.counts, prefix);
    assert.equal(all.size, N, 'every item written');
    const twice = [...all].filter(([, n]) => n !== 1);
    assert.deepEqual(twice, [], 'no item written twice');
    assert.equal(summary.alreadyWritten, byFirst.size, 'the resumed run skips exactly what the first one wrote');
    assert.equal(summary.written, N - byFirst.size, 'and writes exactly the rest');
    assert.equal(summary.written + summary.skipped + summary.failed, N, 'each item counted once');
    assert.equal(summary.failed, 0);
    assert.ok(!existsSync(checkpoint), 'checkpoint removed once complete');
  });

  it('a batch that reached Redis but was never recorded is found by its marker; one that did not is written again', async () => {
    const prefix = freshPrefix('marker');
    const checkpoint = join(dir, 'marker.json');
    const sets = await setCounter();
    // The state a run leaves when killed between sending its batches and recording them.
    const store = new RedisStore({ url: redis.url, prefix });
    onCleanup(() => store.close());
    const label = `${describeWhere({ url: redis.url })} prefix ${JSON.stringify(prefix)}`;
    const cp = Checkpoint.create(checkpoint, ITEMS, label);
    const entries = (from: number, to: number): [number, string][] => Array.from({ length: to - from }, (_v, i) => [from + i, `item:${from + i}`]);
    const landed = { batch: cp.nextBatch(), range: [0, 100] as [number, number], entries: entries(0, 100), failed: [] };
    const lost = { batch: cp.nextBatch(), range: [100, 200] as [number, number], entries: entries(100, 200), failed: [] };
    cp.begin(landed);
    cp.begin(lost);
    await store.writeMarked(
      landed.entries.map(([i, key]) => ({ key, payload: store.serializer.encode({ id: i }), ttl: undefined, grace: 0, tags: undefined })),
      `${cp.run}:${landed.batch}`,
      60_000,
    );
    const r = await runCli(on(prefix, '--json', 'warm', ITEMS, '--resume', '--checkpoint', checkpoint), { env: { WARM_COUNT: '300' } });
    assert.equal(r.code, 0, show(r));
    const summary = json<Summary>(r);
    assert.deepEqual(summary.recovered, { found: 1, lost: 1 });
    assert.equal(summary.alreadyWritten, 100);
    assert.equal(summary.written, 200);
    await sets.settle();
    const all = itemCounts(sets.counts, prefix);
    assert.equal(all.size, 300);
    assert.deepEqual([...all].filter(([, n]) => n !== 1), [], 'the landed batch is not written again');
    assert.deepEqual(await store.client.keys(`${prefix}\u0000*`), [], 'no marker left');
  });

  it('failed items: exit 1 with their reasons and the checkpoint kept; --resume retries only them', async () => {
    const prefix = freshPrefix('fail');
    const checkpoint = join(dir, 'fail.json');
    const args = on(prefix, '--json', 'warm', ITEMS, '--checkpoint', checkpoint, '--concurrency', '8', '--batch', '50');
    const first = await runCli(args, { env: { WARM_COUNT: '500', WARM_FACTORY_MS: '1', WARM_FAIL_EVERY: '10' } });
    assert.equal(first.code, 1, show(first));
    const s1 = json<Summary>(first);
    assert.equal(s1.failed, 50);
    assert.equal(s1.written, 450);
    assert.match(s1.failures[0]!.reason, /the factory threw: no item 9/);
    assert.match(first.stderr, /run again with --resume to retry the failed items/);
    assert.equal(s1.checkpoint, checkpoint);

    const second = await runCli([...args, '--resume'], { env: { WARM_COUNT: '500', WARM_FACTORY_MS: '1' } });
    assert.equal(second.code, 0, show(second));
    const s2 = json<Summary>(second);
    assert.equal(s2.written, 50, 'only the failed items');
    assert.equal(s2.alreadyWritten, 450);
    assert.ok(!existsSync(checkpoint));
  });

  it('bad items fail one by one, with a reason each; a factory returning undefined writes nothing', async () => {
    const prefix = freshPrefix('bad');
    const r = await runCli(on(prefix, '--json', 'warm', join(FIXTURES, 'bad-items.mjs'), '--checkpoint', join(dir, 'bad.json')));
    assert.equal(r.code, 1, show(r));
    const s = json<Summary>(r);
    assert.equal(s.written, 1);
    assert.equal(s.nothingToWrite, 1);
    assert.equal(s.failed, 8);
    const reasons = s.failures.map((f) => `${f.key ?? '?'}: ${f.reason}`).join('\n');
    for (const expected of [/no-value: no value/, /both: give value or factory, not both/, /bad-ttl: .*ttl/, /bad-tags: tags must be an array/, /cannot-serialize: .*\$\.f/, /throws: the factory threw: source down/, /\?: expected \{ key, value \}/]) {
      assert.match(reasons, expected);
    }
  });

  it('ttl and tags of items (and --ttl) are honoured, and the entries answer to invalidate --tag', async () => {
    const prefix = freshPrefix('tags');
    const r = await runCli(on(prefix, 'warm', ITEMS, '--ttl', '1h', '--checkpoint', join(dir, 'tags.json')), { env: { WARM_COUNT: '50', WARM_TAGS: '1' } });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /written\s+50/, show(r));
    const cache = createCache({ store: redisStore({ url: redis.url }), namespace: prefix }, {});
    onCleanup(() => cache.close());
    const ttl = (await cache.ttl('item:1'))!;
    assert.ok(ttl > 3_500_000 && ttl <= 3_600_000, `ttl ${ttl}`);
    const inv = await runCli(on(prefix, 'invalidate', '--tag', 'group:3'));
    assert.equal(inv.code, 0, show(inv));
    assert.equal(await cache.get('item:3'), undefined, 'invalidated by its tag');
    assert.deepEqual(await cache.get('item:4'), { id: 4 }, 'other groups stay');
  });

  it('--concurrency bounds the factories running at once', async () => {
    const prefix = freshPrefix('conc');
    // 40 factories of 100 ms: at most 4 at a time takes at least 1 s.
    const r = await runCli(on(prefix, '--json', 'warm', ITEMS, '--concurrency', '4', '--checkpoint', join(dir, 'conc.json')), { env: { WARM_COUNT: '40', WARM_FACTORY_MS: '100' } });
    assert.equal(r.code, 0, show(r));
    const s = json<Summary>(r);
    assert.equal(s.written, 40);
    assert.ok(s.ms >= 950, `took ${s.ms} ms`);
  });
});
