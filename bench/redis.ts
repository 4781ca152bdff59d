/**
 * Redis benchmark: hoard's two-tier getOrSet against bentocache, cache-manager and cacheable
 * (memory + Redis each) and a hand-rolled lru-cache + ioredis loop, on one private redis-server.
 *
 *   npm run bench:redis                          full run, about 4 minutes
 *   BENCH_QUICK=1 npm run bench:redis            smoke run, about a minute
 *   BENCH_ONLY=hoard,hand-rolled npm run bench:redis   some contestants only
 *
 * 1. Throughput: 95 % of calls on 100 hot keys, 5 % on 10,000 cold keys, an L1 of 1,000 entries,
 *    at 1 and at 64 calls in flight (closed loop), in passes that visit the contestants in a
 *    rotated order; ops/s, p50 and p99 per call.
 * 2. Outages: the same key mix at 1,000 calls/s (open loop) while Redis is SIGSTOPped for 3 s,
 *    and while it is killed and restarted on the same port 3 s later.
 * 3. hoard's getMany of 100 keys, watched with MONITOR and INFO commandstats.
 *
 * The server is started here on a free loopback port (never the shared 6379) and always resumed
 * and stopped in a finally. Tables go to stdout, progress to stderr, everything to
 * bench/results/redis-latest.json (redis-quick.json for a smoke run, redis-partial.json with
 * BENCH_ONLY). See bench/README.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startRedis } from '../test/harness/redis-server.js';
import type { RedisProcess } from '../test/harness/redis-server.js';
import type { Loader, RedisCache, RedisCacheConfig, RedisContestant, Value } from './lib/redis-contestants.js';
import { REDIS_CONTESTANTS } from './lib/redis-contestants.js';
import type { ClosedLoopResult, Fault, FaultHooks, OpenLoopPlan, Workload } from './lib/redis-load.js';
import { ClosedLoop, makeWorkload, runOpenLoop, writeAll } from './lib/redis-load.js';
import type { GetManyCheck, OutageCell, ThroughputCell } from './lib/redis-report.js';
import {
  evaluateTargets,
  formatMs,
  getManyLine,
  median,
  outageTable,
  targetsTable,
  throughputTable,
} from './lib/redis-report.js';
import { formatOps } from './lib/report.js';
import { collect, log, machineMeta, message, seconds } from './lib/run.js';

const QUICK = process.env.BENCH_QUICK === '1';

const WORKLOAD = { hot: 100, cold: 10_000, hotShare: 0.95, l1Entries: 1_000 } as const;
const TTL_MS = 10 * 60_000;
/** hoard's default `l2Timeout`; every other library gets it as its per-command timeout. */
const L2_TIMEOUT_MS = 50;
/** The "database": a small fresh object after a short wait, the same for every contestant. */
const FACTORY_DELAY_MS = 1;
const CONCURRENCIES = [1, 64] as const;
const FAULTS: readonly Fault[] = ['pause', 'kill'];

const SETTINGS = QUICK
  ? {
      passes: 1,
      warmupMs: 300,
      cellWarmupMs: 100,
      cellMs: 500,
      outage: { rate: 1_000, beforeMs: 1_000, downMs: 1_000, afterMs: 1_500, probeEveryMs: 5, drainMs: 5_000 },
    }
  : {
      passes: 3,
      warmupMs: 1_000,
      cellWarmupMs: 300,
      cellMs: 2_000,
      outage: { rate: 1_000, beforeMs: 2_000, downMs: 3_000, afterMs: 4_000, probeEveryMs: 5, drainMs: 10_000 },
    };

/** Latency samples of one closed-loop cell; calls past this many are counted but not timed. */
const SAMPLE_CAPACITY = 8_000_000;

/** `BENCH_ONLY=hoard,hand-rolled`: run only these contestants (ids as in the JSON). */
const ONLY = (process.env.BENCH_ONLY ?? '')
  .split(',')
  .map((id) => id.trim())
  .filter((id) => id !== '');
const CONTESTANTS: readonly RedisContestant[] =
  ONLY.length === 0 ? REDIS_CONTESTANTS : REDIS_CONTESTANTS.filter((c) => ONLY.includes(c.id));

/** A smoke run or a partial one writes apart, so it never replaces the numbers of the last full run. */
const RESULTS_FILE = new URL(
  QUICK ? './results/redis-quick.json' : ONLY.length !== 0 ? './results/redis-partial.json' : './results/redis-latest.json',
  import.meta.url,
);

