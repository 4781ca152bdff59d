/**
 * Memory-tier benchmark: hoard's memory store and facade against other in-process caches.
 *
 *   npm run bench:memory                  full run (10k and 1M entries), a few minutes
 *   BENCH_QUICK=1 npm run bench:memory    smoke run on small sizes
 *
 * Throughput is measured in this process, every contestant side by side; heap per entry is
 * measured in one child process per contestant (`memory.ts --heap <name>`). Tables go to stdout,
 * progress to stderr, everything to bench/results/memory-latest.json (memory-quick.json for a
 * smoke run). See bench/README.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CacheUnderTest, Contestant } from './lib/contestants.js';
import { CONTESTANTS, contestantById, prefill, verifyFilled } from './lib/contestants.js';
import type { HeapCase } from './lib/heap.js';
import { TTL_ON_MS, heapCaseName, measureHeapHere, measureHeapInChild } from './lib/heap.js';
import type { KeySet } from './lib/keys.js';
import { makeKeySet } from './lib/keys.js';
import type { HeapCell, ThroughputResult } from './lib/report.js';
import { evaluateTargets, formatOps, heapTable, sizeLabel, targetsTable, throughputTables, ttlLabel } from './lib/report.js';
import { collect, log, machineMeta, message, seconds } from './lib/run.js';
import type { Operation, Timing } from './lib/throughput.js';
import { OPERATIONS, prepareOperation } from './lib/throughput.js';

const QUICK = process.env.BENCH_QUICK === '1';

const SETTINGS = QUICK
  ? { sizes: [1_000, 20_000], heapEntries: 20_000, rounds: 3, timing: { roundMs: 15, warmupMs: 20 } }
  : { sizes: [10_000, 1_000_000], heapEntries: 1_000_000, rounds: 7, timing: { roundMs: 60, warmupMs: 60 } };

/**
 * Contestants filled together and timed in alternation. Sync and async caches run apart: together
 * a million entries of all eight would hold well over a gigabyte, and every collection would pay
 * for all of them.
 */
const HEATS: readonly (readonly Contestant[])[] = [CONTESTANTS.filter((c) => c.sync), CONTESTANTS.filter((c) => !c.sync)];

/** Every contestant with and without TTL; the facade only with (it always has one). */
const HEAP_CASES: readonly HeapCase[] = CONTESTANTS.flatMap((contestant) =>
  contestant.alwaysTtl !== undefined ? [{ contestant, ttl: true }] : [{ contestant, ttl: false }, { contestant, ttl: true }],
);

/** A smoke run writes apart, so it never replaces the numbers of the last full run. */
const RESULTS_FILE = new URL(QUICK ? './results/memory-quick.json' : './results/memory-latest.json', import.meta.url);

/** A contestant's filled cache inside a heat, with what its rounds measured so far. */
interface Entrant {
  readonly contestant: Contestant;
  readonly cache: CacheUnderTest;
  readonly rounds: Record<Operation, Timing[]>;
  readonly errors: Partial<Record<Operation, string>>;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function perOperation<T>(make: () => T): Record<Operation, T> {
  return { 'get-hit': make(), 'get-miss': make(), 'set-overwrite': make(), 'set-evict': make() };
}

/**
 * Runs one heat: fills every contestant's cache, then times each operation in short rounds,
 * visiting the contestants in a rotated order each round. A slow spell of the machine (another
 * process, a collection) then lands on a round of each contestant rather than on one contestant,
 * and a cell is the median of its rounds' medians.
 */
async function runHeat(heat: readonly Contestant[], keys: KeySet, ttl: boolean): Promise<ThroughputResult[]> {
  const group = `[${sizeLabel(keys.size)} ${ttlLabel(ttl)}]`;
  const results: ThroughputResult[] = [];
  const entrants: Entrant[] = [];
  for (const contestant of heat) {
    try {
      const started = performance.now();
      const cache = await contestant.create({ maxEntries: keys.size, ttl: ttl ? TTL_ON_MS : undefined });
      await prefill(cache, keys.fill);
      await verifyFilled(cache, keys.fill, keys.misses);
      log(`${group} ${contestant.id}: filled in ${seconds(started).toFixed(1)} s`);
      entrants.push({ contestant, cache, rounds: perOperation(() => []), errors: {} });
    } catch (error) {
      log(`${group} ${contestant.id}: could not create or fill: ${message(error)}`);
      for (const operation of OPERATIONS) {
        results.push({ size: keys.size, ttl, operation, contestant: contestant.id, error: message(error) });
      }
    }
  }
  collect();

  for (const operation of OPERATIONS) {
    const timers = entrants.map((e) => prepareOperation(e.cache, operation, keys, SETTINGS.timing));
    for (let round = 0; round < SETTINGS.rounds; round++) {
      const line: string[] = [];
      for (let k = 0; k < entrants.length; k++) {
        const at = (k + round) % entrants.length;
        const e = entrants[at]!;
        if (e.errors[operation] !== undefined) continue;
        try {
          const timing = await timers[at]!();
          e.rounds[operation].push(timing);
          line.push(`${e.contestant.id} ${formatOps(timing.opsPerSec)}`);
        } catch (error) {
          e.errors[operation] = message(error);
          line.push(`${e.contestant.id} failed: ${message(error)}`);
        }
      }
      log(`${group} ${operation} round ${round + 1}: ${line.join(', ')}`);
    }
  }

  for (const e of entrants) {
    for (const operation of OPERATIONS) {
      const rounds = e.rounds[operation];
      const error = e.errors[operation];
      const base = { size: keys.size, ttl, operation, contestant: e.contestant.id, rounds };
      results.push(error !== undefined ? { ...base, error } : { ...base, opsPerSec: median(rounds.map((r) => r.opsPerSec)) });
    }
    await e.cache.close();
  }
  return results;
}

async function runThroughput(): Promise<ThroughputResult[]> {
  const results: ThroughputResult[] = [];
  for (const size of SETTINGS.sizes) {
    const keys = makeKeySet(size);
    for (const ttl of [false, true]) {
      for (const heat of HEATS) {
        results.push(...(await runHeat(heat, keys, ttl)));
        // Let the heat's caches go before the next heat fills its own.
        await new Promise((resolve) => setImmediate(resolve));
        collect();
      }
    }
  }
  return results;
}

/** Heap children run two at a time: heap sizes do not depend on CPU contention, unlike timings. */
async function runHeap(): Promise<HeapCell[]> {
  const cells = new Array<HeapCell>(HEAP_CASES.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < HEAP_CASES.length) {
      const at = next++;
      const c = HEAP_CASES[at]!;
      try {
        const result = await measureHeapInChild(c, SETTINGS.heapEntries);
        log(`[heap] ${heapCaseName(c)}: ${result.bytesPerEntry.toFixed(1)} bytes/entry`);
        cells[at] = { contestant: c.contestant.id, ttl: c.ttl, result };
      } catch (error) {
        log(`[heap] ${heapCaseName(c)}: failed: ${message(error)}`);
        cells[at] = { contestant: c.contestant.id, ttl: c.ttl, error: message(error) };
      }
    }
  };
  await Promise.all([worker(), worker()]);
  return cells;
}

