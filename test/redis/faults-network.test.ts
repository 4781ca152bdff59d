/**
 * FAULTS.md 3.1 and 3.2 C8, faults of the link between the cache and Redis, injected by the
 * in-process fault proxy (test/harness/proxy.ts): blackhole, refused connections, latency, resets
 * mid-reply. Each test has its own redis-server and proxy; deadlines are behavioural bounds
 * (l2Timeout + slack for a loaded 2-core machine).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import { createCache, memoryStore } from '../../src/index.js';
import type { ErrorEvent } from '../../src/index.js';
import { redisBus, redisStore } from '../../src/redis/index.js';
import { guardProcess } from '../helpers/guard.js';
import { pollUntil } from '../harness/index.js';
import {
  BOUND,
  L2_TIMEOUT,
  SLACK,
  directStore,
  freshPrefix,
  proxyTo,
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

describe('FAULTS.md 3.1 / 3.2: network faults through the proxy', () => {
  it('R4: breaker (5 failures, 2 s): no command reaches the link while open, then exactly one probe; closes (l2:up) once Redis is reachable', async () => {
    const redis = await server();
    const proxy = await proxyTo(redis);
    const { cache, l2 } = tiered(proxy.url, freshPrefix('r4:'), { circuitBreaker: { failureThreshold: 5, breakDuration: '2s' } });
    await pollUntil(() => l2.ready, { timeoutMs: 5_000, description: 'L2 connected' });
    await cache.set('k', 'v');
    const events: string[] = [];
    cache.on('l2:down', () => events.push('down'));
    cache.on('l2:up', () => events.push('up'));
    const calls: Timed<unknown>[] = [];
    /** One round of traffic that would reach Redis if the breaker let it (L1 misses and writes). */
    const traffic = async (i: number): Promise<void> => {
      const batch = await Promise.all([
        timed(() => cache.get(`miss${i}`)),
        timed(() => cache.set(`s${i}`, i)),
        timed(() => cache.getOrSet(`g${i}`, () => i)),
        timed(() => cache.get('k')),
      ]);
      assert.equal(batch[0].value, undefined);
      assert.equal(batch[2].value, i);
      assert.equal(batch[3].value, 'v');
      calls.push(...batch);
    };

    // A dead link that is not closed: every call times out, nothing says the connection is gone.
    proxy.set({ mode: 'blackhole' });
    let probeAt: number | undefined;
    let probes: number;
    try {
      for (let i = 0; i < 5; i++) {
        assert.equal(cache.stats().l2Available, true, `still closed before failure ${i + 1}`);
        calls.push(await timed(() => cache.get(`cold${i}`)));
      }
      const opened = performance.now();
      assert.equal(cache.stats().l2Available, false, 'open after the 5th failure');
      assert.deepEqual(events, ['down']);
      proxy.resetStats();
      let i = 0;
      while (performance.now() - opened < 1_800) {
        await traffic(i++);
        assert.equal(proxy.stats().commands, 0, `nothing sent ${(performance.now() - opened).toFixed(0)} ms after opening`);
        await sleep(50);
      }
      // Around breakDuration the probe (one PING) goes out; it is not answered (blackhole), so
      // traffic keeps going nowhere and no second probe follows before it fails (1 s later).
      let nextTraffic = 0;
      while (performance.now() - opened < 2_900) {
        if (probeAt === undefined && proxy.stats().commands > 0) probeAt = performance.now() - opened;
        if (performance.now() >= nextTraffic) {
          await traffic(i++);
          nextTraffic = performance.now() + 50;
        }
        await sleep(5);
      }
      probes = proxy.stats().commands;
      assert.equal(cache.stats().l2Available, false);
      assert.ok(slowest(calls) <= BOUND, `slowest call ${slowest(calls).toFixed(1)} ms > ${BOUND} ms`);
    } finally {
      // Redis reachable again. The blackhole dropped bytes from a live TCP stream, which a real
      // network never does (it retransmits or the connection dies), so drop the poisoned
      // connections too, as keepalive would eventually.
      proxy.set({ mode: 'pass' });
      proxy.resetAll();
    }
    const restored = performance.now();
    // The pending probe failed with the reset; the next one, breakDuration later, succeeds.
    await pollUntil(() => events.includes('up'), { timeoutMs: 2_000 + 1_000 + SLACK, description: 'l2:up' });
    assert.ok(performance.now() - restored <= 2_000 + 1_000 + SLACK);
    assert.deepEqual(events, ['down', 'up']);
    assert.equal(cache.stats().l2Available, true);
    const check = await directStore(redis.url, l2.prefix);
    await cache.set('after', 'closed');
    assert.equal(await check.get('after'), 'closed', 'writes reach Redis again');
    // Checked last so a failure here still lets the recovery above be seen.
    assert.ok(probeAt !== undefined, `a probe reached the link after breakDuration (commands seen: ${probes})`);
    assert.ok(probeAt >= 1_800 && probeAt <= 2_000 + 500, `probe ${probeAt.toFixed(0)} ms after opening`);
    assert.equal(probes, 1, 'exactly one probe');
  });

  it('R6: proxy adds 200 ms latency, l2Timeout 50 ms: gets and sets settle within l2Timeout; late replies leave L1 alone', async () => {
    const redis = await server();
    const proxy = await proxyTo(redis);
    // The breaker is R4's subject: with it out of the way every call below really waits on the
    // slow link (and no recovery flush of L1 happens during the test).
    const { cache, l2, prefix } = tiered(proxy.url, freshPrefix('r6:'), { circuitBreaker: { failureThreshold: 1_000_000 } });
    await pollUntil(() => l2.ready, { timeoutMs: 5_000, description: 'L2 connected' });
    const writer = await directStore(redis.url, prefix);
    await cache.set('warm', 'in-both');
    await writer.set('late', 'old'); // in L2 only: its GET reply will come back late
    const errors: ErrorEvent[] = [];
    cache.on('error', (e) => errors.push(e));

    proxy.set({ delayMs: 200 });
    try {
      const calls: Timed<unknown>[] = [];
      calls.push(await timed(() => cache.get('late')));
      assert.equal(calls[0]?.value, undefined, 'slower than l2Timeout: a miss');
      calls.push(await timed(() => cache.set('late', 'new')));
      for (let i = 0; i < 10; i++) {
        const batch = await Promise.all([
          timed(() => cache.get(`cold${i}`)),
          timed(() => cache.set(`s${i}`, i)),
          timed(() => cache.get('warm')),
          timed(() => cache.getOrSet(`g${i}`, () => `loaded${i}`)),
        ]);
        assert.equal(batch[2].value, 'in-both');
        assert.equal(batch[3].value, `loaded${i}`);
        calls.push(...batch);
      }
      assert.ok(slowest(calls) <= BOUND, `slowest call ${slowest(calls).toFixed(1)} ms > ${BOUND} ms`);
      assert.ok(errors.some((e) => e.tier === 'l2' && e.operation === 'get'), 'the timeouts are reported');
      // Every late reply (200 ms each way) arrives: the GET of 'late' answers 'old'.
      await sleep(2 * 200 + 300);
      assert.equal(await cache.get('late'), 'new', 'the late reply did not overwrite L1');
      assert.equal(await cache.get('s9'), 9);
      assert.equal(cache.stats().l1Flushes, 0);
    } finally {
      proxy.reset();
    }
    // The write that missed its deadline still landed, in order.
    assert.equal(await writer.get('late'), 'new');
  });

  it('R7: reset after N bytes of a 1 MB reply: the call settles as a miss, never a truncated value; with resets off the next call returns it whole', async () => {
    const redis = await server();
    const proxy = await proxyTo(redis);
    const prefix = freshPrefix('r7:');
    const writer = await directStore(redis.url, prefix);
    const big = { head: 'start', body: 'z'.repeat(1 << 20), tail: 'end' };
    await writer.set('big', big);
    await writer.set('small', 's');
    // A 1 MB reply needs room to arrive whole on a loaded machine: the fault here is the reset.
    const { cache, l2 } = tiered(proxy.url, prefix, { l2Timeout: '500ms', circuitBreaker: { failureThreshold: 1_000_000 } });
    await pollUntil(() => l2.ready, { timeoutMs: 5_000, description: 'L2 connected' });
    const errors: ErrorEvent[] = [];
    cache.on('error', (e) => errors.push(e));

    proxy.set({ resetAfterBytes: 256 * 1024 });
    try {
      const got = await timed(() => cache.get('big'));
      assert.equal(got.value, undefined, 'a reply cut short is a miss');
      assert.ok(got.ms <= 500 + SLACK);
      assert.ok(errors.some((e) => e.tier === 'l2'), 'the reset is reported');
      // MGET over a fresh connection, same fault.
      await pollUntil(() => l2.ready && cache.stats().l2Available === true, { timeoutMs: 3_000, description: 'reconnected' });
      const many = await timed(() => cache.getMany(['small', 'big']));
      assert.ok(
        many.value.every((v, i) => v === undefined || (i === 0 ? v === 's' : JSON.stringify(v) === JSON.stringify(big))),
        'never a truncated value',
      );
      assert.notDeepEqual(many.value[1], big, 'the 1 MB reply cannot pass');
      assert.equal(await cache.get('big'), undefined, 'nothing truncated was kept in L1');
    } finally {
      proxy.reset();
    }
    await pollUntil(() => l2.ready && cache.stats().l2Available === true, { timeoutMs: 3_000, description: 'reconnected' });
    assert.deepEqual(await cache.get('big'), big);
    assert.deepEqual(await cache.getMany(['small', 'big']), ['s', big]);
  });

  // R10. The contract chose "L1 flushed on recovery" over a replay queue (API.md, Redis-backed
  // caches: "when Redis and the bus come back each instance flushes its L1 (and the redis
  // fallback) once, so what diverged during the outage cannot outlive it"). Writes and deletes
  // made during the outage live only in that instance's memory and are dropped with it; nothing
  // is replayed to Redis afterwards, so there is no retry queue to bound.
  it('R10: outage while set/delete run: when Redis and the bus are back the instance flushes L1 exactly once; nothing diverged survives', async () => {
    const redis = await server();
    const proxy = await proxyTo(redis);
    const prefix = freshPrefix('r10:');
    const l2 = redisStore({ url: proxy.url, prefix });
    const bus = redisBus({ url: proxy.url, heartbeat: '200ms' });
    const cache = createCache({ l1: memoryStore(), l2, bus, namespace: prefix, l2Timeout: L2_TIMEOUT }, {});
    try {
      await pollUntil(() => l2.ready && bus.healthy, { timeoutMs: 5_000, description: 'L2 and bus connected' });
      const other = await directStore(redis.url, prefix); // another instance, not behind the proxy
      await cache.set('k', 'v1');
      await cache.set('gone', 'g1');
      assert.equal(cache.stats().l1Flushes, 0);

      proxy.set({ mode: 'refuse' });
      proxy.resetAll();
      await pollUntil(() => cache.stats().l2Available === false, { timeoutMs: 1_000, description: 'l2Available false' });
      await cache.set('x', 'only-here');
      assert.equal(await cache.delete('gone'), true);
      await other.set('k', 'v2'); // its invalidation never reaches this instance
      assert.equal(await cache.get('k'), 'v1', 'L1 keeps serving during the outage');
      assert.equal(await cache.get('x'), 'only-here');
      await sleep(500);
      assert.equal(cache.stats().l1Flushes, 0, 'no flush while Redis is away');

      proxy.set({ mode: 'pass' });
      const back = performance.now();
      await pollUntil(() => (cache.stats().l1Flushes ?? 0) >= 1, { timeoutMs: 1_000 + 3 * 200 + 1_000, description: 'L1 flushed' });
      assert.ok(performance.now() - back <= 2_600);
      assert.equal(cache.stats().l2Available, true);
      // Reconnects, resubscription and heartbeats settle: still one flush.
      await sleep(1_000);
      assert.equal(cache.stats().l1Flushes, 1, 'flushed exactly once');
      assert.equal(await cache.get('k'), 'v2', 'the stale copy did not outlive the outage');
      assert.equal(await cache.get('x'), undefined, 'the write Redis never saw did not outlive it either');
    } finally {
      proxy.reset();
      await cache.close();
    }
  });

  it('C8: L2 latency 50 ms, set(k, v1) then set(k, v2) without awaiting: L1 and L2 end on v2', async () => {
    const redis = await server();
    const proxy = await proxyTo(redis);
    const prefix = freshPrefix('c8:');
    // Deadline above the 100 ms round trip: both writes complete in time...
    const both = tiered(proxy.url, prefix, { l2Timeout: '500ms' });
    // ...and the default 50 ms: both miss it and land later, still in order.
    const late = tiered(proxy.url, freshPrefix('c8l:'));
    const only = redisOnly(proxy.url, freshPrefix('c8r:'), { l2Timeout: '500ms' });
    await pollUntil(() => both.l2.ready && late.l2.ready && only.l2.ready, { timeoutMs: 5_000, description: 'L2 connected' });
    proxy.set({ delayMs: 50 });
    try {
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
      await Promise.all(keys.flatMap((k) => [both.cache.set(k, `v1:${k}`), both.cache.set(k, `v2:${k}`)]));
      await Promise.all(keys.flatMap((k) => [only.cache.set(k, `v1:${k}`), only.cache.set(k, `v2:${k}`)]));
      // One key only: more timeouts would open the breaker (R4), which drops writes by design.
      await Promise.all([late.cache.set('k', 'v1'), late.cache.set('k', 'v2')]);
      for (const k of keys) assert.equal(await both.cache.get(k), `v2:${k}`, `L1 of ${k}`);
      assert.equal(await late.cache.get('k'), 'v2');
      await sleep(2 * 50 + 200); // the late writes land
    } finally {
      proxy.reset();
    }
    const l2Both = await directStore(redis.url, both.prefix);
    const l2Late = await directStore(redis.url, late.prefix);
    for (const k of ['k0', 'k19']) {
      assert.equal(await l2Both.get(k), `v2:${k}`, `L2 of ${k}`);
      assert.equal(await only.cache.get(k), `v2:${k}`, `Redis-only ${k}`);
    }
    assert.deepEqual(await l2Both.getMany(Array.from({ length: 20 }, (_, i) => `k${i}`)), Array.from({ length: 20 }, (_, i) => `v2:k${i}`));
    assert.equal(await l2Late.get('k'), 'v2');
  });
});