/** Factory calls so far, all contestants together (read as differences around a run). */
let factoryCalls = 0;

const load: Loader = (key) => {
  factoryCalls++;
  return new Promise<Value>((resolve) => {
    setTimeout(() => resolve({ key, source: 'factory' }), FACTORY_DELAY_MS);
  });
};

/** Resolves with `promise`, or gives up after `ms` (a library whose close hangs must not hang the run). */
async function bounded(promise: Promise<unknown>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const result = await Promise.race([promise.then(() => 'done' as const), gaveUp]);
  clearTimeout(timer);
  if (result === 'timeout') log(`  ${what} did not finish within ${ms} ms; going on`);
}

/** The benchmark's own server and an admin connection to it. */
class Bench {
  readonly redis: RedisProcess;
  readonly admin: Redis;
  readonly workload: Workload;
  readonly samples = new Float32Array(SAMPLE_CAPACITY);

  constructor(redis: RedisProcess, workload: Workload) {
    this.redis = redis;
    this.workload = workload;
    this.admin = new Redis({ host: redis.host, port: redis.port });
    this.admin.on('error', () => {
      // Expected while the server is killed; the admin connection reconnects by itself.
    });
  }

  config(contestant: RedisContestant): RedisCacheConfig {
    return {
      url: this.redis.url,
      host: this.redis.host,
      port: this.redis.port,
      prefix: `bench:${contestant.id}:`,
      ttlMs: TTL_MS,
      l1Entries: WORKLOAD.l1Entries,
      commandTimeoutMs: L2_TIMEOUT_MS,
      load,
    };
  }

  /**
   * Empties Redis, writes every workload key (and `extra` keys with their values) through a
   * first instance of the contestant, in its own format, then creates the instance under test,
   * whose memory tier starts empty. Writing through an instance of its own lets a failed write
   * (a timeout on a busy machine) be retried until Redis holds every key.
   */
  async prepare(contestant: RedisContestant, extra: readonly { key: string; value: Value }[] = []): Promise<RedisCache> {
    await this.admin.flushdb();
    const entries: { key: string; value: Value }[] = [...this.workload.hotKeys, ...this.workload.coldKeys].map((key) => ({
      key,
      value: { key, source: 'factory' },
    }));
    entries.push(...extra);
    const writer = await contestant.create(this.config(contestant));
    try {
      await sleep(200); // let the clients connect
      for (let attempt = 1; ; attempt++) {
        await writeAll(writer, entries, 16);
        // Some libraries write to Redis in the background: wait for the keys.
        const stored = await this.waitForKeys(entries.length, 5_000);
        if (stored >= entries.length) break;
        if (attempt === 3) throw new Error(`only ${stored} of ${entries.length} keys reached Redis after ${attempt} attempts`);
        log(`  ${contestant.id}: ${stored} of ${entries.length} keys reached Redis; writing again`);
        await sleep(2_500); // past a circuit breaker's open time
      }
    } finally {
      await this.close(writer, `${contestant.id} writer`);
    }
    const cache = await contestant.create(this.config(contestant));
    await sleep(200);
    return cache;
  }

  /** Polls DBSIZE until it reaches `count` (background writes) or `ms` pass; returns the last size. */
  async waitForKeys(count: number, ms: number): Promise<number> {
    const until = performance.now() + ms;
    for (;;) {
      const size = await this.admin.dbsize();
      if (size >= count || performance.now() > until) return size;
      await sleep(20);
    }
  }

  async close(cache: RedisCache, what: string): Promise<void> {
    await bounded(cache.close(), 5_000, `${what}: close()`);
  }
}

// ------------------------------------------------------------------------------------------------
// 1. Throughput

