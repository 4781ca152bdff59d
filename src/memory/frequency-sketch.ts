/**
 * The frequency filter of W-TinyLFU (issue 13): a count-min sketch estimating how often each key
 * was seen recently, in 4-bit counters packed eight to a `Uint32Array` word, about 8 bytes per
 * cache entry. After the design of Caffeine's `FrequencySketch`:
 *
 * - A key's four counters live in one 64-byte block (16 words, the size of a CPU cache line), one
 *   counter in each quarter of the block, so an increment or a lookup touches one line of memory.
 * - Counters saturate at 15. Once the sketch has counted `sampleSize` increments (ten per entry
 *   the cache holds), every counter is halved: old popularity fades, and a key that was hot an
 *   hour ago does not keep its place forever ("reset" in the TinyLFU paper).
 * - Unlike Caffeine, which halves in a background thread, the halving here runs in slices of
 *   {@link AGING_SLICE} words, one per call of {@link FrequencySketch.age}; the store calls it on
 *   every insert and after every batch of hits, so a halving completes soon after it is due.
 *   Halving a sketch of 1M entries at once would stall the caller for about 2.5 ms. A key's four
 *   counters share one block, so each key is aged as a whole. Keeping the loop out of `increment`
 *   also keeps `increment` small enough for V8 to inline.
 *
 * Keys come in as 30-bit hashes, computed once per insert by the store (`slotHash`).
 */

/** Each nibble's top three bits, after a shift right by one: halves all eight counters of a word. */
const RESET_MASK = 0x77777777;
/** Each nibble's low bit: the counters that were odd before a halving. */
const ONE_MASK = 0x11111111;
/** Smallest sketch, in entries, so a tiny cache still tells frequencies apart. */
const MIN_CAPACITY = 256;
/** Largest sketch, in entries (2 GiB of counters); a larger cache shares counters a little more. */
const MAX_CAPACITY = 1 << 28;
/** Words halved per {@link FrequencySketch.age} call: 4,096 words (2,048 entries), a few µs. */
const AGING_SLICE = 4096;
/** Halvings that may wait for {@link FrequencySketch.age}; four take any counter to 0. */
const MAX_PENDING_AGINGS = 4;

export class FrequencySketch {
  /** Increments counted between two halvings: ten per entry, as in TinyLFU. */
  readonly sampleSize: number;
  readonly #table: Uint32Array;
  readonly #blockMask: number;
  /** Increments since the last halving began. */
  #additions = 0;
  /** Halvings due and not finished; the first is under way from word `#agingAt`. */
  #pendingAgings = 0;
  #agingAt = 0;
  /** Odd counters seen by the halving under way. */
  #odd = 0;
  /** Halvings completed so far (for tests and diagnostics). */
  resets = 0;

  /** A sketch for a cache of `capacity` entries. */
  constructor(capacity: number) {
    const entries = ceilingPowerOfTwo(Math.min(Math.max(capacity, MIN_CAPACITY), MAX_CAPACITY));
    // 8 bytes (two words, sixteen counters) per entry; a block is 16 words.
    this.#table = new Uint32Array(entries * 2);
    this.#blockMask = (this.#table.length >>> 4) - 1;
    this.sampleSize = 10 * Math.max(Math.min(capacity, MAX_CAPACITY), MIN_CAPACITY);
  }

  /** Bytes held by the counters. */
  get byteLength(): number {
    return this.#table.byteLength;
  }

