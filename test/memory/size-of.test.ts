/**
 * The default size estimate of the memory store (src/memory/size-of.ts, docs/memory-bounds.md).
 *
 * Heap measurements need `gc()`, which `npm run test:unit` does not expose, so they run in a child
 * process: this file again, started with `--expose-gc` and `HOARD_SIZE_OF_CHILD=<scenario>`, which
 * prints its measurements as one JSON line instead of registering tests.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MemoryStore } from '../../src/memory/memory-store.js';
import { estimateSize, measureSize } from '../../src/memory/size-of.js';
import { guardProcess } from '../helpers/guard.js';

const MiB = 1024 * 1024;
const CHILD_ENV = 'HOARD_SIZE_OF_CHILD';

interface Item {
  id: number;
  name: string;
  price: number;
  tags: string[];
}

/** The value of the issue: an array of `n` small objects, fresh for each `seed`. */
function items(n: number, seed = 0): Item[] {
  return Array.from({ length: n }, (_, i) => ({ id: i, name: `item-${i}`, price: (i + seed) * 1.5, tags: ['a', 'b'] }));
}

// ------------------------------------------------------------------------------------------------
// Child side: measures the heap with gc() and prints one JSON line.

interface StoreReport {
  maxBytes: number;
  accounted: number;
  heap: number;
  entries: number;
}
interface ShapeReport {
  shape: string;
  estimate: number;
  heap: number;
}

function heapNow(gc: () => void): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

function requireGc(): () => void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') {
    throw new Error('size-of heap measurements need gc(): run this fixture with node --expose-gc');
  }
  return gc;
}

/** `keys` sets of an array of `perKey` objects into a store of `maxBytes`; heap it retains vs bytes it accounts. */
function storeScenario(keys: number, perKey: number, maxBytes: number): StoreReport {
  const gc = requireGc();
  const store = new MemoryStore<Item[]>({ maxBytes });
  const before = heapNow(gc);
  for (let k = 0; k < keys; k++) store.set(`key-${k}`, items(perKey, k));
  const heap = heapNow(gc) - before;
  return { maxBytes, accounted: store.bytes, heap, entries: store.size };
}

/** `count` values of a shape, each estimated as the store would on set; mean estimate vs mean heap. */
function shape(gc: () => void, name: string, count: number, make: (i: number) => unknown): ShapeReport {
  const keep = new Array<unknown>(count);
  let estimate = 0;
  const before = heapNow(gc);
  for (let i = 0; i < count; i++) {
    keep[i] = make(i);
    estimate += measureSize(keep[i]).bytes;
  }
  const heap = heapNow(gc) - before - 8 * count; // minus the slots of `keep`
  assert.equal(keep.length, count); // keeps `keep` alive past the measurement
  return { shape: name, estimate: estimate / count, heap: heap / count };
}

function shapesScenario(): ShapeReport[] {
  const gc = requireGc();
  // Warm the estimator up on arrays of several element kinds first, as a long-running process
  // would: its optimized code must still read an array of doubles without boxing its numbers.
  for (let i = 0; i < 30; i++) {
    measureSize(items(2_000, i));
    measureSize(Array.from({ length: 2_000 }, (_, j) => (j % 2 === 0 ? `s${j}` : j + 0.5)));
  }
  const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
  return [
    shape(gc, 'array of 100k small objects', 4, (k) => items(100_000, k)),
    shape(gc, 'array of 1k small objects', 200, (k) => items(1_000, k)),
    shape(gc, 'parsed array of 10k small objects', 10, (k) => json(items(10_000, k))),
    shape(gc, 'nested object', 20_000, (i) => ({
      user: { id: i, name: `User ${i}`, email: `user${i}@example.com`, address: { street: `${i} Main St`, city: 'Springfield', zip: String(10_000 + i) } },
      roles: ['admin', 'user'],
      meta: { created: new Date(i), version: 3, active: i % 2 === 0 },
    })),
    shape(gc, 'one-byte string of 10k', 500, (i) => json(`${'x'.repeat(9_990)}${i}`.padEnd(10_000, 'y'))),
    shape(gc, 'two-byte string of 1k', 5_000, (i) => json(`${'ł'.repeat(990)}${i}`.padEnd(1_000, 'y'))),
    shape(gc, 'array of 100k short strings', 4, (k) => Array.from({ length: 100_000 }, (_, i) => `s${k}-${i}`)),
    shape(gc, 'Map of 10k string -> object', 10, (k) => new Map(items(10_000, k).map((item) => [`key-${k}-${item.id}`, item]))),
    shape(gc, 'Map of 100k number -> number', 4, (k) => new Map(Array.from({ length: 100_000 }, (_, i) => [i, i + k]))),
    shape(gc, 'Set of 100k numbers', 4, (k) => new Set(Array.from({ length: 100_000 }, (_, i) => i * 2 + k))),
    shape(gc, 'array of 100k doubles', 10, (k) => Array.from({ length: 100_000 }, (_, i) => i + k + 0.5)),
    shape(gc, 'array of 100k integers', 10, (k) => Array.from({ length: 100_000 }, (_, i) => i + k)),
    shape(gc, 'Buffer of 64 KiB', 200, () => Buffer.alloc(64 * 1024)),
    shape(gc, 'Buffer of 1 KiB', 5_000, () => Buffer.alloc(1024)),
  ];
}

