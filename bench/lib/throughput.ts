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
  /** Sampling time in ms; mitata stops after this much time and at least 12 samples. */
  readonly budgetMs: number;
  /** Untimed run before sampling, so the code is optimised first. */
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
  const factory = new Function('cache', 'keys', 'value', source) as OpFactory;
  return factory(cache, keys, VALUE);
}

async function warmUp(op: Op, sync: boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (sync) for (let k = 0; k < 1024; k++) op();
    else for (let k = 0; k < 256; k++) await op();
  }
}

/**
 * Times one operation on a filled cache. The cache must hold exactly `keys.fill`: `set-evict`
 * leaves it holding other keys, so it must come last.
 */
export async function timeOperation(
  cache: CacheUnderTest,
  operation: Operation,
  keys: KeySet,
  options: TimingOptions,
): Promise<Timing> {
  const op = compileOp(operation, cache, PLAN[operation].keys(keys));
  await warmUp(op, cache.sync, options.warmupMs);
  const stats = await measure(op, { min_cpu_time: options.budgetMs * 1e6, min_samples: 12 });
  return {
    opsPerSec: 1e9 / stats.p50,
    nsPerOp: stats.p50,
    p25: stats.p25,
    p75: stats.p75,
    samples: stats.samples.length,
    ops: stats.ticks,
  };
}
