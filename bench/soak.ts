/**
 * FAULTS.md M6, long form: a two-tier cache with a bus under steady mixed load for
 * SOAK_MINUTES (default 10) while Redis is killed and restarted every SOAK_FLAP_SECONDS (default
 * 30). Reports the heap slope after warm-up (MB/min, least squares over per-10 s samples after a
 * full GC), and the socket and client-listener counts at the start and end.
 * Run: `npm run bench:soak` (SOAK_MINUTES=2 for a shorter run).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createCache, memoryStore } from '../src/index.js';
import { redisBus, redisStore } from '../src/redis/index.js';
import { startRedis } from '../test/harness/redis-server.js';
import { log } from './lib/run.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const FLAP_MS = Number(process.env.SOAK_FLAP_SECONDS ?? 30) * 1000;
const SAMPLE_MS = 10_000;
const WARMUP_MS = 30_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

const redis = await startRedis();
const l2 = redisStore({ url: redis.url, prefix: 'soak:' });
const cache = createCache({ l1: memoryStore({ maxEntries: 5_000 }), l2, bus: redisBus({ url: redis.url }), namespace: 'soak:' }, {});
const listeners = (): number => l2.client.eventNames().reduce((sum, e) => sum + l2.client.listenerCount(e), 0);
let stop = false;
let calls = 0;
let errors = 0;
const worker = async (w: number): Promise<void> => {
  for (let i = w; !stop; i++) {
    const key = `k${(i * 7919) % 50_000}`;
    try {
      if (i % 10 === 0) await cache.set(key, { i, at: Date.now() });
      else if (i % 97 === 0) await cache.delete(key);
      else await cache.getOrSet(key, () => ({ i }), { ttl: '20s' });
    } catch {
      errors++;
    }
    calls++;
    if (i % 100 === 0) await sleep(1);
  }
};
const started = performance.now();
const workers = Array.from({ length: 8 }, (_, w) => worker(w));
const flapper = (async () => {
  while (!stop) {
    await sleep(FLAP_MS);
    if (stop) break;
    log(`flap at ${((performance.now() - started) / 1000).toFixed(0)} s`);
    await redis.kill();
    await sleep(1_000);
    await redis.restart();
  }
})();

const samples: { t: number; heapMb: number }[] = [];
let baseline: { sockets: number; listeners: number } | undefined;
try {
  while (performance.now() - started < MINUTES * 60_000) {
    await sleep(SAMPLE_MS);
    const t = performance.now() - started;
    gc();
    const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
    if (t >= WARMUP_MS) {
      samples.push({ t: t / 60_000, heapMb });
      baseline ??= { sockets: sockets(), listeners: listeners() };
    }
    log(`${(t / 1000).toFixed(0)} s: heap ${heapMb.toFixed(1)} MB, ${calls} calls, ${errors} errors, l2Available ${String(cache.stats().l2Available)}`);
  }
} finally {
  stop = true;
  await Promise.all([...workers, flapper]);
}
// Let the last restart settle before counting sockets and listeners again.
for (let i = 0; i < 50 && cache.stats().l2Available !== true; i++) await sleep(100);
await sleep(1_000);
const n = samples.length;
const meanT = samples.reduce((s, p) => s + p.t, 0) / n;
const meanH = samples.reduce((s, p) => s + p.heapMb, 0) / n;
const slope = samples.reduce((s, p) => s + (p.t - meanT) * (p.heapMb - meanH), 0) / samples.reduce((s, p) => s + (p.t - meanT) ** 2, 0);
const stats = cache.stats();
const rows = [
  `| measure | value | target |`,
  `| --- | --: | --: |`,
  `| duration | ${MINUTES} min, Redis killed and restarted every ${FLAP_MS / 1000} s | |`,
  `| calls | ${calls.toLocaleString('en')} (${errors} rejected) | 0 rejected |`,
  `| heap slope after warm-up | ${slope.toFixed(2)} MB/min over ${n} samples | < 1 MB/min |`,
  `| sockets start / end | ${baseline?.sockets ?? '?'} / ${sockets()} | equal |`,
  `| client listeners start / end | ${baseline?.listeners ?? '?'} / ${listeners()} | equal |`,
  `| L1 flushes | ${stats.l1Flushes ?? 0} | one per outage |`,
];
process.stdout.write(`\n${rows.join('\n')}\n`);
await cache.close();
await redis.stop();
process.exit(0);
