/**
 * Seeded access traces for the hit-ratio benchmark (bench/hitratio.ts). A trace is a sequence of
 * key ids; the same seed gives the same sequence on every run and every machine, so every
 * contestant replays exactly the same requests.
 */
import { mulberry32 } from './keys.js';

export interface Trace {
  /** Id in the JSON results. */
  readonly id: string;
  /** Name in the tables. */
  readonly title: string;
  /** What the trace models, for the docs and the JSON. */
  readonly description: string;
  /** Entries every contestant may hold. */
  readonly capacity: number;
  /** Key ids, one per request. */
  readonly requests: Int32Array;
  /** Distinct ids that may occur: ids are below this. */
  readonly idSpace: number;
}

/**
 * Ranks 0 … n−1 drawn with probability ∝ 1 / (rank + 1)^s, by inverting the cumulative
 * distribution (a binary search in a precomputed table).
 */
export function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += 1 / Math.pow(k + 1, s);
    cdf[k] = sum;
  }
  for (let k = 0; k < n; k++) cdf[k]! /= sum;
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/**
 * A seeded permutation of 0 … n−1, so a key's popularity does not follow its id (and no
 * structure of the ids can help or hurt a hash function).
 */
function permutation(n: number, random: () => number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = out[i]!;
    out[i] = out[j]!;
    out[j] = a;
  }
  return out;
}

/** Independent, identically distributed Zipf requests over `keys` keys. */
export function zipfTrace(options: { keys: number; s: number; length: number; capacity: number; seed: number }): Trace {
  const { keys, s, length, capacity, seed } = options;
  const random = mulberry32(seed);
  const next = zipfSampler(keys, s, random);
  const ids = permutation(keys, random);
  const requests = new Int32Array(length);
  for (let r = 0; r < length; r++) requests[r] = ids[next()]!;
  return {
    id: `zipf-${s.toFixed(1)}-${pct(capacity, keys)}`,
    title: `Zipf ${s.toFixed(1)}, cache ${pct(capacity, keys)}`,
    description: `${fmt(length)} requests, Zipf s=${s} over ${fmt(keys)} keys, ${fmt(capacity)} entries`,
    capacity,
    requests,
    idSpace: keys,
  };
}

/**
 * Zipf 1.0 requests with a one-time scan every `period` requests: `scan` keys never seen before
 * and never seen again, read one after the other (a batch job, a crawler, a report).
 */
export function scanTrace(options: { keys: number; length: number; capacity: number; period: number; scan: number; seed: number }): Trace {
  const { keys, length, capacity, period, scan, seed } = options;
  const random = mulberry32(seed);
  const next = zipfSampler(keys, 1, random);
  const ids = permutation(keys, random);
  const requests = new Int32Array(length);
  let fresh = keys;
  let r = 0;
  while (r < length) {
    for (let k = 0; k < period && r < length; k++) requests[r++] = ids[next()]!;
    for (let k = 0; k < scan && r < length; k++) requests[r++] = fresh++;
  }
  return {
    id: `scan-${pct(capacity, keys)}`,
    title: `Zipf 1.0 + scans, cache ${pct(capacity, keys)}`,
    description: `${fmt(length)} requests: Zipf s=1 over ${fmt(keys)} keys, and every ${fmt(period)} requests a scan of ${fmt(scan)} new keys; ${fmt(capacity)} entries`,
    capacity,
    requests,
    idSpace: fresh,
  };
}

/** The same `loop` keys requested in the same order, over and over: LRU never hits when loop > cache. */
export function loopTrace(options: { loop: number; length: number; capacity: number }): Trace {
  const { loop, length, capacity } = options;
  const requests = new Int32Array(length);
  for (let r = 0; r < length; r++) requests[r] = r % loop;
  return {
    id: 'loop',
    title: `Loop of ${fmt(loop)}, cache ${fmt(capacity)}`,
    description: `${fmt(length)} requests cycling through ${fmt(loop)} keys in order; ${fmt(capacity)} entries`,
    capacity,
    requests,
    idSpace: loop,
  };
}

/**
 * A recency-biased trace: a request is a new key with probability `fresh`, otherwise a repeat of
 * the request made `d` requests earlier, where `d` is drawn from an exponential distribution of
 * mean `distance`. What was used recently is what gets used next, and how often a key was used
 * says little: the workload plain LRU is made for (a user session, a feed, a job queue).
 */
export function recencyTrace(options: { length: number; capacity: number; fresh: number; distance: number; seed: number }): Trace {
  const { length, capacity, fresh, distance, seed } = options;
  const random = mulberry32(seed);
  const requests = new Int32Array(length);
  let nextId = 0;
  for (let r = 0; r < length; r++) {
    if (r === 0 || random() < fresh) {
      requests[r] = nextId++;
    } else {
      const d = Math.min(r, 1 + Math.floor(-Math.log(1 - random()) * distance));
      requests[r] = requests[r - d]!;
    }
  }
  return {
    id: 'recency',
    title: `Recency-biased, cache ${fmt(capacity)}`,
    description: `${fmt(length)} requests: a new key with probability ${fresh}, else a repeat of the request made d ago, d exponential with mean ${fmt(distance)}; ${fmt(capacity)} entries`,
    capacity,
    requests,
    idSpace: nextId,
  };
}

function pct(capacity: number, keys: number): string {
  return `${Math.round((capacity / keys) * 1000) / 10}%`;
}

function fmt(n: number): string {
  if (n >= 1_000_000 && n % 100_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1_000 && n % 100 === 0) return `${n / 1_000}k`;
  return n.toLocaleString('en-US');
}
