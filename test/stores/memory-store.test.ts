import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore, memoryStore } from '../../src/index.js';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess } from '../helpers/guard.js';
import { seededRandom } from '../helpers/random.js';
import { storeConformance } from './conformance.js';

guardProcess();

const check = <T>(store: MemoryStore<T>): void => MemoryStore.checkInvariants(store);

storeConformance('memoryStore', ({ clock }) => memoryStore({ clock }), fakeClock);
storeConformance('memoryStore (maxBytes, default ttl)', ({ clock }) => memoryStore({ clock, maxBytes: 1 << 20, ttl: '1h' }), fakeClock);
// Both policies explicitly, whichever is the default.
storeConformance('memoryStore (lru)', ({ clock }) => memoryStore({ clock, policy: 'lru' }), fakeClock);
storeConformance('memoryStore (tinylfu)', ({ clock }) => memoryStore({ clock, policy: 'tinylfu' }), fakeClock);
storeConformance(
  'memoryStore (tinylfu, maxBytes, default ttl)',
  ({ clock }) => memoryStore({ clock, policy: 'tinylfu', maxBytes: 1 << 20, ttl: '1h' }),
  fakeClock,
);

// These describe LRU's exact eviction order, so they ask for it, whatever the default policy.
describe('memoryStore: LRU', () => {
  it('evicts the least recently used entry at maxEntries', () => {
    const store = memoryStore<number>({ maxEntries: 3, policy: 'lru' });
    store.set('a', 1);
    store.set('b', 2);
    store.set('c', 3);
    assert.equal(store.get('a'), 1); // a is now most recent
    store.set('d', 4); // evicts b
    assert.deepEqual([...store.keys()], ['d', 'a', 'c']);
    assert.equal(store.has('b'), false);
    assert.equal(store.size, 3);
    check(store);
  });

  it('peek and has do not change recency', () => {
    const store = memoryStore<number>({ maxEntries: 2, policy: 'lru' });
    store.set('a', 1);
    store.set('b', 2);
    assert.equal(store.peek('a'), 1);
    assert.equal(store.has('a'), true);
    store.set('c', 3);
    assert.equal(store.has('a'), false);
    assert.deepEqual([...store.keys()], ['c', 'b']);
  });

  it('M1: 100k sets into 1,000 entries keep size <= 1,000 and exactly the last 1,000 keys', () => {
    const store = memoryStore<number>({ maxEntries: 1000, policy: 'lru' });
    for (let i = 0; i < 100_000; i++) {
      store.set(`k${i}`, i);
      if (i % 997 === 0) assert.ok(store.size <= 1000);
    }
    assert.equal(store.size, 1000);
    for (let i = 99_000; i < 100_000; i++) assert.equal(store.peek(`k${i}`), i);
    assert.equal(store.has('k98999'), false);
    assert.equal(store.evictions, 99_000);
    check(store);
  });

  it('emits evict with the reason, and a throwing listener does not break the store', () => {
    const store = memoryStore<number>({ maxEntries: 1 });
    const seen: string[] = [];
    store.on('evict', () => {
      throw new Error('listener bug');
    });
    const off = store.on('evict', (e) => seen.push(`${e.key}=${e.value}:${e.reason}`));
    store.set('a', 1);
    store.set('b', 2);
    off();
    store.set('c', 3);
    assert.deepEqual(seen, ['a=1:capacity']);
    assert.equal(store.get('c'), 3);
  });

  it('reuses freed slots after deletes (random operations keep the invariants)', () => {
    const store = memoryStore<number>({ maxEntries: 64, maxBytes: 4096, sizeOf: (v) => 1 + (v % 100) });
    const model = new Map<string, number>();
    const rand = seededRandom(42);
    for (let step = 0; step < 20_000; step++) {
      const key = `k${rand(200)}`;
      const op = rand(10);
      if (op < 5) {
        const v = rand(1000);
        store.set(key, v, rand(4) === 0 ? { tags: [`t${rand(5)}`] } : undefined);
        model.set(key, v);
      } else if (op < 8) {
        const got = store.get(key);
        if (got !== undefined) assert.equal(got, model.get(key), key);
      } else if (op < 9) {
        store.delete(key);
        model.delete(key);
      } else {
        store.invalidateTags([`t${rand(5)}`]);
      }
      if (step % 500 === 0) check(store);
    }
    check(store);
  });

  it('a key get missed is found once set, by get, getStale and a second set (both policies)', () => {
    for (const policy of ['lru', 'tinylfu'] as const) {
      const store = memoryStore<number>({ maxEntries: 32, policy });
      const model = new Map<string, number>();
      const rand = seededRandom(7);
      for (let step = 0; step < 20_000; step++) {
        const key = `k${rand(40)}`;
        const op = rand(8);
        if (op < 3) {
          // getOrSet's miss path: get, getStale, set of one key in a row
          const got = store.get(key);
          const stale = store.getStale(key);
          assert.equal(stale?.value, got, `${policy} step ${step}: getStale after get of ${key}`);
          if (got === undefined) {
            store.set(key, step);
            model.set(key, step);
            assert.equal(store.get(key), step, `${policy} step ${step}: ${key} is found after the set that followed its miss`);
          }
        } else if (op < 5) {
          store.set(key, step);
          model.set(key, step);
        } else if (op < 7) {
          const got = store.getStale(key)?.value;
          // lru never drops what the model holds unless it was evicted: a found value is the model's
          if (got !== undefined) assert.equal(got, model.get(key), `${policy} step ${step}: ${key}`);
        } else {
          store.delete(key);
          model.delete(key);
        }
        if (step % 250 === 0) check(store);
      }
      check(store);
    }
  });

  it('rejects bad options with ConfigError naming the option', () => {
    assert.throws(() => memoryStore({ maxEntries: 0 }), { code: 'HOARD_CONFIG', option: 'maxEntries' });
    assert.throws(() => memoryStore({ maxEntries: 1.5 }), { option: 'maxEntries' });
    assert.throws(() => memoryStore({ maxBytes: -1 }), { option: 'maxBytes' });
    assert.throws(() => memoryStore({ ttl: 'soon' as '1s' }), { option: 'ttl' });
    assert.throws(() => memoryStore({ clock: {} as { now(): number } }), { option: 'clock' });
    assert.throws(() => memoryStore({ policy: 'lfu' as 'lru' }), { code: 'HOARD_CONFIG', option: 'policy', message: /'lru' or 'tinylfu'.*"lfu"/ });
    assert.throws(() => memoryStore({ policy: 1 as unknown as 'lru' }), { option: 'policy', message: /got number 1/ });
  });

  it('reports its policy; the default is lru', () => {
    assert.equal(memoryStore().policy, 'lru');
    assert.equal(memoryStore({ policy: 'tinylfu' }).policy, 'tinylfu');
    assert.equal(memoryStore({ policy: undefined }).policy, 'lru');
  });
});