async function runThroughput(bench: Bench): Promise<ThroughputCell[]> {
  const passes = new Map<string, (ClosedLoopResult & { factoryCalls: number })[]>();
  const errors = new Map<string, string>();
  const id = (contestant: string, concurrency: number): string => `${contestant}@${concurrency}`;
  for (let pass = 0; pass < SETTINGS.passes; pass++) {
    const n = CONTESTANTS.length;
    const order = CONTESTANTS.map((_, k) => CONTESTANTS[(k + pass) % n]!);
    for (const contestant of order) {
      if (errors.has(contestant.id)) continue;
      let cache: RedisCache | undefined;
      try {
        const started = performance.now();
        cache = await bench.prepare(contestant);
        const loop = new ClosedLoop(cache, bench.workload, bench.samples);
        await loop.run(64, SETTINGS.warmupMs);
        const line: string[] = [];
        for (const concurrency of CONCURRENCIES) {
          collect();
          await loop.run(concurrency, SETTINGS.cellWarmupMs);
          const factoryBefore = factoryCalls;
          const result = await loop.run(concurrency, SETTINGS.cellMs);
          const list = passes.get(id(contestant.id, concurrency)) ?? [];
          list.push({ ...result, factoryCalls: factoryCalls - factoryBefore });
          passes.set(id(contestant.id, concurrency), list);
          line.push(
            `${concurrency} in flight ${formatOps(result.opsPerSec)} ops/s p50 ${formatMs(result.latency.p50)} p99 ${formatMs(result.latency.p99)}` +
              ` (${factoryCalls - factoryBefore} factory calls${result.errors === 0 ? '' : `, ${result.errors} errors`})`,
          );
        }
        log(`[throughput pass ${pass + 1}] ${contestant.id}: ${line.join(', ')} (${seconds(started)} s)`);
      } catch (error) {
        errors.set(contestant.id, message(error));
        log(`[throughput pass ${pass + 1}] ${contestant.id}: failed: ${message(error)}`);
      } finally {
        if (cache !== undefined) await bench.close(cache, contestant.id);
      }
    }
  }
  const cells: ThroughputCell[] = [];
  for (const contestant of CONTESTANTS) {
    for (const concurrency of CONCURRENCIES) {
      const list = (passes.get(id(contestant.id, concurrency)) ?? []).map((r) => ({
        opsPerSec: r.opsPerSec,
        calls: r.calls,
        errors: r.errors,
        factoryCalls: r.factoryCalls,
        latency: r.latency,
      }));
      const error = errors.get(contestant.id);
      const base = { contestant: contestant.id, concurrency, passes: list };
      if (list.length === 0) {
        cells.push(error === undefined ? base : { ...base, error });
        continue;
      }
      cells.push({
        ...base,
        opsPerSec: median(list.map((r) => r.opsPerSec)),
        p50: median(list.map((r) => r.latency.p50)),
        p99: median(list.map((r) => r.latency.p99)),
        ...(error === undefined ? {} : { error }),
      });
    }
  }
  return cells;
}

// ------------------------------------------------------------------------------------------------
// 2. Outages

/** Keys that only Redis holds (planted by a second instance), read once each by the probes. */
function probeKeys(fault: Fault, plan: OpenLoopPlan): string[] {
  const count = Math.ceil((plan.downMs + plan.afterMs) / plan.probeEveryMs) + 50;
  return Array.from({ length: count }, (_, i) => `probe:${fault}:${i}`);
}

interface Dump {
  key: string;
  pttl: number;
  payload: Buffer;
}

/** DUMPs the probe keys, so they can be put back into the empty Redis a restart leaves. */
async function dumpProbes(admin: Redis): Promise<Dump[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', '*probe:*', 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const pipeline = admin.pipeline();
  for (const key of keys) pipeline.pttl(key).dumpBuffer(key);
  const replies = (await pipeline.exec()) ?? [];
  return keys.map((key, i) => ({ key, pttl: Number(replies[2 * i]?.[1] ?? -1), payload: replies[2 * i + 1]?.[1] as Buffer }));
}

async function restoreProbes(redis: RedisProcess, dumps: readonly Dump[]): Promise<void> {
  const client = new Redis({ host: redis.host, port: redis.port, maxRetriesPerRequest: 3 });
  client.on('error', () => undefined);
  try {
    const pipeline = client.pipeline();
    for (const d of dumps) pipeline.restore(d.key, Math.max(0, d.pttl), d.payload, 'REPLACE');
    await pipeline.exec();
  } finally {
    client.disconnect();
  }
}