async function main(): Promise<void> {
  if (globalThis.gc === undefined) throw new Error('run with node --expose-gc (npm run bench:memory does)');
  const started = performance.now();
  const loadBefore = os.loadavg()[0] ?? 0;
  log(`hoard memory benchmark${QUICK ? ' (BENCH_QUICK: small sizes, short samples)' : ''}`);
  if (loadBefore > os.availableParallelism() / 4) {
    log(`warning: load average ${loadBefore.toFixed(2)}: other processes are busy, timings will be noisy`);
  }

  const throughput = await runThroughput();
  log(`throughput done in ${seconds(started)} s`);
  const heapStarted = performance.now();
  const heap = await runHeap();
  log(`heap done in ${seconds(heapStarted)} s`);
  const targets = evaluateTargets(throughput, heap, SETTINGS.sizes);

  const loadAfter = os.loadavg()[0] ?? 0;
  const machine = `Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.availableParallelism()}`;
  const load = `load average ${loadBefore.toFixed(2)} at start, ${loadAfter.toFixed(2)} at end`;
  const report = [
    `${machine}; ${load}; ${SETTINGS.rounds} rounds of ${SETTINGS.timing.roundMs} ms per cell.`,
    throughputTables(throughput, CONTESTANTS, SETTINGS.sizes),
    heapTable(heap, CONTESTANTS, SETTINGS.heapEntries),
    targetsTable(targets),
  ].join('\n\n');
  process.stdout.write(`\n${report}\n`);

  const meta = {
    ...machineMeta(QUICK),
    sizes: SETTINGS.sizes,
    heapEntries: SETTINGS.heapEntries,
    rounds: SETTINGS.rounds,
    timing: SETTINGS.timing,
    ttlOnMs: TTL_ON_MS,
    loadAverage: { start: loadBefore, end: loadAfter },
    seconds: seconds(started),
  };
  await mkdir(new URL('.', RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, `${JSON.stringify({ meta, throughput, heap, targets }, null, 2)}\n`);
  log(`\nresults written to ${path.relative(process.cwd(), fileURLToPath(RESULTS_FILE))} (${meta.seconds} s)`);
}

/** `--heap <name> [--entries <n>]`: the child side of one heap measurement; prints one JSON line. */
async function heapChild(args: readonly string[]): Promise<void> {
  const name = args[args.indexOf('--heap') + 1] ?? '';
  const entriesAt = args.indexOf('--entries');
  const entries = entriesAt === -1 ? SETTINGS.heapEntries : Number(args[entriesAt + 1]);
  const ttl = name.endsWith('+ttl');
  const contestant = contestantById(ttl ? name.slice(0, -'+ttl'.length) : name);
  const result = await measureHeapHere({ contestant, ttl }, entries);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const args = process.argv.slice(2);
try {
  await (args.includes('--heap') ? heapChild(args) : main());
  // Some libraries keep timers or sockets behind; the run is over either way.
  process.exit(0);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
