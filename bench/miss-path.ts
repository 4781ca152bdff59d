/**
 * The two-tier miss path, stage by stage: what an L1 miss that Redis answers costs, from a raw
 * ioredis GET up to hoard's getOrSet with every resilience default on.
 *
 *   npm run bench:miss-path                 about a minute
 *   BENCH_QUICK=1 npm run bench:miss-path   a few seconds per cell
 *   BENCH_PROFILE=5 node --cpu-prof ...     one long cell of stage 5 (1-based), for a CPU profile
 *                                           (BENCH_IN_FLIGHT=64 for 64 calls in flight)
 *
 * Every key is in Redis (10,000 keys, about 150 bytes each) and the memory tier is too small to
 * hold any of them (16 entries, keys visited in order), so every call is an L1 miss and an L2 hit.
 * Stages, each a closed loop at 1 and at 64 calls in flight, visited in rotated order per round:
 *
 * - raw GET + JSON.parse, ioredis with auto-pipelining (the hand-rolled baseline of bench:redis)
 * - raw GET + JSON.parse, ioredis without auto-pipelining
 * - hoard's Redis store alone: `getEntry` (connection check, prefix, envelope and codec decode)
 * - hoard `createCache({ store: redisStore })`: `get` (deadline, breaker, fallback bookkeeping)
 * - hoard two tiers: `getOrSet` (single flight, generation checks, L1 backfill)
 *
 * Reported: µs per call (median of rounds) and each stage's ratio to the raw baseline.
 */
import { Redis } from 'ioredis';
import { createCache, memoryStore } from '../src/index.js';
import { redisStore } from '../src/redis/index.js';
import { startRedis } from '../test/harness/redis-server.js';
import { log } from './lib/run.js';

const QUICK = process.env.BENCH_QUICK === '1';
/** BENCH_PROFILE=<stage number, 1-based>: one long cell of that stage at 1 in flight, for --cpu-prof. */
const PROFILE = Number(process.env.BENCH_PROFILE ?? 0);
const KEYS = 10_000;
const ROUNDS = QUICK ? 3 : 7;
const CELL_MS = QUICK ? 300 : 1_000;
const CONCURRENCY = [1, 64] as const;

/** Calls that came back empty, per stage (every key is in Redis: only a timeout misses). */
const misses = new Map<string, number>();

interface Stage {
  readonly id: string;
  call(key: string): Promise<unknown>;
}

const value = (i: number): Record<string, unknown> => ({
  id: i,
  name: `product ${i}`,
  price: 1999 + i,
  tags: ['a', 'b', 'c'],
  description: 'x'.repeat(60),
  updatedAt: '2026-11-29T07:00:00.000Z',
});

async function loop(stage: Stage, keys: readonly string[], inFlight: number, ms: number): Promise<{ calls: number; us: number }> {
  let next = 0;
  let calls = 0;
  const until = performance.now() + ms;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      const key = keys[next++ % keys.length]!;
      const v = await stage.call(key);
      // A miss here is an L2 call that passed l2Timeout on a busy machine: counted, reported.
      if (v === undefined || v === null) misses.set(stage.id, (misses.get(stage.id) ?? 0) + 1);
      calls++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsed = performance.now() - started;
  return { calls, us: (elapsed * 1000) / calls };
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const keys = Array.from({ length: KEYS }, (_, i) => `product:${i}`);
    const prefix = 'bench:';
    // Fill Redis through hoard, so every stage reads hoard's own format.
    const writer = createCache({ store: redisStore({ url: redis.url }), namespace: prefix, defaultTtl: '1h' });
    await writer.ready();
    for (let i = 0; i < KEYS; i += 1_000) {
      await writer.setMany(keys.slice(i, i + 1_000).map((key, j) => ({ key, value: value(i + j) })));
    }
    await writer.close();
    const size = await redis.cli('STRLEN', `${prefix}${keys[0]!}`);
    log(`${KEYS} keys in Redis, ${size} bytes each`);

    const auto = new Redis({ host: redis.host, port: redis.port, enableAutoPipelining: true });
    const direct = new Redis({ host: redis.host, port: redis.port });
    closers.push(() => auto.quit(), () => direct.quit());
    // The raw stages read the same text and parse the payload after hoard's header.
    const payload = (text: string | null): unknown => (text === null ? undefined : JSON.parse(text.slice(text.lastIndexOf('\x1e') + 1)));

    const store = redisStore({ url: redis.url, prefix });
    closers.push(() => store.close());
    const redisOnly = createCache({ store: redisStore({ url: redis.url }), namespace: prefix });
    const tiered = createCache({ l1: memoryStore({ maxEntries: 16 }), l2: redisStore({ url: redis.url }), namespace: prefix });
    closers.push(() => redisOnly.close(), () => tiered.close());
    await Promise.all([redisOnly.ready(), tiered.ready(), store.ready ? Promise.resolve() : new Promise((r) => setTimeout(r, 200))]);
    let factoryCalls = 0;
    const factory = (): Promise<Record<string, unknown>> => {
      factoryCalls++;
      return Promise.resolve(value(-1));
    };

    const stages: Stage[] = [
      { id: 'raw GET (auto-pipelining)', call: async (k) => payload(await auto.get(prefix + k)) },
      { id: 'raw GET (direct)', call: async (k) => payload(await direct.get(prefix + k)) },
      { id: 'redisStore.getEntry', call: async (k) => (await store.getEntry(k))?.value },
      { id: 'redis-only cache.get', call: (k) => redisOnly.get(k) },
      { id: 'two tiers getOrSet', call: (k) => tiered.getOrSet(k, factory) },
    ];
    if (PROFILE !== 0) {
      const stage = stages[PROFILE - 1]!;
      const inFlight = Number(process.env.BENCH_IN_FLIGHT ?? 1);
      await loop(stage, keys, inFlight, 2_000);
      const r = await loop(stage, keys, inFlight, 20_000);
      log(`${stage.id}: ${r.us.toFixed(1)} µs/call, ${factoryCalls} factory calls`);
      return;
    }
    for (const stage of stages) for (const c of CONCURRENCY) await loop(stage, keys, c, 300); // warm-up
    const results = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (let s = 0; s < stages.length; s++) {
        const stage = stages[(s + round) % stages.length]!;
        for (const c of CONCURRENCY) {
          const r = await loop(stage, keys, c, CELL_MS);
          const id = `${stage.id}@${c}`;
          results.set(id, [...(results.get(id) ?? []), r.us]);
        }
      }
      log(`round ${round + 1}/${ROUNDS}`);
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const lines = ['| stage | µs/call @1 | × raw @1 | µs/call @64 | × raw @64 |', '|---|---|---|---|---|'];
    const base = (c: number): number => median(results.get(`${stages[0]!.id}@${c}`)!);
    for (const stage of stages) {
      const cells = CONCURRENCY.map((c) => {
        const us = median(results.get(`${stage.id}@${c}`)!);
        return `${us.toFixed(1)} | ${(us / base(c)).toFixed(2)}×`;
      });
      lines.push(`| ${stage.id} | ${cells.join(' | ')} |`);
    }
    const missed = [...misses].map(([id, n]) => `${id}: ${n}`).join(', ') || 'none';
    process.stdout.write(`${lines.join('\n')}\n\nfactory calls: ${factoryCalls} (every key is in Redis: expected 0); empty answers (timeouts): ${missed}\n`);
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await redis.stop();
  }
}

await main();
