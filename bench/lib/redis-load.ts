/**
 * Load generators of the Redis benchmark: a closed loop (N calls in flight, as fast as they
 * answer) for throughput, and an open loop (a fixed rate, whatever the answers do) for outages.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisCache, Value } from './redis-contestants.js';
import { mulberry32 } from './keys.js';

/** Pre-generated key sequence: every contestant sees the same keys in the same order. */
export interface Workload {
  readonly hotKeys: readonly string[];
  readonly coldKeys: readonly string[];
  /** The sequence the loops walk through, cycled. */
  readonly sequence: readonly string[];
  /** 1 where `sequence[i]` is a hot key. */
  readonly hot: Uint8Array;
  readonly hotShare: number;
}

export function makeWorkload(hotCount: number, coldCount: number, hotShare: number, length: number, seed = 7): Workload {
  const hotKeys = Array.from({ length: hotCount }, (_, i) => `hot:${i}`);
  const coldKeys = Array.from({ length: coldCount }, (_, i) => `cold:${i}`);
  const random = mulberry32(seed);
  const sequence = new Array<string>(length);
  const hot = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    if (random() < hotShare) {
      sequence[i] = hotKeys[Math.floor(random() * hotCount)]!;
      hot[i] = 1;
    } else {
      sequence[i] = coldKeys[Math.floor(random() * coldCount)]!;
    }
  }
  return { hotKeys, coldKeys, sequence, hot, hotShare };
}

