/**
 * FAULTS.md C6: the distributed lock between separate processes. Instances missing the same key
 * run the factory once between them; when the holder is SIGKILLed mid-load, the others proceed
 * once its lock expires (the lock TTL), never later.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { guardProcess, sleep } from '../helpers/guard.js';
import { pollUntil, sendCommand, startInstances, startRedis } from '../harness/index.js';
import type { InstanceGroup, RedisProcess } from '../harness/index.js';
import type { CacheInstanceHandlers } from './fixtures/cache-instance.js';

const entry = new URL('./fixtures/cache-instance.ts', import.meta.url);
const LOCK_TTL = 1_000;
const SLACK = 300; // a loaded 2-core machine

let redis: RedisProcess;
let group: InstanceGroup<CacheInstanceHandlers, 2>;

after(async () => {
  await group?.stopAll();
  await redis?.stop();
});
guardProcess();

before(async () => {
  redis = await startRedis();
  group = await startInstances<CacheInstanceHandlers, 2>(2, {
    entry,
    env: { HOARD_REDIS_URL: redis.url, HOARD_PREFIX: 'lock:', HOARD_LOCK_TTL: String(LOCK_TTL), HOARD_L2_TIMEOUT: '500ms' },
    readyTimeoutMs: 60_000,
  });
  for (const instance of group.instances) {
    await pollUntil(async () => ((await instance.call('ready', 0)) as { l2Available: boolean }).l2Available, { timeoutMs: 10_000 });
  }
});

it('C6: 100 concurrent cold calls split over two processes run the loader once between them', async () => {
  const [a, b] = group.instances;
  const before = (await a.call('loaderCalls')) + (await b.call('loaderCalls'));
  const values = await Promise.all(
    Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).call('getOrSet', 'cold', 'slow', { ms: 300, value: 'loaded' })),
  );
  assert.ok(values.every((v) => v === 'loaded'));
  const calls = (await a.call('loaderCalls')) + (await b.call('loaderCalls')) - before;
  assert.ok(calls <= 2, `loader ran ${calls} times`);
  assert.equal(calls, 1, 'the lock made it exactly one');
});

it('C6: a holder SIGKILLed mid-load delays the other instance by at most the lock TTL', async () => {
  const [a, b] = group.instances;
  // A takes the lock and starts a load that would take 10 s.
  void a.call('getOrSet', 'crash', 'slow', { ms: 10_000, value: 'from-a' }).catch(() => undefined);
  await pollUntil(async () => (await sendCommand(redis.port, ['EXISTS', 'lock:\u0000l:crash'])) === 1, {
    timeoutMs: 2_000,
    description: 'A holds the lock',
  });
  const lockedAt = performance.now();
  await a.kill();
  const started = performance.now();
  assert.equal(await b.call('getOrSet', 'crash', 'value', 'from-b'), 'from-b');
  const waited = performance.now() - started;
  const sinceLock = performance.now() - lockedAt;
  assert.ok(sinceLock <= LOCK_TTL + 100 + SLACK, `B answered ${sinceLock.toFixed(0)} ms after A took the lock (TTL ${LOCK_TTL} ms)`);
  assert.ok(waited >= LOCK_TTL / 2, `B waited for the lock (${waited.toFixed(0)} ms) instead of ignoring it`);
  await sleep(10);
});
