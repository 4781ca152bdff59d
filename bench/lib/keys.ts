/**
 * Pre-generated keys, so no string is built inside a timed loop. Every contestant sees the same
 * keys in the same order.
 */
export interface KeySet {
  /** Entries a full cache holds. */
  readonly size: number;
  /** `key:0` … `key:<size-1>` in order: what the cache is filled with before timing. */
  readonly fill: readonly string[];
  /** The fill keys shuffled: every lookup hits. */
  readonly hits: readonly string[];
  /** `size` keys that are never stored, shuffled: every lookup misses. */
  readonly misses: readonly string[];
  /**
   * The miss keys, then the fill keys, cycled. Between two writes of one key come `2·size − 1`
   * writes of other keys, so in a full LRU of `size` entries every write inserts and evicts.
   */
  readonly evicting: readonly string[];
}

export function makeKeySet(size: number, seed = 42): KeySet {
  const fill = new Array<string>(size);
  const missing = new Array<string>(size);
  for (let i = 0; i < size; i++) {
    fill[i] = `key:${i}`;
    missing[i] = `key:${size + i}`;
  }
  const random = mulberry32(seed);
  const hits = shuffled(fill, random);
  const misses = shuffled(missing, random);
  return { size, fill, hits, misses, evicting: [...misses, ...shuffled(fill, random)] };
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = out[i]!;
    out[i] = out[j]!;
    out[j] = a;
  }
  return out;
}

/** Small seeded PRNG: the same shuffles on every run. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