async function runOutage(bench: Bench, contestant: RedisContestant, fault: Fault): Promise<OutageCell> {
  const plan: OpenLoopPlan = SETTINGS.outage;
  const probes = probeKeys(fault, plan);
  let cache: RedisCache | undefined;
  const started = performance.now();
  try {
    // The marker keys are planted with the workload's keys, in the library's own format.
    cache = await bench.prepare(
      contestant,
      probes.map((key) => ({ key, value: { key, source: 'marker' } })),
    );
    const dumps = fault === 'kill' ? await dumpProbes(bench.admin) : [];

    // Warm the code paths at a modest rate of calls before the open loop starts.
    await new ClosedLoop(cache, bench.workload, bench.samples).run(4, 500);
    collect();

    const redis = bench.redis;
    let down = false;
    const hooks: FaultHooks =
      fault === 'pause'
        ? {
            begin: async () => {
              redis.pause();
              down = true;
            },
            end: async (back) => {
              if (!down) return;
              redis.resume();
              back();
            },
          }
        : {
            begin: async () => {
              down = true;
              await redis.kill();
            },
            end: async (back) => {
              if (!down) return;
              await redis.restart();
              back();
              await restoreProbes(redis, dumps);
            },
          };
    const factoryBefore = factoryCalls;
    const result = await runOpenLoop(cache, bench.workload, probes, plan, hooks);
    const calls = factoryCalls - factoryBefore;
    const o = result.outage;
    log(
      `[${fault}] ${contestant.id}: ${result.issued} calls (${calls} factory calls), ${o.rejected} rejected, ${o.empty} empty, ${o.unanswered} unanswered; ` +
        `hot p99 ${formatMs(o.hot.p99)} max ${formatMs(o.hot.max)} (down: p99 ${formatMs(result.down.hot.p99)}, after: p99 ${formatMs(result.after.hot.p99)}); ` +
        `cold p99 ${formatMs(o.cold.p99)} max ${formatMs(o.cold.max)} ` +
        `(while down ${formatMs(result.down.cold.max)}); first Redis answer ${formatMs(result.firstRedisAnswerMs)} after return ` +
        `(probe ${result.probeWorks ? 'ok' : 'FAILED'}); driver lag ≤ ${formatMs(result.maxLagMs)} (${seconds(started)} s)`,
    );
    return { fault, contestant: contestant.id, factoryCalls: calls, result };
  } catch (error) {
    log(`[${fault}] ${contestant.id}: failed: ${message(error)}`);
    return { fault, contestant: contestant.id, error: message(error) };
  } finally {
    if (!bench.redis.running) await bench.redis.restart();
    bench.redis.resume();
    if (cache !== undefined) await bench.close(cache, contestant.id);
  }
}

async function runOutages(bench: Bench): Promise<OutageCell[]> {
  const cells: OutageCell[] = [];
  for (const fault of FAULTS) {
    for (const contestant of CONTESTANTS) {
      cells.push(await runOutage(bench, contestant, fault));
      collect();
    }
  }
  return cells;
}

// ------------------------------------------------------------------------------------------------
// 3. getMany

const NOT_OURS = new Set(['publish', 'ping', 'config', 'info']);

async function runGetMany(bench: Bench): Promise<GetManyCheck> {
  const { createCache, memoryStore } = await import('../src/index.js');
  const { redisStore, redisBus } = await import('../src/redis/index.js');
  const prefix = 'bench:getmany:';
  const url = bench.redis.url;
  const make = (): ReturnType<typeof createCache> =>
    createCache(
      {
        l1: memoryStore({ maxEntries: WORKLOAD.l1Entries }),
        l2: redisStore({ url, prefix }),
        bus: redisBus({ url }),
        namespace: prefix,
        defaultTtl: TTL_MS,
      },
      {},
    );
  const keys = Array.from({ length: 100 }, (_, i) => `many:${i}`);
  const warmKeys = Array.from({ length: 100 }, (_, i) => `warm:${i}`);
  const base = { keys: keys.length, found: 0, ms: NaN, commands: {}, mgetCalls: 0, getCalls: 0 };
  await bench.admin.flushdb();
  const writer = make();
  const reader = make();
  try {
    await sleep(200);
    await writer.setMany([...keys, ...warmKeys].map((key) => ({ key, value: { key, source: 'factory' } })));
    await reader.getMany(warmKeys); // connection, code paths
    await bench.admin.config('RESETSTAT');
    const monitor = await bench.redis.monitor();
    const t0 = performance.now();
    const values = await reader.getMany(keys);
    const ms = performance.now() - t0;
    await monitor.stop();
    const stats = await bench.admin.info('commandstats');
    const calls = (name: string): number => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    const commands: Record<string, number> = {};
    for (const name of monitor.commands()) if (!NOT_OURS.has(name)) commands[name] = (commands[name] ?? 0) + 1;
    const check: GetManyCheck = {
      ...base,
      found: values.filter((v) => v !== undefined).length,
      ms,
      commands,
      mgetCalls: calls('mget'),
      getCalls: calls('get'),
    };
    log(`[getMany] ${check.found}/${check.keys} values in ${formatMs(ms)}; MONITOR: ${JSON.stringify(commands)}; commandstats mget ${check.mgetCalls}, get ${check.getCalls}`);
    return check;
  } catch (error) {
    log(`[getMany] failed: ${message(error)}`);
    return { ...base, error: message(error) };
  } finally {
    await bounded(Promise.all([writer.close(), reader.close()]), 5_000, 'getMany caches: close()');
  }
}

