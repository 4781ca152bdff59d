import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore, memoryStore } from '../../src/index.js';
import type { EvictReason } from '../../src/index.js';
import { TinyLfu, slotHash } from '../../src/memory/tinylfu.js';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

const check = <T>(store: MemoryStore<T>): void => MemoryStore.checkInvariants(store);
const stateOf = <T>(store: MemoryStore<T>) => {
  const state = MemoryStore.policyState(store);
  assert.ok(state !== undefined, 'a tinylfu store reports its segments');
  return state;
};

/** A small seeded generator, so a failure replays. */
function random(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** Replays `requests` (get, then set on a miss) and returns the hit ratio. */
function replay(store: MemoryStore<number>, requests: readonly string[]): number {
  let hits = 0;
  for (const key of requests) {
    if (store.get(key) !== undefined) hits++;
    else store.set(key, 1);
  }
  return hits / requests.length;
}

/**
 * A recency-biased trace (as bench/hitratio.ts): a new key one time in four, otherwise a repeat
 * of the request made d ago, d exponential with mean `distance`.
 */
function recencyTrace(length: number, distance: number, seed: number): string[] {
  const rand = random(seed);
  const ids: number[] = [];
  let next = 0;
  for (let r = 0; r < length; r++) {
    if (r === 0 || rand(4) === 0) ids.push(next++);
    else {
      const u = (rand(1 << 30) + 1) / (1 << 30);
      const d = Math.min(r, 1 + Math.floor(-Math.log(u) * distance));
      ids.push(ids[r - d]!);
    }
  }
  return ids.map((id) => `r${id}`);
}

/** Keys 0 … n−1 with probability ∝ 1/(k+1)^s. */
function zipfTrace(length: number, n: number, s: number, seed: number): string[] {
  const rand = random(seed);
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / Math.pow(k + 1, s);
  const out: string[] = [];
  for (let r = 0; r < length; r++) {
    const u = (rand(1 << 30) / (1 << 30)) * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    out.push(`z${lo}`);
  }
  return out;
}

describe('memoryStore tinylfu: admission', () => {
  it('a scan of one-time keys does not flush the hot set (it does with lru)', () => {
    const hot = Array.from({ length: 400 }, (_, i) => `hot${i}`);
    const results: Record<string, number> = {};
    for (const policy of ['tinylfu', 'lru'] as const) {
      const store = memoryStore<number>({ maxEntries: 1000, policy });
      for (let pass = 0; pass < 5; pass++) for (const key of hot) if (store.get(key) === undefined) store.set(key, 1);
      let hits = 0;
      let reads = 0;
      let scanned = 0;
      for (let round = 0; round < 20; round++) {
        // 2,000 keys never seen before and never seen again: twice the whole store.
        for (let i = 0; i < 2000; i++) {
          const key = `scan${scanned++}`;
          if (store.get(key) === undefined) store.set(key, 1);
        }
        for (const key of hot) {
          reads++;
          if (store.get(key) !== undefined) hits++;
          else store.set(key, 1);
        }
        check(store);
        assert.ok(store.size <= 1000, `size ${store.size}`);
      }
      results[policy] = hits / reads;
    }
    assert.ok(results.tinylfu! >= 0.99, `tinylfu keeps the hot set: ${results.tinylfu}`);
    assert.ok(results.lru! <= 0.01, `lru loses it to every scan: ${results.lru}`);
  });

  it('one-hit wonders between hot reads do not displace hot keys', () => {
    const store = memoryStore<number>({ maxEntries: 200, policy: 'tinylfu' });
    const hot = Array.from({ length: 150 }, (_, i) => `hot${i}`);
    for (let pass = 0; pass < 4; pass++) for (const key of hot) if (store.get(key) === undefined) store.set(key, 1);
    let hotEvictions = 0;
    store.on('evict', (e) => {
      if (e.key.startsWith('hot')) hotEvictions++;
    });
    let hits = 0;
    const reads = 30_000;
    for (let i = 0; i < reads; i++) {
      const key = hot[i % hot.length]!;
      if (store.get(key) !== undefined) hits++;
      else store.set(key, 1);
      store.set(`once${i}`, 1);
    }
    // A one-hit wonder whose sketch counters collide with hot keys' may win the 1-in-128 random
    // admission (the guard against hash flooding, as in Caffeine) and push out one hot key, which
    // the next read brings back. Under LRU every hot read here would miss.
    assert.ok(hits / reads >= 0.99, `hot keys stay: ${hits} hits of ${reads} reads`);
    assert.ok(hotEvictions <= reads / 1000, `hot keys evicted ${hotEvictions} times in ${reads} inserts`);
    check(store);
  });

  it('admission: more frequent wins, ties keep the victim, a warm candidate wins 1 time in 128 (anti hash flooding)', () => {
    // The policy alone, on slots of its own: 0 … 98 hot keys, 99 a warm one.
    const policy = new TinyLfu(100, 101, true);
    for (let i = 0; i < 99; i++) policy.insert(i, `hot${i}`);
    policy.insert(99, 'warm');
    for (let pass = 0; pass < 20; pass++) for (let i = 0; i < 99; i++) policy.access(i);
    for (let n = 0; n < 7; n++) policy.access(99);
    policy.drain();
    const hot = slotHash('hot0');
    assert.equal(policy.admit(hot, slotHash('never-seen')), true, 'hot beats cold');
    assert.equal(policy.admit(slotHash('never-seen'), slotHash('never-seen-either')), false, 'a tie keeps the victim');
    let cold = 0;
    let warm = 0;
    for (let n = 0; n < 4000; n++) {
      if (policy.admit(slotHash('never-seen'), hot)) cold++;
      if (policy.admit(slotHash('warm'), hot)) warm++;
    }
    assert.equal(cold, 0, 'a candidate seen fewer than 6 times never beats a hotter victim');
    // 4,000 tries at 1 in 128: about 31; none at all has odds of about 1e-14.
    assert.ok(warm >= 5 && warm <= 100, `warm admitted ${warm} times of 4,000`);
  });

  it('the entry being written always stays, even when every other entry is hotter', () => {
    const store = memoryStore<string>({ maxEntries: 50, policy: 'tinylfu', maxBytes: 5000, sizeOf: (v) => v.length });
    for (let pass = 0; pass < 10; pass++) for (let i = 0; i < 50; i++) if (store.get(`hot${i}`) === undefined) store.set(`hot${i}`, 'x'.repeat(50));
    for (let i = 0; i < 100; i++) {
      store.set(`new${i}`, 'y'.repeat(10));
      assert.equal(store.get(`new${i}`), 'y'.repeat(10));
      check(store);
    }
    // A value of nearly maxBytes pushes out everything else, whatever their frequency.
    store.set('big', 'z'.repeat(4990));
    assert.equal(store.get('big'), 'z'.repeat(4990));
    assert.ok(store.bytes <= 5000, `bytes ${store.bytes}`);
    check(store);
  });

  it('evict events carry the reason: capacity, bytes, too-large', () => {
    const store = memoryStore<string>({ maxEntries: 4, policy: 'tinylfu', maxBytes: 100, sizeOf: (v) => v.length });
    const seen: EvictReason[] = [];
    store.on('evict', (e) => seen.push(e.reason));
    for (let i = 0; i < 5; i++) store.set(`k${i}`, 'x');
    assert.deepEqual(seen, ['capacity']);
    store.set('wide', 'w'.repeat(98));
    assert.ok(seen.includes('bytes'), `a byte-bound eviction: ${seen.join(', ')}`);
    store.set('huge', 'h'.repeat(101));
    assert.equal(seen.at(-1), 'too-large');
    assert.equal(store.get('huge'), undefined);
    assert.equal(store.evictions, seen.length);
    check(store);
  });

  it('an evict listener that writes to the store does not break the bounds', () => {
    const store = memoryStore<number>({ maxEntries: 20, policy: 'tinylfu' });
    let writes = 0;
    store.on('evict', (e) => {
      if (writes++ < 500) store.set(`echo-${e.key}`, e.value);
      store.get('k0');
    });
    for (let i = 0; i < 2000; i++) {
      store.set(`k${i % 300}`, i);
      assert.ok(store.size <= 20, `size ${store.size}`);
    }
    check(store);
  });
});

describe('memoryStore tinylfu: hill climbing', () => {
  it('grows the window toward LRU on a recency-biased trace', () => {
    const store = memoryStore<number>({ maxEntries: 1000, policy: 'tinylfu' });
    assert.equal(stateOf(store).windowMaximum, 10, 'starts at 1%');
    const trace = recencyTrace(300_000, 1000, 7);
    const first = replay(store, trace.slice(0, 100_000));
    replay(store, trace.slice(100_000, 200_000));
    const last = replay(store, trace.slice(200_000));
    const state = stateOf(store);
    assert.ok(state.windowMaximum >= 400, `window ${state.windowMaximum} of 1,000`);
    assert.ok(last > first + 0.05, `the hit ratio rose as the window grew: ${first.toFixed(3)} → ${last.toFixed(3)}`);
    // Typically within 2 points of LRU by then; the climber's path depends on the hash seed.
    const lru = replay(memoryStore<number>({ maxEntries: 1000, policy: 'lru' }), trace.slice(200_000));
    assert.ok(last >= lru - 0.06, `close to LRU once adapted: ${last.toFixed(3)} against ${lru.toFixed(3)}`);
    check(store);
  });

  it('keeps the window small and beats LRU on a frequency-biased (Zipf) trace', () => {
    const store = memoryStore<number>({ maxEntries: 1000, policy: 'tinylfu' });
    const trace = zipfTrace(300_000, 100_000, 0.9, 3);
    const tiny = replay(store, trace);
    const lru = replay(memoryStore<number>({ maxEntries: 1000, policy: 'lru' }), trace);
    assert.ok(stateOf(store).windowMaximum <= 400, `window ${stateOf(store).windowMaximum}`);
    assert.ok(tiny >= lru + 0.05, `tinylfu ${tiny.toFixed(3)} against lru ${lru.toFixed(3)}`);
    check(store);
  });
});

describe('memoryStore tinylfu: a randomized model', () => {
  /**
   * Every operation against a model kept in step through the store's own `evict` and `expire`
   * events: after each one the invariants hold, size and bytes are within bounds, and the store
   * holds exactly the model's live entries with the model's values.
   */
  function run(seed: number, steps: number, options: { maxEntries: number; maxBytes?: number }): void {
    const clock = fakeClock();
    const store = memoryStore<number>({
      clock,
      policy: 'tinylfu',
      maxEntries: options.maxEntries,
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes, sizeOf: (v: number) => 1 + (v % 97) }),
      sweepInterval: '1h',
    });
    interface Entry {
      value: number;
      fresh: number;
      until: number;
      tags: readonly string[];
    }
    const model = new Map<string, Entry>();
    store.on('evict', (e) => {
      if (e.reason !== 'too-large') assert.equal(model.get(e.key)?.value, e.value, `evicted ${e.key} with its value`);
      model.delete(e.key);
    });
    store.on('expire', (e) => {
      const entry = model.get(e.key);
      assert.ok(entry !== undefined && entry.until <= clock.now(), `${e.key} expired at its time`);
      model.delete(e.key);
    });
    const rand = random(seed);
    const keyCount = options.maxEntries * 3;
    const live = (entry: Entry | undefined): entry is Entry => entry !== undefined && entry.fresh > clock.now();

    for (let step = 0; step < steps; step++) {
      // Mostly a skewed key choice, so some keys are hot and admission has something to do.
      const key = `k${rand(4) === 0 ? rand(keyCount) : rand(Math.max(1, keyCount >> 3))}`;
      const op = rand(100);
      if (op < 35) {
        const value = rand(1000);
        const ttl = rand(3) === 0 ? 1 + rand(50) : undefined;
        const grace = ttl !== undefined && rand(2) === 0 ? 1 + rand(30) : 0;
        const tags = rand(5) === 0 ? [`t${rand(4)}`] : [];
        const now = clock.now();
        const tooLarge = options.maxBytes !== undefined && 1 + (value % 97) > options.maxBytes;
        store.set(key, value, { ...(ttl === undefined ? {} : { ttl }), ...(grace === 0 ? {} : { grace }), tags });
        if (!tooLarge) model.set(key, { value, fresh: ttl === undefined ? Infinity : now + ttl, until: ttl === undefined ? Infinity : now + ttl + grace, tags });
      } else if (op < 70) {
        const got = store.get(key);
        const entry = model.get(key);
        assert.equal(got, live(entry) ? entry.value : undefined, `get ${key} at step ${step}`);
      } else if (op < 75) {
        const got = store.getStale(key);
        const entry = model.get(key);
        if (entry === undefined) assert.equal(got, undefined, `getStale ${key}`);
        else if (got !== undefined) assert.deepEqual(got, { value: entry.value, stale: !live(entry) }, `getStale ${key}`);
        else assert.ok(entry.until <= clock.now(), `getStale ${key} only misses a gone entry`);
      } else if (op < 80) {
        const entry = model.get(key);
        assert.equal(store.delete(key), live(entry), `delete ${key}`);
        model.delete(key);
      } else if (op < 84) {
        const entry = model.get(key);
        const next = store.incr(key, 1);
        if (live(entry)) {
          assert.equal(next, entry.value + 1);
          entry.value = next;
        } else {
          assert.equal(next, 1);
          model.set(key, { value: 1, fresh: Infinity, until: Infinity, tags: [] });
        }
      } else if (op < 86) {
        const tag = `t${rand(4)}`;
        const expected = [...model.values()].filter((e) => live(e) && e.tags.includes(tag)).length;
        assert.equal(store.invalidateTags([tag]), expected, `invalidateTags ${tag}`);
        for (const [k, e] of model) if (e.tags.includes(tag)) model.delete(k);
      } else if (op < 87) {
        const digit = String(rand(10));
        const matches = (k: string): boolean => k.endsWith(digit);
        const expected = [...model].filter(([k, e]) => matches(k) && live(e)).length;
        assert.equal(store.deletePattern(`*${digit}`), expected, `deletePattern *${digit}`);
        for (const k of [...model.keys()]) if (matches(k)) model.delete(k);
      } else if (op < 95) {
        clock.advance(1 + rand(10));
      } else if (op < 99) {
        assert.equal(store.has(key), live(model.get(key)), `has ${key}`);
        assert.equal(store.peek(key), live(model.get(key)) ? model.get(key)!.value : undefined, `peek ${key}`);
      } else if (rand(20) === 0) {
        store.clear();
        model.clear();
      } else {
        store.purgeStale();
      }

      check(store);
      assert.ok(store.size <= options.maxEntries, `size ${store.size} over ${options.maxEntries}`);
      if (options.maxBytes !== undefined) assert.ok(store.bytes <= options.maxBytes, `bytes ${store.bytes}`);
      if (step % 97 === 0) {
        // The store holds exactly the model's live entries.
        const keys = new Set(store.keys());
        for (const [k, e] of model) {
          assert.equal(keys.has(k), live(e), `${k} listed iff live`);
          if (live(e)) assert.equal(store.peek(k), e.value, `${k} holds the model's value`);
        }
        for (const k of keys) assert.ok(model.has(k), `${k} is in the model`);
      }
    }
  }

  it('entries only (64 entries, keys over 192)', () => {
    for (const seed of [1, 2, 3]) run(seed, 15_000, { maxEntries: 64 });
  });

  it('with maxBytes binding before maxEntries', () => {
    for (const seed of [4, 5]) run(seed, 15_000, { maxEntries: 64, maxBytes: 900 });
  });

  it('a store of one and of three entries', () => {
    run(6, 5_000, { maxEntries: 1 });
    run(7, 5_000, { maxEntries: 3 });
  });

  it('a store large enough to move its window (1,000 entries)', () => {
    run(8, 60_000, { maxEntries: 1000, maxBytes: 40_000 });
  });
});

