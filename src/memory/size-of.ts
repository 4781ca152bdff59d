/**
 * The default `sizeOf` of the memory store: an estimate of the heap bytes an entry holds, cheap
 * enough to run on every `set`. See docs/memory-bounds.md.
 *
 * Small values are walked in full. In a large collection (array, object with many keys, Map, Set)
 * a bounded number of elements is measured, each within its share of a fixed budget, and the
 * result is scaled up to the collection's length, so one call looks at no more than a few
 * thousand values however large the value is.
 *
 * The constants model V8 on 64-bit, with 8-byte slots, or 4-byte slots where Node was built with
 * pointer compression. Where V8 may lay a value out in more than one way, the larger layout is
 * assumed: overestimating only makes the store evict earlier, underestimating breaks the bound.
 */

/** Bytes of a tagged slot: a property, an array element, a pointer. */
const WORD = taggedSize();
/** Smis are integers stored in the slot itself; other numbers are boxed in a HeapNumber. */
const SMI_MAX = WORD === 8 ? 2 ** 31 - 1 : 2 ** 30 - 1;
const SMI_MIN = -SMI_MAX - 1;

/** The store's own cost per entry besides the key string: its entry in the key map. */
const ENTRY_OVERHEAD = 6 * WORD;
/** Map word, properties and elements pointers of every JS object. */
const OBJECT_HEADER = 3 * WORD;
/** A `{}` is allocated with room for four properties. */
const MIN_IN_OBJECT = 4;
/** Up to this many keys an object is taken to be compact: a slot per property, names in a hidden class shared by similar objects. */
const FAST_KEYS = 16;
/** From this many keys an object is taken to be a hash table (V8's dictionary mode). */
const DICTIONARY_KEYS = 128;
/** Per key of an object between the two, which V8 may keep either way: compact (1 word) or a hash table (3 words at 1.5x-3x capacity). */
const MIXED_KEY = 4 * WORD;
/** A length-bearing FixedArray header: map and length. */
const ARRAY_STORE_HEADER = 2 * WORD;
/** JSArray: the object header plus its length. */
const ARRAY_HEADER = 4 * WORD;
/** Arrays grown by push keep spare capacity (V8 grows them by 1.5x + 16). */
const ARRAY_SLACK = 1.125;
/** A double in an elements or properties slot of a mixed array or an object: map and 8 bytes. */
const HEAP_NUMBER = WORD + 8;
/** Sequential string header: map, hash and length. */
const STRING_HEADER = WORD + 8;
const BIGINT_HEADER = WORD + 8;
/** JSMap / JSSet object, and the header of their ordered hash table. */
const COLLECTION_HEADER = 4 * WORD;
const HASH_TABLE_HEADER = 5 * WORD;
/** A dictionary-mode object's property table: FixedArray header and prefix. */
const DICTIONARY_HEADER = 7 * WORD;
const DATE = 12 * WORD;
/** A closure: JSFunction and its context. */
const FUNCTION = 12 * WORD;
/** A typed array or DataView with its ArrayBuffer, besides the bytes (measured on Node 20). */
const VIEW_OVERHEAD = 184;
const ARRAY_BUFFER_OVERHEAD = 88;
/** What an object not looked at (past the depth or visit limit) is assumed to take. */
const UNVISITED_OBJECT = OBJECT_HEADER + MIN_IN_OBJECT * WORD;

/** Values looked at per call, objects and primitives alike (a Map entry is two). */
const BUDGET = 4_096;
/** Past this many values the walk looks inside no more objects; only overshoot of nested loops gets here. */
const HARD_LIMIT = 2 * BUDGET;
/** Deeper objects are not looked inside, which also bounds the stack the walk uses. */
const MAX_DEPTH = 512;
/** A large collection is sampled with at least this many elements, budget permitting. */
const MIN_SAMPLES = 16;
/** Strings up to this length are scanned in full for characters past Latin-1; longer ones in slices. */
const FULL_SCAN = 65_536;
const SCAN_SLICES = 16;
const SCAN_SLICE = 4_096;
const WIDE_CHAR = /[\u0100-\uffff]/;
/** Spreads sampled indexes within their stratum (golden ratio: deterministic, never periodic). */
const PHI = 0.618_033_988_749_895;

interface Walk {
  /** Values looked at so far. */
  visits: number;
  /** Objects already counted in this call: each counts once, and cycles end. */
  readonly seen: Set<object>;
}

/**
 * Estimated heap bytes of an entry: the key, the value and everything it references (each object
 * once), sampled for large collections. Good enough to bound memory; pass `sizeOf` to the store
 * for exact accounting.
 */
