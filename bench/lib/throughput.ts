import { measure } from 'mitata';
import type { CacheUnderTest } from './contestants.js';
import { VALUE } from './contestants.js';
import type { KeySet } from './keys.js';

export const OPERATIONS = ['get-hit', 'get-miss', 'set-overwrite', 'set-evict'] as const;
export type Operation = (typeof OPERATIONS)[number];

export const OPERATION_TITLES: Readonly<Record<Operation, string>> = {
  'get-hit': 'get (hit)',
  'get-miss': 'get (miss)',
  'set-overwrite': 'set (overwrite)',
  'set-evict': 'set (evicting)',
};

export interface Timing {
  /** Operations per second at the median sample. */
  readonly opsPerSec: number;
  /** Median nanoseconds per operation. */
  readonly nsPerOp: number;
  /** 25th and 75th percentile ns per operation, to judge the spread. */
  readonly p25: number;
  readonly p75: number;
  readonly samples: number;
  /** Operations run while sampling (warm-up excluded). */
  readonly ops: number;
}

export interface TimingOptions {
  /** Sampling time of one round in ms. */
  readonly roundMs: number;
  /** Untimed run before the first round, so the code is optimised first. */
  readonly warmupMs: number;
}

type Op = () => unknown;
type OpFactory = (cache: CacheUnderTest, keys: readonly string[], value: unknown) => Op;

/** Which keys each operation uses, and the call it makes. */
const PLAN: Readonly<Record<Operation, { keys: (set: KeySet) => readonly string[]; call: string }>> = {
  'get-hit': { keys: (set) => set.hits, call: 'cache.get(key)' },
  'get-miss': { keys: (set) => set.misses, call: 'cache.get(key)' },
  'set-overwrite': { keys: (set) => set.hits, call: 'cache.set(key, value)' },
  'set-evict': { keys: (set) => set.evicting, call: 'cache.set(key, value)' },
};

/**
 * The timed function of one contestant × operation: takes the next pre-generated key and makes
 * one call (mitata awaits it when it returns a promise).
 *
 * It is compiled from source on every use on purpose: a closure written once in this file would
 * share its inline caches across contestants, turning `cache.get` into a megamorphic call that V8
 * cannot inline, and whichever library ran first would get the best code. A fresh function per
 * case keeps every call site monomorphic, as it would be in an application using one library.
 */
function compileOp(operation: Operation, cache: CacheUnderTest, keys: readonly string[]): Op {
  const source = `
    'use strict';
    const n = keys.length;
    let i = 0;
    return function op() {
      const key = keys[i];
      if (++i === n) i = 0;
      return ${PLAN[operation].call};
    };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- compiled per case on purpose (above)
  const factory = new Function('cache', 'keys', 'value', source) as OpFactory;
  return factory(cache, keys, VALUE);
}

/** Runs `op` untimed for `ms` and returns the rough ns per call. */
async function warmUp(op: Op, sync: boolean, ms: number): Promise<number> {
  const start = performance.now();
  const end = start + ms;
  let calls = 0;
  do {
    if (sync) for (let k = 0; k < 1024; k++) op();
    else for (let k = 0; k < 256; k++) await op();
    calls += sync ? 1024 : 256;
  } while (performance.now() < end);
  return ((performance.now() - start) * 1e6) / calls;
}

/** Calls per sample: about a millisecond's worth (fast calls: mitata's default 4096). */
function batchSize(nsPerCall: number): number {
  const calls = Math.round(1e6 / nsPerCall / 4) * 4; // mitata unrolls its loop by 4
  return Math.min(4096, Math.max(4, calls));
}

/**
 * Prepares one operation on a filled cache and returns a function that times one round of it.
 * The key cursor carries over between rounds, so `set-evict` continues its cycle and keeps
 * evicting. The cache must hold exactly `keys.fill` when an operation's first round runs;
 * `set-evict` replaces them, so it runs last.
 */
export function prepareOperation(
  cache: CacheUnderTest,
  operation: Operation,
  keys: KeySet,
  options: TimingOptions,
): () => Promise<Timing> {
  const op = compileOp(operation, cache, PLAN[operation].keys(keys));
  let batch: number | undefined;
  return async () => {
    batch ??= batchSize(await warmUp(op, cache.sync, options.warmupMs));
    // gc: false. A full collection before every round would cost more than the round with a
    // million entries live; the median shrugs off the occasional collection inside a round.
    const stats = await measure(op, {
      min_cpu_time: options.roundMs * 1e6,
      min_samples: 5,
      batch_samples: batch,
      gc: false,
    });
    return {
      opsPerSec: 1e9 / stats.p50,
      nsPerOp: stats.p50,
      p25: stats.p25,
      p75: stats.p75,
      samples: stats.samples.length,
      ops: stats.ticks,
    };
  };
}