describe('memoryStore: bytes', () => {
  it('M2: bounds accounted bytes by evicting least recently used entries', () => {
    const store = memoryStore<string>({ maxBytes: 10 * 1024 * 1024, maxEntries: 100_000, policy: 'lru' });
    const value = 'x'.repeat(50 * 1024); // ~100 KB in the estimate
    for (let i = 0; i < 1000; i++) {
      store.set(`k${i}`, value + String(i));
      assert.ok(store.bytes <= 10 * 1024 * 1024, `bytes ${store.bytes} at ${i}`);
    }
    assert.ok(store.size < 1000 && store.size > 50, `size ${store.size}`);
    assert.equal(store.has('k999'), true);
    assert.equal(store.has('k0'), false);
    check(store);
  });

  it('a value larger than maxBytes is not stored and removes the old value of its key', () => {
    const store = memoryStore<string>({ maxBytes: 100, sizeOf: (v) => v.length });
    const reasons: string[] = [];
    store.on('evict', (e) => reasons.push(e.reason));
    store.set('a', 'small');
    store.set('a', 'x'.repeat(101));
    assert.equal(store.get('a'), undefined);
    assert.deepEqual(reasons, ['too-large']);
    store.set('b', 'ok');
    assert.equal(store.get('b'), 'ok');
    check(store);
  });

  it('sizeOf returning a bad number is a ConfigError and stores nothing', () => {
    const store = memoryStore<string>({ maxBytes: 100, sizeOf: () => -3 });
    assert.throws(() => store.set('a', 'v'), { option: 'sizeOf' });
    assert.equal(store.size, 0);
  });
});

describe('memoryStore: TTL', () => {
  it('default ttl applies to every set; a per-set ttl wins', () => {
    const clock = fakeClock();
    const store = memoryStore<number>({ ttl: 1000, clock });
    store.set('a', 1);
    store.set('b', 2, { ttl: 5000 });
    clock.advance(1000);
    assert.equal(store.get('a'), undefined);
    assert.equal(store.get('b'), 2);
  });

  it('C10: hit at ttl - 1 ms, miss at ttl', () => {
    const clock = fakeClock();
    const store = memoryStore<number>({ clock });
    store.set('k', 1, { ttl: 250 });
    clock.advance(249);
    assert.equal(store.get('k'), 1);
    clock.advance(1);
    assert.equal(store.get('k'), undefined);
  });

  it('expired entries are purged from size and emit expire', () => {
    const clock = fakeClock();
    const store = memoryStore<number>({ clock });
    const expired: string[] = [];
    store.on('expire', (e) => expired.push(e.key));
    store.set('a', 1, { ttl: 10 });
    store.set('b', 2, { ttl: 20 });
    store.set('c', 3);
    clock.advance(15);
    assert.equal(store.size, 2);
    assert.deepEqual(expired, ['a']);
    assert.deepEqual([...store.keys()], ['c', 'b']);
    assert.equal(store.expirations, 1);
    check(store);
  });

  it('the background sweep removes expired entries nobody reads', async () => {
    const clock = fakeClock();
    const store = memoryStore<number>({ clock, sweepInterval: 5 });
    const expired: string[] = [];
    store.on('expire', (e) => expired.push(e.key));
    for (let i = 0; i < 100; i++) store.set(`k${i}`, i, { ttl: 10 });
    clock.advance(10);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(expired.length, 100);
    store.close();
  });

  it('purgeStale removes what expired and leaves the rest', () => {
    const clock = fakeClock();
    const store = memoryStore<number>({ clock });
    store.set('a', 1, { ttl: 10 });
    store.set('b', 2, { ttl: 10, grace: 100 });
    store.set('c', 3);
    clock.advance(50);
    assert.equal(store.purgeStale(), 1); // b is inside its grace
    assert.deepEqual(store.getStale('b'), { value: 2, stale: true });
    check(store);
  });

  it('a set without ttl on a TTL store clears the old expiry', () => {
    const clock = fakeClock();
    const store = memoryStore<number>({ clock });
    store.set('a', 1, { ttl: 10 });
    store.set('a', 2, { ttl: Infinity });
    clock.advance(100);
    assert.equal(store.get('a'), 2);
    assert.equal(store.ttl('a'), Infinity);
  });
});