export function estimateSize(value: unknown, key: string): number {
  return Math.ceil(ENTRY_OVERHEAD + stringSize(key) + measure(value, { visits: 0, seen: new Set() }, BUDGET, 0));
}

/** @internal The estimate of `value` alone, with how many values the walk looked at. */
export function measureSize(value: unknown): { bytes: number; visits: number } {
  const walk: Walk = { visits: 0, seen: new Set() };
  const bytes = measure(value, walk, BUDGET, 0);
  return { bytes: Math.ceil(bytes), visits: walk.visits };
}

/**
 * Bytes of `value` beyond the slot that holds it (the holder counts the slot). `limit`: the
 * `walk.visits` this value should stay within; a collection samples itself to fit.
 */
function measure(value: unknown, walk: Walk, limit: number, depth: number): number {
  walk.visits++;
  switch (typeof value) {
    case 'string':
      return stringSize(value);
    case 'number':
      return isSmi(value) ? 0 : HEAP_NUMBER;
    case 'bigint':
      return bigintSize(value);
    case 'boolean':
    case 'undefined':
    case 'symbol':
      return 0; // shared by V8 (symbols made per value are rare enough to ignore)
    case 'function':
      if (walk.seen.has(value)) return 0;
      walk.seen.add(value);
      return FUNCTION;
    case 'object':
      break;
  }
  if (value === null || walk.seen.has(value)) return 0;
  if (depth >= MAX_DEPTH || walk.visits > HARD_LIMIT) return UNVISITED_OBJECT;
  walk.seen.add(value);
  if (ArrayBuffer.isView(value)) return VIEW_OVERHEAD + value.byteLength;
  if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer)) {
    return ARRAY_BUFFER_OVERHEAD + value.byteLength;
  }
  if (Array.isArray(value)) return arraySize(value as readonly unknown[], walk, limit, depth + 1);
  if (value instanceof Map) return mapSize(value as ReadonlyMap<unknown, unknown>, walk, limit, depth + 1);
  if (value instanceof Set) return setSize(value as ReadonlySet<unknown>, walk, limit, depth + 1);
  if (value instanceof Date) return DATE;
  return objectSize(value as Record<string, unknown>, walk, limit, depth + 1);
}

function arraySize(array: readonly unknown[], walk: Walk, limit: number, depth: number): number {
  const n = array.length;
  if (n === 0) return ARRAY_HEADER;
  let onlyNumbers = true;
  const elements = sample(n, true, walk, limit, (i, itemLimit) => {
    // Not `array[i]`: optimized code for a `[]` that has seen arrays of several element kinds
    // makes them all one kind, boxing the numbers of a double array (3x its memory). `at` and
    // `Reflect.get` read without changing the array.
    const element = array.at(i);
    if (typeof element !== 'number') onlyNumbers = false;
    return measure(element, walk, itemLimit, depth);
  });
  // An array of numbers only keeps them unboxed, as Smis or 8-byte doubles: no HeapNumbers.
  const slot = onlyNumbers ? 8 : WORD;
  return ARRAY_HEADER + ARRAY_STORE_HEADER + slot * n * ARRAY_SLACK + (onlyNumbers ? 0 : elements);
}

function objectSize(object: Record<string, unknown>, walk: Walk, limit: number, depth: number): number {
  const keys = Object.keys(object);
  const n = keys.length;
  let own: number;
  if (n <= FAST_KEYS) {
    // In-object properties, then a property array; the key names live in the shared hidden class.
    own = OBJECT_HEADER + WORD * Math.max(n, MIN_IN_OBJECT) + (n > MIN_IN_OBJECT ? ARRAY_STORE_HEADER : 0);
  } else if (n < DICTIONARY_KEYS) {
    own = OBJECT_HEADER + WORD * MIN_IN_OBJECT + ARRAY_STORE_HEADER + MIXED_KEY * n;
  } else {
    own = OBJECT_HEADER + WORD * MIN_IN_OBJECT + DICTIONARY_HEADER + 3 * WORD * hashCapacity(n + (n >> 1));
  }
  const dictionary = n >= DICTIONARY_KEYS; // a hash table's keys are usually its own data: count them
  return (
    own +
    sample(n, true, walk, limit, (i, itemLimit) => {
      const key = keys[i]!;
      const property: unknown = Reflect.get(object, key);
      return (dictionary ? stringSize(key) : 0) + measure(property, walk, itemLimit, depth);
    })
  );
}