/** Percentiles of a latency sample, in ms. */
export interface Latency {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Sorts `samples` in place and reads its percentiles (nearest rank). */
export function latencyOf(samples: Float64Array | Float32Array): Latency {
  const n = samples.length;
  if (n === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN };
  samples.sort();
  const at = (q: number): number => samples[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  return { count: n, p50: at(0.5), p99: at(0.99), max: samples[n - 1]! };
}

// ------------------------------------------------------------------------------------------------
// Closed loop

export interface ClosedLoopResult {
  readonly concurrency: number;
  readonly ms: number;
  readonly calls: number;
  readonly opsPerSec: number;
  readonly errors: number;
  readonly latency: Latency;
}

/** Shared by the workers of one run. */
interface LoopState {
  cursor: number;
  count: number;
  errors: number;
  deadline: number;
  readonly sequence: readonly string[];
  readonly samples: Float32Array;
}

type Worker = (state: LoopState) => Promise<void>;

/**
 * The worker loop of one contestant, compiled from source for the same reason as the memory
 * benchmark's timed functions (bench/lib/throughput.ts): a closure shared by every contestant
 * would make `cache.getOrSet` megamorphic and favour whoever ran first.
 *
 * A worker stops by reading the clock after each call, not by a timer: calls answered from
 * memory resolve in microtasks, and a loop of them never lets a timer run.
 */
function compileWorker(cache: RedisCache): Worker {
  const source = `
    'use strict';
    return async function worker(state) {
      const sequence = state.sequence;
      const n = sequence.length;
      const samples = state.samples;
      const capacity = samples.length;
      for (;;) {
        const key = sequence[state.cursor];
        if (++state.cursor === n) state.cursor = 0;
        const t0 = performance.now();
        try {
          await cache.getOrSet(key);
        } catch {
          state.errors++;
        }
        const t1 = performance.now();
        const at = state.count++;
        if (at < capacity) samples[at] = t1 - t0;
        if (t1 >= state.deadline) return;
      }
    };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- compiled per contestant on purpose (above)
  return (new Function('cache', source) as (cache: RedisCache) => Worker)(cache);
}

/** A closed-loop runner bound to one contestant's cache; reuses one sample buffer. */
export class ClosedLoop {
  readonly #worker: Worker;
  readonly #workload: Workload;
  readonly #samples: Float32Array;
  #cursor = 0;

  constructor(cache: RedisCache, workload: Workload, samples: Float32Array) {
    this.#worker = compileWorker(cache);
    this.#workload = workload;
    this.#samples = samples;
  }

  /** Runs `concurrency` workers for `ms`; a warm-up is the same call with its result ignored. */
  async run(concurrency: number, ms: number): Promise<ClosedLoopResult> {
    const start = performance.now();
    const state: LoopState = {
      cursor: this.#cursor,
      count: 0,
      errors: 0,
      deadline: start + ms,
      sequence: this.#workload.sequence,
      samples: this.#samples,
    };
    const workers: Promise<void>[] = [];
    for (let w = 0; w < concurrency; w++) workers.push(this.#worker(state));
    await Promise.all(workers);
    const elapsed = performance.now() - start;
    this.#cursor = state.cursor;
    const recorded = Math.min(state.count, this.#samples.length);
    return {
      concurrency,
      ms: elapsed,
      calls: state.count,
      opsPerSec: (state.count * 1000) / elapsed,
      errors: state.errors,
      latency: latencyOf(this.#samples.subarray(0, recorded)),
    };
  }
}

/** Writes every entry through `cache.set`, `concurrency` writes at a time. */
export async function writeAll(cache: RedisCache, entries: readonly { key: string; value: Value }[], concurrency: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < entries.length) {
      const { key, value } = entries[next++]!;
      await cache.set(key, value);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

// ------------------------------------------------------------------------------------------------
// Open loop with a fault in the middle

export type Fault = 'pause' | 'kill';

export interface OpenLoopPlan {
  readonly rate: number;
  /** Steady state before the fault. */
  readonly beforeMs: number;
  /** How long Redis stays stopped or dead. */
  readonly downMs: number;
  /** Run time after Redis is back. */
  readonly afterMs: number;
  /** Interval between probes for a Redis-backed answer once Redis is back. */
  readonly probeEveryMs: number;
  /** Longest wait for calls still in flight when the run ends. */
  readonly drainMs: number;
}

export interface FaultHooks {
  /** Starts the fault (SIGSTOP, or SIGKILL and wait). */
  begin(): Promise<void>;
  /**
   * Ends it (SIGCONT, or restart and restore the probe keys), calling `back()` the moment Redis
   * answers again (before any restoring).
   */
  end(back: () => void): Promise<void>;
}

/** Outcome of one call of the open loop. */
const PENDING = 0;
const OK = 1;
const EMPTY = 2;
const REJECTED = 3;

export interface WindowStats {
  readonly calls: number;
  readonly rejected: number;
  /** Calls answered with `undefined` (a library that swallowed a failure). */
  readonly empty: number;
  /** Calls still unanswered when the run gave up waiting. */
  readonly unanswered: number;
  readonly hot: Latency;
  readonly cold: Latency;
}

export interface OpenLoopResult {
  readonly issued: number;
  /** ms from the start of the run. */
  readonly faultAt: number;
  /** ms from the start of the run: when Redis answered again (restart done, or SIGCONT sent). */
  readonly returnAt: number;
  readonly endAt: number;
  /** Calls started before the fault. */
  readonly before: WindowStats;
  /** Calls started while Redis was stopped or dead. */
  readonly down: WindowStats;
  /** Calls started after Redis came back. */
  readonly after: WindowStats;
  /** Calls started from the fault to the end: the outage and the recovery. */
  readonly outage: WindowStats;
  /** Whether a probe before the fault was answered from Redis (checks the probe itself). */
  readonly probeWorks: boolean;
  /** ms from Redis' return to the first probe answered from Redis; undefined: none in the run. */
  readonly firstRedisAnswerMs: number | undefined;
  readonly probes: number;
  /** Largest lag of the driver behind its schedule, ms (shows whether the rate was kept). */
  readonly maxLagMs: number;
  /** Errors the library reported without rejecting a call, during the run. */
  readonly reported: number;
}

function isMarker(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { source?: unknown }).source === 'marker';
}

/**
 * Drives `cache` at `plan.rate` calls/s from the workload, with the fault from `hooks` after
 * `beforeMs`. Latency is measured from each call's start; the driver's lag behind its schedule
 * is reported apart. Once Redis is back, a probe reads a never-read marker key (present only in
 * Redis) every `probeEveryMs` until one is answered with the marker.
 */
export async function runOpenLoop(
  cache: RedisCache,
  workload: Workload,
  probeKeys: readonly string[],
  plan: OpenLoopPlan,
  hooks: FaultHooks,
): Promise<OpenLoopResult> {
  const total = Math.ceil(((plan.beforeMs + plan.downMs + plan.afterMs) * plan.rate) / 1000) + plan.rate * 10;
  const started = new Float64Array(total);
  const latency = new Float64Array(total);
  const status = new Uint8Array(total);
  const hot = new Uint8Array(total);
  const sequence = workload.sequence;
  const reportedAtStart = cache.reported();
  let issued = 0;
  let maxLag = 0;
  let probe = 0;
  let probeWorks = false;
  let firstRedisAnswer: number | undefined;
  let returnAt = Infinity;
  let stopIssuing = false;

  const t0 = performance.now();
  const now = (): number => performance.now() - t0;

  const issue = (): void => {
    const i = issued++;
    const at = i % sequence.length;
    hot[i] = workload.hot[at]!;
    const start = performance.now();
    started[i] = start - t0;
    cache.getOrSet(sequence[at]!).then(
      (value) => {
        latency[i] = performance.now() - start;
        status[i] = value === undefined ? EMPTY : OK;
      },
      () => {
        latency[i] = performance.now() - start;
        status[i] = REJECTED;
      },
    );
  };

  const sendProbe = (check: boolean): void => {
    const key = probeKeys[probe++];
    if (key === undefined) return;
    cache.getOrSet(key).then(
      (value) => {
        if (!isMarker(value)) return;
        if (check) probeWorks = true;
        else firstRedisAnswer ??= now() - returnAt;
      },
      () => undefined,
    );
  };

  // The driver: every timer tick, issue what the schedule says is due by now.
  const driver = (async () => {
    const perMs = plan.rate / 1000;
    const until = plan.beforeMs + plan.downMs + plan.afterMs;
    let checked = false;
    let nextProbe = Infinity;
    for (;;) {
      const t = now();
      if (stopIssuing || t >= until) return;
      const due = Math.floor(t * perMs);
      if (due - issued > 1) maxLag = Math.max(maxLag, (due - issued) / perMs);
      while (issued < due && issued < total) issue();
      if (!checked && t >= plan.beforeMs / 2) {
        checked = true;
        sendProbe(true);
      }
      if (returnAt !== Infinity) {
        if (nextProbe === Infinity) nextProbe = t;
        if (firstRedisAnswer === undefined && t >= nextProbe) {
          sendProbe(false);
          nextProbe += plan.probeEveryMs;
        }
      }
      await sleep(1);
    }
  })();

  let faultAt = NaN;
  try {
    await sleep(plan.beforeMs);
    faultAt = now();
    await hooks.begin();
    await sleep(Math.max(0, plan.beforeMs + plan.downMs - now()));
  } finally {
    // Always end the fault, whatever happened, so Redis is never left stopped.
    await hooks.end(() => {
      returnAt = now();
    });
    if (returnAt === Infinity) returnAt = now();
  }
  await driver.catch(() => {
    stopIssuing = true;
  });
  const endAt = now();

  // Wait for the calls still in flight (bounded).
  const drainUntil = performance.now() + plan.drainMs;
  const pending = (): boolean => {
    for (let i = 0; i < issued; i++) if (status[i] === PENDING) return true;
    return false;
  };
  while (pending() && performance.now() < drainUntil) await sleep(20);

  const window = (from: number, to: number): WindowStats => {
    let calls = 0;
    let rejected = 0;
    let empty = 0;
    let unanswered = 0;
    const hotSamples: number[] = [];
    const coldSamples: number[] = [];
    for (let i = 0; i < issued; i++) {
      const s = started[i]!;
      if (s < from || s >= to) continue;
      calls++;
      const st = status[i]!;
      if (st === PENDING) {
        unanswered++;
        continue;
      }
      if (st === REJECTED) rejected++;
      else if (st === EMPTY) empty++;
      (hot[i] === 1 ? hotSamples : coldSamples).push(latency[i]!);
    }
    return {
      calls,
      rejected,
      empty,
      unanswered,
      hot: latencyOf(Float64Array.from(hotSamples)),
      cold: latencyOf(Float64Array.from(coldSamples)),
    };
  };

  return {
    issued,
    faultAt,
    returnAt,
    endAt,
    before: window(0, faultAt),
    down: window(faultAt, returnAt),
    after: window(returnAt, Infinity),
    outage: window(faultAt, Infinity),
    probeWorks,
    firstRedisAnswerMs: firstRedisAnswer,
    probes: probe,
    maxLagMs: maxLag,
    reported: cache.reported() - reportedAtStart,
  };
}
