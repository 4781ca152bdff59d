/**
 * FAULTS.md M6, short variant (the long soak belongs in bench/): a two-tier cache with a bus
 * under steady mixed load while Redis is killed and restarted again and again. Afterwards the
 * cache must be back on Redis with no leak of sockets, client listeners or heap.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createCache, memoryStore } from '../../src/index.js';
import { redisBus, redisStore } from '../../src/redis/index.js';
import { guardProcess, sleep } from '../helpers/guard.js';
import { pollUntil, startRedis } from '../harness/index.js';
import type { RedisProcess } from '../harness/index.js';

guardProcess();

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let redis: RedisProcess | undefined;
after(async () => {
  redis?.resume();
  await redis?.stop();
});

const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
const heapMb = (): number => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

it('M6 (short): Redis flapping under load leaks no sockets, listeners or heap, and the cache recovers', async () => {
  redis = await startRedis();
  const server = redis;
  const l2 = redisStore({ url: server.url, prefix: 'soak:' });
  const cache = createCache({ l1: memoryStore({ maxEntries: 1_000 }), l2, bus: redisBus({ url: server.url, heartbeat: '200ms' }), namespace: 'soak:' }, {});
  try {
    await pollUntil(() => l2.ready, { timeoutMs: 5_000 });
    const listeners = (): number => l2.client.eventNames().reduce((sum, e) => sum + l2.client.listenerCount(e), 0);
    let stop = false;
    let calls = 0;
    const load = async (): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const key = `k${i % 2_000}`;
        if (i % 10 === 0) await cache.set(key, { i });
        else await cache.getOrSet(key, () => ({ i }), { ttl: '10s' });
        calls++;
        if (i % 50 === 0) await sleep(1);
      }
    };
    // Warm up, then take the baseline.
    const warm = load();
    await sleep(1_000);
    const socketsBefore = sockets();
    const listenersBefore = listeners();
    const heapBefore = heapMb();
    for (let flap = 0; flap < 4; flap++) {
      await server.kill();
      await sleep(400);
      await server.restart();
      await sleep(800);
    }
    await pollUntil(() => cache.stats().l2Available === true, { timeoutMs: 5_000, description: 'L2 back' });
    await sleep(500);
    stop = true;
    await warm;
    const heapAfter = heapMb();
    assert.ok(calls > 1_000, `load ran (${calls} calls)`);
    assert.equal(sockets(), socketsBefore, 'no socket leaked across reconnects');
    assert.equal(listeners(), listenersBefore, 'no listener piled up on the client');
    assert.ok(heapAfter - heapBefore < 10, `heap grew ${(heapAfter - heapBefore).toFixed(1)} MB`);
    await cache.set('final', 1);
    assert.equal(await l2.get('final'), 1, 'writes reach Redis again');
    assert.ok((cache.stats().l1Flushes ?? 0) >= 1, 'L1 was flushed after the outages');
  } finally {
    await cache.close();
  }
});
