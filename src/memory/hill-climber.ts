/**
 * Sizes the admission window of W-TinyLFU by hill climbing on the hit ratio, as Caffeine's
 * `climb()` / `determineAdjustment()` (before its density-based climber): after each sample of
 * requests, keep moving the window in the direction that raised the hit ratio, reverse when it fell,
 * take smaller steps as it settles, and restart with a large step when the ratio jumps (the
 * workload changed). Recency-biased workloads so grow the window toward LRU, frequency-biased ones
 * shrink it toward 1% (issue 13).
 */

/** A change of the sample hit ratio this large restarts the climber with a full step. */
const RESTART_THRESHOLD = 0.05;
/**
 * Full step, as a share of the cache. Caffeine takes 6.25 %; on the recency-biased trace of
 * `npm run bench:hitratio` at 2k entries that left the window short of its best size for much of
 * the run (0.9 to 1.3 points under LRU, depending on the process's hash seed), where 8 % stays at
 * 0.8 (and at 10k entries 2.6 instead of 3.3). Larger steps gain little more there and cost the
 * Zipf 0.8 trace at 1 %, whose best window is small: with 10 % it fell to 32.3-33.4 % hits.
 */
const STEP_PERCENT = 0.08;
/** Each sample shrinks the step by this factor. */
const STEP_DECAY_RATE = 0.98;
/** A full step is at least this many entries, so small caches can adapt at all. */
const MIN_INITIAL_STEP = 2;
/** Caches this small take longer samples as the step decays, and decay it more slowly. */
const SMALL_CACHE_THRESHOLD = 512;
const SMALL_CACHE_SAMPLE_RATIO_CAP = 4;
const SMALL_CACHE_STEP_DECAY_RATE = 0.995;

export class HillClimber {
  readonly #maximum: number;
  readonly #baseSample: number;
  #hits = 0;
  #misses = 0;
  /** Requests after which {@link recordHits} / {@link recordMiss} report that a sample is due. */
  #due: number;
  #previousHitRate = 0;
  #stepSize: number;

  /**
   * @param maximum entries the cache holds
   * @param sampleSize requests per sample (the frequency sketch's: ten per entry)
   */
  constructor(maximum: number, sampleSize: number) {
    this.#maximum = maximum;
    this.#baseSample = sampleSize;
    const step = Math.max(STEP_PERCENT * maximum, MIN_INITIAL_STEP);
    // A small cache starts by growing its window: a step below one entry would never move it.
    this.#stepSize = maximum <= SMALL_CACHE_THRESHOLD ? step : -step;
    this.#due = this.#sampleSize();
  }

  /** Counts `hits` hits; true when the sample is complete and {@link adjustment} should be asked. */
  recordHits(hits: number): boolean {
    return (this.#hits += hits) + this.#misses >= this.#due;
  }

  /** Counts a miss (an insert); true when the sample is complete. */
  recordMiss(): boolean {
    return this.#hits + ++this.#misses >= this.#due;
  }

  /** Makes the next recorded request report "due" (work is left over from the last adjustment). */
  dueNow(): void {
    this.#due = this.#hits + this.#misses + 1;
  }

  /**
   * The entries to move into (positive) or out of (negative) the window; 0 until a sample is
   * complete. `counting`: whether the frequency sketch runs yet; before, samples are discarded.
   */
  adjustment(counting: boolean): number {
    if (!counting) {
      this.#previousHitRate = 0;
      this.#hits = this.#misses = 0;
      this.#due = this.#sampleSize();
      return 0;
    }
    const requests = this.#hits + this.#misses;
    const sample = this.#sampleSize();
    if (requests < sample) {
      this.#due = sample;
      return 0;
    }
    const decay = this.#maximum <= SMALL_CACHE_THRESHOLD ? SMALL_CACHE_STEP_DECAY_RATE : STEP_DECAY_RATE;
    const hitRate = this.#hits / requests;
    const change = hitRate - this.#previousHitRate;
    const amount = change >= 0 ? this.#stepSize : -this.#stepSize;
    this.#stepSize =
      Math.abs(change) >= RESTART_THRESHOLD
        ? Math.sign(amount || 1) * Math.max(STEP_PERCENT * this.#maximum, MIN_INITIAL_STEP)
        : decay * amount;
    this.#previousHitRate = hitRate;
    this.#hits = this.#misses = 0;
    this.#due = this.#sampleSize();
    return Math.trunc(amount);
  }

  /** The current step, signed (for tests and diagnostics). */
  get stepSize(): number {
    return this.#stepSize;
  }

  /**
   * Requests per sample. A small cache lengthens its samples (up to 4×) as the step decays, so it
   * does not settle near its starting split by chance.
   */
  #sampleSize(): number {
    if (this.#maximum > SMALL_CACHE_THRESHOLD) return this.#baseSample;
    const initialStep = STEP_PERCENT * this.#maximum;
    const magnitude = Math.max(initialStep / SMALL_CACHE_SAMPLE_RATIO_CAP, Math.abs(this.#stepSize));
    const ratio = magnitude === 0 ? 1 : Math.max(1, Math.min(SMALL_CACHE_SAMPLE_RATIO_CAP, initialStep / magnitude));
    return Math.floor(this.#baseSample * ratio);
  }
}