function mapSize(map: ReadonlyMap<unknown, unknown>, walk: Walk, limit: number, depth: number): number {
  const n = map.size;
  const capacity = hashCapacity(n);
  const entries = map.entries();
  return (
    COLLECTION_HEADER +
    HASH_TABLE_HEADER +
    WORD * (capacity / 2 + 3 * capacity) +
    sample(n, false, walk, limit, (_i, itemLimit) => {
      const next = entries.next();
      if (next.done === true) return 0;
      const [k, v] = next.value;
      return measure(k, walk, itemLimit, depth) + measure(v, walk, itemLimit, depth);
    })
  );
}

function setSize(set: ReadonlySet<unknown>, walk: Walk, limit: number, depth: number): number {
  const n = set.size;
  const capacity = hashCapacity(n);
  const values = set.values();
  return (
    COLLECTION_HEADER +
    HASH_TABLE_HEADER +
    WORD * (capacity / 2 + 2 * capacity) +
    sample(n, false, walk, limit, (_i, itemLimit) => {
      const next = values.next();
      return next.done === true ? 0 : measure(next.value, walk, itemLimit, depth);
    })
  );
}

/**
 * Total of `item(i)` over the `n` items of a collection: exact when the budget left (up to
 * `limit`) covers every item, otherwise extrapolated from a sample. The first item is a probe of
 * what one item costs to look at, which sets the sample size; each item then gets its share of
 * the budget left. `spread`: items have random access, so the sample is spread over the whole
 * collection (one index in each of k equal strata); without it the first k items are taken.
 */
function sample(n: number, spread: boolean, walk: Walk, limit: number, item: (index: number, itemLimit: number) => number): number {
  if (n === 0) return 0;
  const start = walk.visits;
  let total = item(0, start + Math.max(1, Math.floor((limit - start) / Math.min(n, MIN_SAMPLES))));
  const perItem = Math.max(1, walk.visits - start);
  const k = Math.min(n, Math.max(MIN_SAMPLES, Math.floor((limit - start) / perItem)));
  let measured = 1;
  for (let j = 1; j < k && walk.visits < limit; j++) {
    const share = Math.max(1, Math.floor((limit - walk.visits) / (k - j)));
    const index = spread && k < n ? Math.floor(((j + ((j * PHI) % 1)) * n) / k) : j;
    total += item(index, walk.visits + share);
    measured++;
  }
  return measured === n ? total : (total * n) / measured;
}

/** A V8 flat string: one byte a character when every character is Latin-1, else two. */
function stringSize(s: string): number {
  const n = s.length;
  if (n === 0 || (n === 1 && s.charCodeAt(0) <= 0xff)) return 0; // V8 shares these
  return align(STRING_HEADER + (isOneByte(s) ? n : 2 * n));
}

/**
 * Whether V8 can store `s` one byte a character. The regular expression answers at once for a
 * string V8 already holds as one-byte; a long two-byte string is only scanned in slices.
 */
function isOneByte(s: string): boolean {
  const n = s.length;
  if (n <= FULL_SCAN) return !WIDE_CHAR.test(s);
  const step = Math.floor((n - SCAN_SLICE) / (SCAN_SLICES - 1));
  for (let i = 0; i < SCAN_SLICES; i++) {
    const at = i * step;
    if (WIDE_CHAR.test(s.slice(at, at + SCAN_SLICE))) return false;
  }
  return true;
}

function bigintSize(value: bigint): number {
  const magnitude = value < 0n ? -value : value;
  return BIGINT_HEADER + 8 * Math.max(1, Math.ceil(magnitude.toString(16).length / 16));
}

function isSmi(value: number): boolean {
  return Number.isInteger(value) && value >= SMI_MIN && value <= SMI_MAX;
}

/** Capacity of a V8 hash table holding `n` entries: a power of two, at least 4. */
function hashCapacity(n: number): number {
  let capacity = 4;
  while (capacity < n) capacity *= 2;
  return capacity;
}

function align(bytes: number): number {
  return Math.ceil(bytes / WORD) * WORD;
}

/** 4 where V8 compresses pointers (some Node builds, 32-bit platforms), else 8. */
function taggedSize(): number {
  const node = (globalThis as { process?: { arch?: string; config?: { variables?: Record<string, unknown> } } }).process;
  if (node === undefined) return 8;
  if (node.arch === 'ia32' || node.arch === 'arm') return 4;
  return node.config?.variables?.['v8_enable_pointer_compression'] === 1 ? 4 : 8;
}