// ------------------------------------------------------------------------------------------------
// Parent side: the tests.

const run = promisify(execFile);

/** Runs a scenario in `node --expose-gc --import tsx <this file>` and returns what it printed. */
async function inChild<T>(scenario: string): Promise<T> {
  const env: NodeJS.ProcessEnv = { ...process.env, [CHILD_ENV]: scenario };
  delete env['NODE_TEST_CONTEXT']; // the child is a plain script, not part of this test run
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url)], {
    env,
    timeout: 120_000,
    maxBuffer: 16 * MiB,
  });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as T;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

function registerTests(): void {
  guardProcess();

  describe('estimateSize: heap (child process with --expose-gc)', () => {
    it('a 32 MiB store of arrays of 100k objects holds at most ~2x its accounted bytes', async () => {
      const report = await inChild<StoreReport>('store-large');
      const detail = `accounted ${mb(report.accounted)}, heap ${mb(report.heap)}, ${report.entries} entries`;
      assert.ok(report.accounted <= report.maxBytes, `bound: ${detail}`);
      assert.ok(report.entries >= 1, detail);
      assert.ok(report.heap <= 2 * report.accounted, `heap at most 2x accounted: ${detail}`);
      assert.ok(report.heap >= report.accounted / 2, `heap at least half of accounted: ${detail}`);
    });

    it('a 32 MiB store of many smaller arrays holds at most ~2x its accounted bytes', async () => {
      const report = await inChild<StoreReport>('store-many');
      const detail = `accounted ${mb(report.accounted)}, heap ${mb(report.heap)}, ${report.entries} entries`;
      assert.ok(report.accounted <= report.maxBytes, `bound: ${detail}`);
      assert.ok(report.entries > 10, detail);
      assert.ok(report.heap <= 2 * report.accounted, `heap at most 2x accounted: ${detail}`);
      assert.ok(report.heap >= report.accounted / 2, `heap at least half of accounted: ${detail}`);
    });

    it('estimates each shape within 0.5x-2x of its heap, an array of 100k objects included', async () => {
      const reports = await inChild<ShapeReport[]>('shapes');
      assert.ok(reports.some((r) => r.shape === 'array of 100k small objects'));
      const off = reports.filter((r) => !(r.estimate >= 0.5 * r.heap && r.estimate <= 2 * r.heap));
      const table = reports.map((r) => `${r.shape}: estimate ${Math.round(r.estimate)}, heap ${Math.round(r.heap)}, x${(r.estimate / r.heap).toFixed(2)}`);
      assert.deepEqual(
        off.map((r) => r.shape),
        [],
        table.join('\n'),
      );
    });
  });

  describe('estimateSize: bounded work', () => {
    it('estimating a 1M-element array looks at a bounded number of values', () => {
      const big = measureSize(items(1_000_000));
      const small = measureSize(items(100_000));
      assert.ok(big.visits <= 5_000, `visits ${big.visits}`);
      assert.ok(Math.abs(big.visits - small.visits) <= 100, `1M: ${big.visits} visits, 100k: ${small.visits}`);
      // Extrapolated from the sample: ten times the elements, ten times the bytes.
      const ratio = big.bytes / small.bytes;
      assert.ok(ratio > 9.5 && ratio < 10.5, `1M / 100k = ${ratio}`);
    });

    it('bounds nested, numeric and keyed collections too', () => {
      const values: [string, unknown][] = [
        ['1M numbers', Array.from({ length: 1_000_000 }, (_, i) => i * 0.5)],
        ['1k arrays of 1k objects', Array.from({ length: 1_000 }, () => Array.from({ length: 1_000 }, (_, i) => ({ i })))],
        ['Map of 200k entries', new Map(Array.from({ length: 200_000 }, (_, i) => [i, { i }]))],
        ['Set of 200k strings', new Set(Array.from({ length: 200_000 }, (_, i) => `m${i}`))],
        ['object of 100k keys', Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, [i]]))],
      ];
      for (const [name, value] of values) {
        const { visits, bytes } = measureSize(value);
        assert.ok(visits <= 5_000, `${name}: ${visits} visits`);
        assert.ok(Number.isFinite(bytes) && bytes > 0, `${name}: ${bytes} bytes`);
      }
    });

    it('walks small values in full', () => {
      const one = measureSize(items(1, 7)[0]);
      assert.equal(one.visits, 7); // the object, 4 properties, 2 tags
      const hundred = measureSize(items(100, 7));
      assert.equal(hundred.visits, 1 + 100 * 7);
    });
  });

  describe('estimateSize: values', () => {
    it('counts strings at one byte a character when Latin-1, two otherwise', () => {
      const ascii = measureSize('a'.repeat(1_000)).bytes;
      const latin1 = measureSize('é'.repeat(1_000)).bytes;
      const wide = measureSize('ł'.repeat(1_000)).bytes;
      assert.ok(ascii >= 1_000 && ascii < 1_100, `ascii ${ascii}`);
      assert.equal(latin1, ascii);
      assert.ok(wide >= 2_000 && wide < 2_100, `two-byte ${wide}`);
      // Long strings are checked in slices: text with wide characters here and there is two-byte.
      const text = 'A line of text – with a dash.\n'.repeat(100_000);
      const long = measureSize(text).bytes;
      assert.ok(long >= 2 * text.length && long < 2 * text.length + 100, `long two-byte ${long}`);
      const plain = measureSize('x'.repeat(4_000_000)).bytes;
      assert.ok(plain >= 4_000_000 && plain < 4_000_100, `long one-byte ${plain}`);
    });

    it('counts binary data by its length', () => {
      for (const value of [Buffer.alloc(1 << 20), new Float64Array(1 << 17), new ArrayBuffer(1 << 20), new DataView(new ArrayBuffer(1 << 20))]) {
        const { bytes } = measureSize(value);
        assert.ok(bytes >= 1 << 20 && bytes < (1 << 20) + 1_024, `${value.constructor.name}: ${bytes}`);
      }
    });

    it('counts an object shared within a value once', () => {
      const shared = { blob: 'x'.repeat(10_000) };
      const once = measureSize([shared]).bytes;
      const twice = measureSize([shared, shared]).bytes;
      assert.ok(twice - once < 100, `once ${once}, twice ${twice}`);
    });

    it('gives a positive whole number for every kind of value', () => {
      const values: unknown[] = [
        undefined,
        null,
        true,
        0,
        -0,
        1.5,
        2 ** 40,
        Number.NaN,
        '',
        'k',
        123n,
        -(2n ** 200n),
        Symbol('s'),
        () => 1,
        new Date(),
        /re/g,
        new Error('e'),
        Object.create(null) as object,
        [, , 3], // eslint-disable-line no-sparse-arrays
        new Array(1_000_000),
        new Map([[{}, new Set([1])]]),
        new WeakMap(),
        Promise.resolve(1),
        new (class Point {
          x = 1;
          y = 2;
        })(),
      ];
      values.forEach((value, i) => {
        const size = estimateSize(value, 'key');
        assert.ok(Number.isInteger(size) && size > 0, `values[${i}]: ${size}`);
      });
      assert.ok(estimateSize('v', 'k'.repeat(100)) > estimateSize('v', 'k'), 'the key counts');
    });
  });

  describe('estimateSize: cycles and depth', () => {
    it('ends on cycles through objects, arrays, Maps and Sets', () => {
      const object: Record<string, unknown> = { name: 'loop' };
      object['self'] = object;
      const array: unknown[] = [1, 'two'];
      array.push(array, object);
      const map = new Map<unknown, unknown>();
      map.set(map, map).set('array', array);
      const set = new Set<unknown>([1]);
      set.add(set).add(map);
      const big: unknown[] = Array.from({ length: 100_000 }, (_, i) => ({ i }));
      for (let i = 0; i < big.length; i += 3) big[i] = big;
      for (const value of [object, array, map, set, big]) {
        const { bytes, visits } = measureSize(value);
        assert.ok(Number.isFinite(bytes) && bytes > 0, `bytes ${bytes}`);
        assert.ok(visits <= 5_000, `visits ${visits}`);
      }
    });

    it('does not overflow the stack on a very deep chain', () => {
      let chain: { next: unknown } = { next: null };
      for (let i = 0; i < 200_000; i++) chain = { next: chain };
      const { bytes, visits } = measureSize(chain);
      assert.ok(bytes > 0 && visits <= 5_000, `bytes ${bytes}, visits ${visits}`);
    });
  });

  describe('memoryStore with the default estimate', () => {
    it('evicts arrays of 100k objects long before 20 of them are held', () => {
      const store = new MemoryStore<Item[]>({ maxBytes: 32 * MiB });
      for (let k = 0; k < 20; k++) store.set(`key-${k}`, items(100_000, k));
      assert.ok(store.bytes <= 32 * MiB, `bytes ${store.bytes}`);
      assert.ok(store.size <= 2, `size ${store.size}`);
      assert.ok(store.has('key-19'));
      MemoryStore.checkInvariants(store);
    });
  });
}

// ------------------------------------------------------------------------------------------------

if (process.env[CHILD_ENV] !== undefined) {
  const scenario = process.env[CHILD_ENV];
  const result =
    scenario === 'store-large'
      ? storeScenario(20, 100_000, 32 * MiB)
      : scenario === 'store-many'
        ? storeScenario(40, 10_000, 32 * MiB)
        : scenario === 'shapes'
          ? shapesScenario()
          : undefined;
  if (result === undefined) throw new Error(`unknown ${CHILD_ENV} scenario: ${scenario}`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  registerTests();
}
