/**
 * FAULTS.md 3.1, faults of the redis-server process itself: kill -9, SIGSTOP, restart, OOM, auth,
 * CLIENT PAUSE, CLIENT KILL. Network faults through the proxy (R4, R6, R7, R10, C8) are in
 * faults-network.test.ts. Each test has a redis-server of its own; deadlines are behavioural
 * bounds (l2Timeout + slack for a loaded 2-core machine), never throughput figures.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createCache, memoryStore } from '../../src/index.js';
import { StoreError } from '../../src/index.js';
import type { Cache, ErrorEvent } from '../../src/index.js';
import { redisBus, redisStore } from '../../src/redis/index.js';
import { guardProcess } from '../helpers/guard.js';
import { pollUntil, sendCommand } from '../harness/index.js';
import {
  BOUND,
  L2_TIMEOUT,
  SLACK,
  directStore,
  freshPrefix,
  redisOnly,
  registerCleanup,
  server,
  sleep,
  slowest,
  tiered,
  timed,
} from './faults-support.js';
import type { Timed } from './faults-support.js';

// Cleanup first: `after` hooks run in order, so the guard checks once everything is closed.
registerCleanup();
guardProcess();

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('FAULTS.md 3.1: Redis process faults', () => {
  it('R1: two tiers, key warm in both, kill -9: get/set/delete settle within l2Timeout, get serves L1, an l2 error event, no throw', async () => {
    const redis = await server();
    const prefix = freshPrefix('r1:');
    // Two instances: `busy` calls at once after the kill (the client may not have noticed yet),
    // `idle` sends nothing until its client saw the connection drop, so its error event cannot
    // come from a command caught in the race.
    const busy = tiered(redis.url, prefix);
    const idle = tiered(redis.url, prefix);
    await pollUntil(() => busy.l2.ready && idle.l2.ready, { timeoutMs: 5_000, description: 'L2 connected' });
    await busy.cache.set('k', 'warm');
    await idle.cache.set('k', 'warm');
    const check = await directStore(redis.url, prefix);
    assert.equal(await check.get('k'), 'warm', 'warm in L2');
    await check.close();
    const errors: ErrorEvent[] = [];
    const downs: unknown[] = [];
    idle.cache.on('error', (e) => errors.push(e));
    idle.cache.on('l2:down', (e) => downs.push(e));

    await redis.kill();
    const calls: Timed<unknown>[] = [];
    const exercise = async (cache: Cache, round: number): Promise<void> => {
      const batch = await Promise.all([
        timed(() => cache.get('k')),
        timed(() => cache.get(`cold${round}`)),
        timed(() => cache.set(`n${round}`, round)),
        timed(() => cache.delete(`d${round}`)),
        timed(() => cache.getOrSet(`g${round}`, () => `loaded${round}`)),
      ]);
      assert.equal(batch[0].value, 'warm', 'get(k) serves the L1 value');
      assert.equal(batch[1].value, undefined);
      assert.equal(batch[3].value, false);
      assert.equal(batch[4].value, `loaded${round}`);
      calls.push(...batch, await timed(() => cache.get(`n${round}`)));
      assert.equal(calls.at(-1)?.value, round, 'a set during the outage is served from L1');
      calls.push(await timed(() => cache.delete(`n${round}`)));
      assert.equal(calls.at(-1)?.value, true);
    };
    await exercise(busy.cache, 0);
    await pollUntil(() => idle.cache.stats().l2Available === false, { timeoutMs: 1_000, description: 'l2Available false' });
    for (let round = 1; round < 4; round++) {
      await exercise(idle.cache, round);
      await exercise(busy.cache, round);
      await sleep(100);
    }
    assert.ok(slowest(calls) <= BOUND, `slowest call ${slowest(calls).toFixed(1)} ms > ${BOUND} ms`);
    assert.equal(downs.length, 1, 'one l2:down');
    await pollUntil(() => errors.some((e) => e.tier === 'l2'), { timeoutMs: 1_000, description: 'an error event with tier l2' });
  });

  it('R2 (contract): Redis-only, Redis killed: 1,000 gets settle within l2Timeout from the in-memory fallback, never throw; l2Available false; heap flat', async () => {
    const redis = await server();
    const { cache, l2 } = redisOnly(redis.url, freshPrefix('r2:'));
    await pollUntil(() => l2.ready, { timeoutMs: 5_000, description: 'L2 connected' });
    await cache.set('before', 'in-redis');
    assert.equal(cache.stats().size, 0, 'memory stays empty while Redis is up');

    await redis.kill();
    await cache.set('during', 'fallback');
    await pollUntil(() => cache.stats().l2Available === false, { timeoutMs: 1_000, description: 'l2Available false' });
    const heapBefore = heapAfterGc();
    let slow = 0;
    let count = 0;
    for (let round = 0; round < 20; round++) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          timed(() => cache.get(i % 2 === 0 ? 'during' : `missing${round}:${i}`)).then((r) => ({ ...r, i })),
        ),
      );
      for (const r of batch) {
        assert.equal(r.value, r.i % 2 === 0 ? 'fallback' : undefined);
        slow = Math.max(slow, r.ms);
      }
      count += batch.length;
      await sleep(100);
    }
    assert.equal(count, 1_000);
    assert.ok(slow <= BOUND, `slowest get ${slow.toFixed(1)} ms > ${BOUND} ms`);
    assert.equal(await cache.get('before'), undefined, 'a value only Redis held is a miss, not an error');
    assert.equal(cache.stats().l2Available, false);
    const offline = (l2.client as unknown as { offlineQueue?: { length: number } }).offlineQueue;
    assert.equal(offline?.length ?? 0, 0, 'the client queues nothing while Redis is away');
    const delta = heapAfterGc() - heapBefore;
    assert.ok(delta < 5 * 1024 * 1024, `heapUsed grew ${(delta / 1024 / 1024).toFixed(2)} MB`);
  });

  it('R3: SIGSTOP, 200 cold keys, 20 ms loader: getOrSet answers from the loader within l2Timeout + 20 ms, once per key; late replies never overwrite newer L1 values', async () => {
    const redis = await server();
    // The breaker opens after the first timeouts; a long breakDuration keeps its recovery (which
    // flushes L1, see R10) out of this test, so the final reads below really come from L1.
    const { cache, l2, prefix } = tiered(redis.url, freshPrefix('r3:'), { circuitBreaker: { breakDuration: '10s' } });
    await pollUntil(() => l2.ready, { timeoutMs: 5_000, description: 'L2 connected' });
    // Keys Redis holds with old values: the frozen server will answer their GETs late.
    const writer = await directStore(redis.url, prefix);
    const warm = Array.from({ length: 20 }, (_, i) => `warm${i}`);
    for (const key of warm) await writer.set(key, `old:${key}`);
    const cold = Array.from({ length: 200 }, (_, i) => `cold${i}`);
    const loads = new Map<string, number>();

    redis.pause();
    try {
      const [loaded, read] = await Promise.all([
        Promise.all(
          cold.map((key) =>
            timed(() =>
              cache.getOrSet(key, async () => {
                loads.set(key, (loads.get(key) ?? 0) + 1);
                await sleep(20);
                return `loaded:${key}`;
              }),
            ),
          ),
        ),
        Promise.all(warm.map((key) => timed(() => cache.get(key)))),
      ]);
      loaded.forEach((r, i) => assert.equal(r.value, `loaded:${cold[i]!}`));
      const bound = L2_TIMEOUT + 20 + SLACK;
      assert.ok(slowest(loaded) <= bound, `slowest getOrSet ${slowest(loaded).toFixed(1)} ms > ${bound} ms`);
      assert.equal(loads.size, 200);
      assert.ok([...loads.values()].every((c) => c === 1), 'loader called once per key');
      assert.ok(read.every((r) => r.value === undefined), 'a frozen L2 is a miss');
      assert.ok(slowest(read) <= BOUND, `slowest get ${slowest(read).toFixed(1)} ms > ${BOUND} ms`);
      // Newer values, written while the old GET replies are still queued in the frozen server.
      for (const key of [...cold, ...warm]) await cache.set(key, `new:${key}`);
    } finally {
      redis.resume();
    }
    // Let every late reply arrive: a PING on a new connection is answered after the backlog.
    await sendCommand(redis.port, ['PING']);
    await sleep(200);
    for (const key of [...cold, ...warm]) assert.equal(await cache.get(key), `new:${key}`, key);
    assert.equal(cache.stats().l1Flushes, 0, 'the reads above came from L1, not from a flushed L1');
  });

  it('R5: kill, restart on the same port after 1 s: L2 hits resume within reconnect delay + 1 s; the bus resubscribes', async () => {
    const redis = await server();
    const prefix = freshPrefix('r5:');
    const l2 = redisStore({ url: redis.url, prefix });
    const bus = redisBus({ url: redis.url, heartbeat: '200ms' });
    const cache = createCache({ l1: memoryStore(), l2, bus, namespace: prefix, l2Timeout: L2_TIMEOUT }, {});
    const closeCache = (): Promise<void> => cache.close();
    try {
      const numsub = async (): Promise<number> => {
        const reply = await sendCommand(redis.port, ['PUBSUB', 'NUMSUB', `${prefix}bus`]);
        return Array.isArray(reply) ? Number(reply[1]) : -1;
      };
      await pollUntil(async () => l2.ready && bus.healthy && (await numsub()) === 1, { timeoutMs: 5_000, description: 'cache connected' });
      await cache.set('k', 'v');

      await redis.kill();
      await sleep(1_000);
      await redis.restart();
      const reopened = performance.now();
      // Another process writes after the restart (Redis came back empty).
      const writer = await directStore(redis.url, prefix);
      await writer.set('fresh', 'after-restart');
      const maxReconnectDelay = 1_000; // CLIENT_DEFAULTS.retryStrategy caps at 1 s
      await pollUntil(async () => (await cache.get('fresh')) === 'after-restart', {
        timeoutMs: maxReconnectDelay + 1_000 + SLACK,
        intervalMs: 20,
        description: 'an L2 hit after the restart',
      });
      const hitAfter = performance.now() - reopened;
      assert.ok(hitAfter <= maxReconnectDelay + 1_000 + SLACK, `L2 hits resumed after ${hitAfter.toFixed(0)} ms`);
      assert.equal(cache.stats().l2Available, true);
      await pollUntil(async () => (await numsub()) === 1, { timeoutMs: maxReconnectDelay + 1_000 + SLACK, description: 'PUBSUB NUMSUB back to 1' });
    } finally {
      await closeCache();
    }
  });

  it('R8: maxmemory 1mb + noeviction, large set: set rejects with StoreError after an error event with the OOM reply; no tier keeps the value; Redis stays available', async () => {
    const redis = await server();
    // A 2 MB request must reach Redis to be refused: give the transfer room so the failure seen is
    // the OOM reply, not our own deadline.
    const { cache, l2, prefix } = tiered(redis.url, freshPrefix('r8:'), { l2Timeout: '500ms' });
    await pollUntil(() => l2.ready, { timeoutMs: 5_000, description: 'L2 connected' });
    await cache.set('small', 'kept');
    await redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    await redis.cli('CONFIG', 'SET', 'maxmemory', '1mb');
    try {
      const errors: ErrorEvent[] = [];
      cache.on('error', (e) => errors.push(e));
      const big = 'y'.repeat(2 << 20);
      // Issue 6 point 4: a Redis that answers with an error is up; the write could not be done, so
      // the caller learns it, and no instance serves a value Redis does not hold.
      await assert.rejects(cache.set('big', big), (e: unknown) => e instanceof StoreError && e.code === 'HOARD_STORE' && e.operation === 'set' && /OOM/.test(e.message));
      const oom = errors.find((e) => e.tier === 'l2' && /OOM/.test(e.error.message));
      assert.ok(oom, `an error event with the OOM reply; got ${errors.map((e) => e.error.message).join(' | ')}`);
      assert.equal(oom.operation, 'set');
      assert.equal(oom.key, 'big');
      assert.equal(await redis.cli('EXISTS', `${prefix}big`), '0', 'Redis refused the value');
      assert.equal(await cache.get('big'), undefined, 'nor does L1 keep it');
      for (let i = 0; i < 10; i++) await assert.rejects(cache.set(`big${i}`, big), StoreError);
      assert.equal(cache.stats().l2Available, true, 'ten refused writes do not open the breaker');
      assert.equal(await cache.get('small'), 'kept', 'other keys are still served');
    } finally {
      await redis.cli('CONFIG', 'SET', 'maxmemory', '0');
    }
  });

  it('R9: wrong password: creating the cache neither blocks nor throws; l2Available becomes false; the L1 path works', async () => {
    const redis = await server({ password: 'secret' });
    const errors: ErrorEvent[] = [];
    const created = await timed(async () => tiered(redis.url, freshPrefix('r9:')));
    assert.ok(created.ms <= BOUND, `createCache took ${created.ms.toFixed(1)} ms (connectTimeout is 2 s)`);
    const { cache } = created.value;
    cache.on('error', (e) => errors.push(e));
    const first = await timed(() => cache.set('k', 'v'));
    assert.ok(first.ms <= BOUND, `first set took ${first.ms.toFixed(1)} ms`);
    await pollUntil(() => cache.stats().l2Available === false, { timeoutMs: 2_000, description: 'l2Available false' });
    assert.ok(
      errors.some((e) => e.tier === 'l2' && /NOAUTH|auth/i.test(e.error.message)),
      `an l2 error naming the auth failure; got ${errors.map((e) => e.error.message).join(' | ')}`,
    );
    const calls = await Promise.all([
      timed(() => cache.get('k')),
      timed(() => cache.getOrSet('g', () => 'loaded')),
      timed(() => cache.set('s', 1)),
      timed(() => cache.get('absent')),
    ]);
    assert.deepEqual(
      calls.map((c) => c.value),
      ['v', 'loaded', undefined, undefined],
    );
    assert.equal(await cache.get('s'), 1);
    assert.ok(slowest(calls) <= BOUND);
    // Redis-only: the in-memory fallback serves.
    const only = redisOnly(redis.url, freshPrefix('r9o:')).cache;
    await only.set('k', 'fallback');
    assert.equal(await only.get('k'), 'fallback');
    await pollUntil(() => only.stats().l2Available === false, { timeoutMs: 2_000, description: 'Redis-only l2Available false' });
  });

  it('R11: CLIENT PAUSE 3000 WRITE: sets settle within l2Timeout; the values are in L2 after the pause, newest last', async () => {
    const redis = await server();
    const { cache, l2, prefix } = tiered(redis.url, freshPrefix('r11:'));
    await pollUntil(() => l2.ready, { timeoutMs: 5_000, description: 'L2 connected' });
    const check = await directStore(redis.url, prefix);
    await redis.cli('CLIENT', 'PAUSE', '3000', 'WRITE');
    const pausedAt = performance.now();
    try {
      // Fewer writes than the breaker's threshold (5): each stays queued in Redis, none is dropped.
      const sets = await Promise.all([
        timed(() => cache.set('a', 'A')),
        timed(() => cache.set('b', 'B1')),
        timed(() => cache.set('b', 'B2')),
      ]);
      assert.ok(slowest(sets) <= BOUND, `slowest set ${slowest(sets).toFixed(1)} ms > ${BOUND} ms`);
      assert.equal(await cache.get('a'), 'A');
      assert.equal(await cache.get('b'), 'B2');
      assert.equal(await check.get('a'), undefined, 'reads still served during the pause; the write is not in yet');
      await pollUntil(async () => (await check.get('a')) === 'A', { timeoutMs: 3_000 + 1_000, intervalMs: 50, description: 'a in L2' });
      assert.ok(performance.now() - pausedAt >= 2_900, 'landed when the pause ended');
      assert.equal(await check.get('b'), 'B2', 'the newer write of b landed last');
    } finally {
      await redis.cli('CLIENT', 'UNPAUSE');
    }
  });

  it('R12: CLIENT KILL TYPE normal mid-burst of 1,000 gets: all settle, none with another key\'s value', async () => {
    const redis = await server();
    const prefix = freshPrefix('r12:');
    const writer = await directStore(redis.url, prefix);
    const keys = Array.from({ length: 1_000 }, (_, i) => `k${i}`);
    await writer.setMany(keys.map((key) => ({ key, value: `value-of-${key}` })));
    // The breaker is R4's subject: keep every get on the L2 path, across the kill and reconnect.
    const { cache, l2 } = tiered(redis.url, prefix, { circuitBreaker: { failureThreshold: 1_000_000 } });
    await pollUntil(() => l2.ready, { timeoutMs: 5_000, description: 'L2 connected' });

    const results: Promise<{ key: string; value: unknown; ms: number }>[] = [];
    let killed: Promise<unknown> | undefined;
    for (let wave = 0; wave < 40; wave++) {
      if (wave === 10) killed = sendCommand(redis.port, ['CLIENT', 'KILL', 'TYPE', 'normal']);
      for (const key of keys.slice(wave * 25, wave * 25 + 25)) {
        results.push(timed(() => cache.get(key)).then((r) => ({ key, ...r })));
      }
      await sleep(10);
    }
    assert.ok(typeof (await killed) === 'number' && Number(await killed) >= 1, 'CLIENT KILL dropped the data connection');
    const settled = await Promise.all(results);
    assert.equal(settled.length, 1_000);
    const wrong = settled.filter((r) => r.value !== undefined && r.value !== `value-of-${r.key}`);
    assert.deepEqual(wrong, [], 'no get resolved with another key\'s value');
    const answered = settled.filter((r) => r.value !== undefined).length;
    assert.ok(answered > 0, 'some gets were answered by L2');
    assert.ok(settled.slice(0, 100).some((r) => r.value !== undefined), 'L2 answered before the kill');
    assert.ok(settled.slice(-100).some((r) => r.value !== undefined), 'and again after the reconnect, within the burst');
    const slow = Math.max(...settled.map((r) => r.ms));
    assert.ok(slow <= BOUND, `slowest get ${slow.toFixed(1)} ms > ${BOUND} ms`);
    // After the burst, L2 answers again, each key with its own value.
    await pollUntil(async () => (await cache.get('k999')) === 'value-of-k999', { timeoutMs: 2_000, description: 'L2 back' });
  });
});
