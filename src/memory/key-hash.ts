import { randomBytes } from 'node:crypto';

/**
 * Per-process random seeds. The key hash feeds the frequency sketch, so a seed nobody outside the
 * process knows keeps an attacker from crafting keys whose counters collide with the hot set's
 * (hash flooding, issue 13). The second seed starts the admission coin of each store.
 */
const SEEDS = randomBytes(8);
export const PROCESS_HASH_SEED = SEEDS.readUInt32LE(0);
const RANDOM_SEED = SEEDS.readUInt32LE(4);
let streams = 0;

/**
 * A 32-bit hash of `key` (a signed int32, so it stays a small integer in V8), computed once when the key enters the store and kept in the slot, so
 * hits never hash the string again. Multiplicative mixing per UTF-16 unit, then MurmurHash3's
 * finalizer, so every input bit reaches every output bit.
 */
export function hashKey(key: string, seed: number = PROCESS_HASH_SEED): number {
  let h = (seed ^ key.length) | 0;
  for (let i = 0; i < key.length; i++) {
    h = Math.imul(h ^ key.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return mix32(h);
}

/** MurmurHash3's 32-bit finalizer. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x | 0;
}

/**
 * The starting state of a store's xorshift generator (the admission coin and the sampling of
 * long runs of hits): the process seed mixed with a counter, so two stores never flip the same
 * sequence. Never 0, which xorshift cannot leave.
 */
export function randomSeed(): number {
  return mix32(RANDOM_SEED + Math.imul(++streams, 0x9e3779b9)) | 1;
}

/** The next state of a 32-bit xorshift generator (Marsaglia's 13, 17, 5). */
export function xorshift32(state: number): number {
  state ^= state << 13;
  state ^= state >>> 17;
  return state ^ (state << 5);
}
