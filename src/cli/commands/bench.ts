import { randomUUID } from 'node:crypto';
import type { Cache } from '../../cache/cache.js';
import type { Context } from '../context.js';
import { bytes, count, latency, percent } from '../format.js';
import { grid } from '../table.js';
import { openRedisTarget } from '../target.js';

export interface BenchOptions {
  seconds: number;
  concurrency: number;
  size: number;
}

export interface PhaseResult {
  op: 'set' | 'get' | 'getOrSet';
  ops: number;
  opsPerSecond: number;
  /** Latency of one call in ms, as its caller waits for it (queueing behind the other calls in flight included). */
  p50: number;
  p99: number;
  errors: number;
  /** getOrSet only: share of calls answered from the cache. */
  hitRate?: number;
}

/** Distinct keys set and get cycle through. */
const KEYS = 1_000;
/** Distinct keys of getOrSet: each misses once, then hits (what a warm cache mostly does). */
const GET_OR_SET_KEYS = 100;

/**
 * `bench`: a short get / set / getOrSet run against the target through hoard's own facade (the
 * same code path as a service), `concurrency` calls in flight, a third of the time each, in a
 * namespace of its own that is removed afterwards.
 */
export async function bench(ctx: Context, options: BenchOptions): Promise<number> {
  const target = await openRedisTarget('bench', ctx.options, {}, ctx.env);
  const { out } = ctx;
  const space = target.cache.namespace(`hoard-bench-${randomUUID().slice(0, 8)}`);
  let errors = 0;
  const off = target.cache.on('error', () => errors++);
  const value = 'x'.repeat(options.size);
  const phaseMs = (options.seconds * 1000) / 3;
  const results: PhaseResult[] = [];
  try {
    const run = async (op: PhaseResult['op'], call: (i: number) => Promise<unknown>): Promise<PhaseResult | undefined> => {
      if (ctx.signal.aborted) return undefined;
      if (!out.json) out.note(out.ec.dim(`${op}: ${(phaseMs / 1000).toFixed(1)} s, ${options.concurrency} in flight ...`));
      const result = await phase(op, call, phaseMs, options.concurrency, ctx.signal, () => errors);
      results.push(result);
      return result;
    };
    await run('set', (i) => space.set(`k${i % KEYS}`, value));
    await run('get', (i) => space.get(`k${i % KEYS}`));
    let hits = 0;
    let calls = 0;
    const getOrSet = await run('getOrSet', async (i) => {
      calls++;
      let ran = false;
      await space.getOrSet(`g${i % GET_OR_SET_KEYS}`, () => ((ran = true), value));
      if (!ran) hits++;
    });
    if (getOrSet !== undefined) getOrSet.hitRate = calls === 0 ? 0 : hits / calls;
  } finally {
    off();
    await cleanUp(space);
    await target.close();
  }
  const l2Timeout = target.serviceL2Timeout;
  if (out.json) {
    out.data({ target: target.label, concurrency: options.concurrency, valueBytes: options.size, seconds: options.seconds, serviceL2Timeout: l2Timeout, results });
  } else {
    out.line(out.c.bold(`${target.label}: ${options.concurrency} calls in flight, ${bytes(options.size)} values`));
    out.line(
      grid(
        ['op', 'ops/s', 'p50', 'p99', 'errors'],
        results.map((r) => [r.hitRate === undefined ? r.op : `${r.op} (${percent(r.hitRate)} hits)`, count(r.opsPerSecond), latency(r.p50), latency(r.p99), r.errors === 0 ? '0' : out.c.red(count(r.errors))]),
        out.c,
        [1, 2, 3, 4],
      ),
    );
    const slow = results.filter((r) => r.p99 >= l2Timeout);
    if (slow.length !== 0) out.line(out.c.yellow(`p99 of ${slow.map((r) => r.op).join(', ')} is past the services' l2Timeout (${l2Timeout} ms): calls that slow count as Redis failures there`));
  }
  return results.some((r) => r.errors !== 0) ? 1 : 0;
}

async function phase(op: PhaseResult['op'], call: (i: number) => Promise<unknown>, ms: number, concurrency: number, signal: AbortSignal, errorCount: () => number): Promise<PhaseResult> {
  const samples: number[] = [];
  const errorsBefore = errorCount();
  let thrown = 0;
  let next = 0;
  const started = performance.now();
  const end = started + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!signal.aborted) {
        const at = performance.now();
        if (at >= end) return;
        try {
          await call(next++);
        } catch {
          thrown++;
        }
        samples.push(performance.now() - at);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return { op, ops: samples.length, opsPerSecond: samples.length / Math.max(elapsed, 0.001), p50: at(0.5), p99: at(0.99), errors: thrown + errorCount() - errorsBefore };
}

async function cleanUp(space: Cache): Promise<void> {
  await space.clear().catch(() => undefined);
}
