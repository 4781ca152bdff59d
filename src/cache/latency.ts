const WINDOW = 1024; // most recent samples kept
const SAMPLE_EVERY = 16; // one call in this many is timed, so the hot path rarely reads the clock

/** Latency of recent facade calls, sampled into a ring buffer; percentiles on demand. */
export class LatencyRecorder {
  readonly #samples = new Float64Array(WINDOW);
  #count = 0;
  #calls = 0;

  /** Whether this call should be timed. */
  sample(): boolean {
    return ++this.#calls % SAMPLE_EVERY === 0;
  }

  record(ms: number): void {
    this.#samples[this.#count++ % WINDOW] = ms;
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