describe('memoryStore tinylfu: store behaviour', () => {
  it('TTL, grace and the sweep work as with lru', async () => {
    const clock = fakeClock();
    const store = memoryStore<number>({ clock, policy: 'tinylfu', maxEntries: 100, sweepInterval: 5 });
    const expired: string[] = [];
    store.on('expire', (e) => expired.push(e.key));
    store.set('a', 1, { ttl: 10 });
    store.set('b', 2, { ttl: 10, grace: 100 });
    store.set('c', 3);
    clock.advance(10);
    assert.equal(store.get('a'), undefined);
    assert.deepEqual(store.getStale('b'), { value: 2, stale: true });
    assert.equal(store.get('c'), 3);
    for (let i = 0; i < 50; i++) store.set(`s${i}`, i, { ttl: 5 });
    clock.advance(5);
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.ok(expired.length >= 51, `the sweep expired what nobody read (${expired.length})`);
    assert.equal(store.size, 2);
    check(store);
    store.close();
  });

  it('keys() lists every live key: the window first, then protected, then probation', () => {
    const store = memoryStore<number>({ policy: 'tinylfu', maxEntries: 100 });
    for (let i = 0; i < 100; i++) store.set(`k${i}`, i);
    for (let i = 0; i < 10; i++) store.get(`k${i}`); // promoted to protected
    const keys = [...store.keys()];
    assert.equal(keys.length, 100);
    assert.equal(keys[0], 'k99', 'the newest entry is in the window');
    assert.deepEqual(keys.slice(1, 11), ['k9', 'k8', 'k7', 'k6', 'k5', 'k4', 'k3', 'k2', 'k1', 'k0']);
    assert.deepEqual(new Set(keys), new Set(Array.from({ length: 100 }, (_, i) => `k${i}`)));
  });

  it('clear() empties every segment and the store refills normally', () => {
    const store = memoryStore<number>({ policy: 'tinylfu', maxEntries: 50 });
    for (let i = 0; i < 200; i++) store.set(`k${i % 80}`, i);
    store.clear();
    assert.equal(store.size, 0);
    assert.deepEqual([...store.keys()], []);
    const state = stateOf(store);
    assert.equal(state.window + state.probation + state.protected, 0);
    for (let i = 0; i < 200; i++) store.set(`n${i}`, i);
    assert.equal(store.size, 50);
    check(store);
  });

  it('a long run of hits with no write is sampled, and leaves consistent frequencies', () => {
    const store = memoryStore<number>({ policy: 'tinylfu', maxEntries: 1000 });
    for (let i = 0; i < 1000; i++) store.set(`k${i}`, i);
    // 200,000 hits, mostly on 100 keys: far past the 65,536 after which hits are sampled.
    const rand = random(11);
    for (let n = 0; n < 200_000; n++) {
      const key = rand(10) === 0 ? `k${rand(1000)}` : `k${rand(100)}`;
      assert.notEqual(store.get(key), undefined);
    }
    check(store);
    // The hot keys were counted: 2,000 one-time keys do not displace them.
    for (let i = 0; i < 2000; i++) store.set(`new${i}`, i);
    let kept = 0;
    for (let i = 0; i < 100; i++) if (store.has(`k${i}`)) kept++;
    assert.ok(kept >= 95, `${kept} of the 100 hot keys kept`);
    check(store);
  });

  it('the sketch is allocated once the store is half full (or at once with maxBytes)', () => {
    const store = memoryStore<number>({ policy: 'tinylfu', maxEntries: 100 });
    for (let i = 0; i < 48; i++) store.set(`k${i}`, i);
    assert.equal(stateOf(store).counting, false);
    store.set('k48', 48);
    store.set('k49', 49);
    assert.equal(stateOf(store).counting, true);
    assert.equal(stateOf(memoryStore({ policy: 'tinylfu', maxBytes: 1000 })).counting, true);
    assert.equal(MemoryStore.policyState(memoryStore({ policy: 'lru' })), undefined);
  });
});