  /** The estimated number of times `hash` was seen since it last aged, from 0 to 15. */
  frequency(hash: number): number {
    const t = this.#table;
    const block = (hash & this.#blockMask) << 4;
    const c = counterHash(hash);
    // Counter k sits in words 4k..4k+3 of the block: 2 bits pick the word, 3 bits the nibble.
    const f0 = (t[block + (c & 3)]! >>> (((c >>> 2) & 7) << 2)) & 15;
    const f1 = (t[block + 4 + ((c >>> 8) & 3)]! >>> (((c >>> 10) & 7) << 2)) & 15;
    const f2 = (t[block + 8 + ((c >>> 16) & 3)]! >>> (((c >>> 18) & 7) << 2)) & 15;
    const f3 = (t[block + 12 + ((c >>> 24) & 3)]! >>> (((c >>> 26) & 7) << 2)) & 15;
    return Math.min(f0, f1, f2, f3);
  }

  /** Counts one occurrence of `hash` (counters stop at 15); halves everything every `sampleSize`. */
  increment(hash: number): void {
    const t = this.#table;
    const block = (hash & this.#blockMask) << 4;
    const c = counterHash(hash);
    // Unrolled: one counter in each quarter of the block, skipped when it is already 15.
    let added = false;
    let i = block + (c & 3);
    let shift = ((c >>> 2) & 7) << 2;
    let word = t[i]!;
    if (((word >>> shift) & 15) !== 15) {
      t[i] = word + (1 << shift);
      added = true;
    }
    i = block + 4 + ((c >>> 8) & 3);
    shift = ((c >>> 10) & 7) << 2;
    word = t[i]!;
    if (((word >>> shift) & 15) !== 15) {
      t[i] = word + (1 << shift);
      added = true;
    }
    i = block + 8 + ((c >>> 16) & 3);
    shift = ((c >>> 18) & 7) << 2;
    word = t[i]!;
    if (((word >>> shift) & 15) !== 15) {
      t[i] = word + (1 << shift);
      added = true;
    }
    i = block + 12 + ((c >>> 24) & 3);
    shift = ((c >>> 26) & 7) << 2;
    word = t[i]!;
    if (((word >>> shift) & 15) !== 15) {
      t[i] = word + (1 << shift);
      added = true;
    }
    if (added && ++this.#additions >= this.sampleSize) this.#scheduleAging();
  }

  /** Counts `count` occurrences of `hash` at once (a sampled hit standing for several), up to 15. */
  incrementBy(hash: number, count: number): void {
    const t = this.#table;
    const block = (hash & this.#blockMask) << 4;
    const c = counterHash(hash);
    // Unrolled as `increment`; each counter gains min(count, 15 − counter).
    let added = false;
    let i = block + (c & 3);
    let shift = ((c >>> 2) & 7) << 2;
    let word = t[i]!;
    let value = (word >>> shift) & 15;
    if (value !== 15) {
      t[i] = word + ((value + count > 15 ? 15 - value : count) << shift);
      added = true;
    }
    i = block + 4 + ((c >>> 8) & 3);
    shift = ((c >>> 10) & 7) << 2;
    word = t[i]!;
    value = (word >>> shift) & 15;
    if (value !== 15) {
      t[i] = word + ((value + count > 15 ? 15 - value : count) << shift);
      added = true;
    }
    i = block + 8 + ((c >>> 16) & 3);
    shift = ((c >>> 18) & 7) << 2;
    word = t[i]!;
    value = (word >>> shift) & 15;
    if (value !== 15) {
      t[i] = word + ((value + count > 15 ? 15 - value : count) << shift);
      added = true;
    }
    i = block + 12 + ((c >>> 24) & 3);
    shift = ((c >>> 26) & 7) << 2;
    word = t[i]!;
    value = (word >>> shift) & 15;
    if (value !== 15) {
      t[i] = word + ((value + count > 15 ? 15 - value : count) << shift);
      added = true;
    }
    if (added && (this.#additions += count) >= this.sampleSize) this.#scheduleAging();
  }

  /**
   * Counts the first `count` hashes of `hashes`, each `weight` times. One loop over a batch: the
   * increments touch unrelated blocks, so the CPU overlaps their cache misses.
   */
  incrementAll(hashes: Int32Array, count: number, weight: number): void {
    if (weight === 1) {
      for (let k = 0; k < count; k++) this.increment(hashes[k]!);
    } else {
      for (let k = 0; k < count; k++) this.incrementBy(hashes[k]!, weight);
    }
  }

  /**
   * Halves the next slice of counters when a halving is due; a no-op otherwise. The increments
   * counted toward the next halving were halved when it was scheduled; when it completes they lose
   * an eighth of the odd counters it met, too: each key has four counters, and an odd one loses
   * half an increment (as Caffeine's `reset`).
   */
  age(): void {
    if (this.#pendingAgings === 0) return;
    const t = this.#table;
    const start = this.#agingAt;
    const end = Math.min(start + AGING_SLICE, t.length);
    let odd = 0;
    for (let i = start; i < end; i++) {
      const word = t[i]!;
      // The low bits of the eight nibbles, summed into the top nibble by one multiplication.
      odd += Math.imul(word & ONE_MASK, ONE_MASK) >>> 28;
      t[i] = (word >>> 1) & RESET_MASK;
    }
    this.#odd += odd;
    if (end < t.length) {
      this.#agingAt = end;
      return;
    }
    this.#agingAt = 0;
    this.#pendingAgings--;
    this.#additions = Math.max(0, this.#additions - (this.#odd >>> 3));
    this.#odd = 0;
    this.resets++;
  }

  /** Whether a halving is due or under way. */
  get aging(): boolean {
    return this.#pendingAgings !== 0;
  }

  /** Halves every counter now, after finishing any halving under way. */
  reset(): void {
    this.#scheduleAging();
    while (this.#pendingAgings !== 0) this.age();
  }

  #scheduleAging(): void {
    this.#additions >>>= 1;
    if (this.#pendingAgings < MAX_PENDING_AGINGS) this.#pendingAgings++;
  }

  /** Increments counted toward the next halving. */
  get additions(): number {
    return this.#additions;
  }
}

/**
 * Bits choosing the counters inside the block, mixed again so they do not repeat the bits that
 * chose the block.
 */
function counterHash(hash: number): number {
  let x = Math.imul(hash ^ (hash >>> 16), 0x31848bab);
  x ^= x >>> 14;
  x = Math.imul(x, 0x9e3779b1);
  return x ^ (x >>> 15);
}

function ceilingPowerOfTwo(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}
