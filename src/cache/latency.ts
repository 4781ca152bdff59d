const WINDOW = 1024; // most recent samples kept
const SAMPLE_EVERY = 16; // one call in this many is timed, so the hot path rarely reads the clock

/**
 * Upper bounds (ms) of the latency histogram's buckets, from 10 µs: a memory hit takes well under
 * the first, a Redis round trip 0.1 to 1 ms, a factory anything up to seconds.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/** A latency histogram as collectors read it: cumulative counts per bucket, in seconds. */
export interface LatencyHistogram {
  /** Upper bounds of the buckets, in seconds (the last, `+Inf`, is implied). */
  readonly bounds: readonly number[];
  /** Calls at or under each bound, cumulative; one more entry than `bounds`: the total (`+Inf`). */
  readonly counts: readonly number[];
  /** Sum of the latencies, in seconds. */
  readonly sum: number;
  /** Number of calls the histogram stands for (the last entry of `counts`). */
  readonly count: number;
}

const BOUNDS_S = LATENCY_BUCKETS_MS.map((ms) => ms / 1000);

/** Latency of recent facade calls, sampled into a ring buffer; percentiles on demand. */
export class LatencyRecorder {
  readonly #samples = new Float64Array(WINDOW);
  #count = 0;
  #calls = 0;
  /**
   * Histogram of the timed calls per tier (0: answered from memory, 1: went to the shared tier),
   * each sample weighted by how many calls it stands for, so counts only ever grow (collectors
   * read them as Prometheus counters) and stay close to the number of calls.
   */
  readonly #buckets = [new Float64Array(LATENCY_BUCKETS_MS.length + 1), new Float64Array(LATENCY_BUCKETS_MS.length + 1)] as const;
  readonly #sums = new Float64Array(2);

  /** Whether this call should be timed. */
  sample(): boolean {
    return ++this.#calls % SAMPLE_EVERY === 0;
  }

  /**
   * A timed call: `tier` 1 when it went to the shared tier, `weight` how many calls it stands for
   * (a sampled call, one in {@link SAMPLE_EVERY}; 1 for a call timed every time).
   */
  record(ms: number, tier: 0 | 1 = 0, weight: number = SAMPLE_EVERY): void {
    this.#samples[this.#count++ % WINDOW] = ms;
    let b = 0;
    while (b < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[b]!) b++;
    this.#buckets[tier][b]! += weight;
    this.#sums[tier]! += ms * weight;
  }

  /** The histogram of one tier (0: memory, 1: shared), for metrics collectors. */
  histogram(tier: 0 | 1): LatencyHistogram {
    const own = this.#buckets[tier];
    const counts = new Array<number>(own.length);
    let total = 0;
    for (let i = 0; i < own.length; i++) counts[i] = total += own[i]!;
    return { bounds: BOUNDS_S, counts, sum: this.#sums[tier]! / 1000, count: total };
  }

  percentiles(): { p50: number; p99: number } {
    const n = Math.min(this.#count, WINDOW);
    if (n === 0) return { p50: 0, p99: 0 };
    const sorted = this.#samples.slice(0, n).sort();
    return { p50: round(sorted[Math.floor((n - 1) * 0.5)]!), p99: round(sorted[Math.floor((n - 1) * 0.99)]!) };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