// ------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (globalThis.gc === undefined) throw new Error('run with node --expose-gc (npm run bench:redis does)');
  const unknown = ONLY.filter((id) => !REDIS_CONTESTANTS.some((c) => c.id === id));
  if (unknown.length !== 0) {
    throw new Error(`BENCH_ONLY: unknown contestant ${unknown.join(', ')}; expected ${REDIS_CONTESTANTS.map((c) => c.id).join(', ')}`);
  }
  const started = performance.now();
  log(`hoard Redis benchmark${QUICK ? ' (BENCH_QUICK: short cells and outage)' : ''}`);
  let strays = 0;
  process.on('unhandledRejection', (reason) => {
    // A library's stray rejection must not end the run; it is counted in the results.
    strays++;
    log(`  unhandled rejection: ${message(reason)}`);
  });

  const workload = makeWorkload(WORKLOAD.hot, WORKLOAD.cold, WORKLOAD.hotShare, 1 << 20);
  const redis = await startRedis();
  log(`redis-server ${redis.url} (pid ${redis.pid})`);
  const bench = new Bench(redis, workload);
  let throughput: ThroughputCell[] = [];
  let outages: OutageCell[] = [];
  let getMany: GetManyCheck | undefined;
  try {
    throughput = await runThroughput(bench);
    log(`throughput done in ${seconds(started)} s`);
    outages = await runOutages(bench);
    log(`outages done in ${seconds(started)} s`);
    getMany = await runGetMany(bench);
  } finally {
    bench.admin.disconnect();
    redis.resume();
    await redis.stop();
  }

  const targets = evaluateTargets(throughput, outages, getMany, FAULTS, L2_TIMEOUT_MS);
  const mix = `${Math.round(WORKLOAD.hotShare * 100)} % of calls on ${WORKLOAD.hot} hot keys, the rest on ${formatOps(WORKLOAD.cold)} cold keys, L1 of ${formatOps(WORKLOAD.l1Entries)} entries`;
  const outageCaption = `${formatOps(SETTINGS.outage.rate)} calls/s, down ${formatMs(SETTINGS.outage.downMs)}, from the fault to ${formatMs(SETTINGS.outage.afterMs)} after Redis is back`;
  const report = [
    throughputTable(throughput, CONTESTANTS, CONCURRENCIES, `${mix} — median of ${SETTINGS.passes} pass${SETTINGS.passes === 1 ? '' : 'es'} of ${formatMs(SETTINGS.cellMs)}`),
    ...FAULTS.map((fault) => outageTable(outages, CONTESTANTS, fault, outageCaption)),
    getManyLine(getMany),
    targetsTable(targets),
  ].join('\n\n');
  process.stdout.write(`\n${report}\n`);

  const meta = {
    ...machineMeta(QUICK),
    loadAverage: os.loadavg(),
    workload: WORKLOAD,
    ttlMs: TTL_MS,
    l2TimeoutMs: L2_TIMEOUT_MS,
    factoryDelayMs: FACTORY_DELAY_MS,
    settings: SETTINGS,
    contestants: CONTESTANTS.map((c) => ({ id: c.id, label: c.label, settings: c.settings })),
    unhandledRejections: strays,
    seconds: seconds(started),
  };
  await mkdir(new URL('.', RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, `${JSON.stringify({ meta, throughput, outages, getMany, targets }, null, 2)}\n`);
  log(`\nresults written to ${path.relative(process.cwd(), fileURLToPath(RESULTS_FILE))} (${meta.seconds} s)`);
}

try {
  await main();
  // Some libraries keep timers or sockets behind; the run is over either way.
  process.exit(0);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
