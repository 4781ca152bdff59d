import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cache, CacheTimeoutError, createCache, memoryStore } from '../../src/index.js';
import type { CacheOptions, ErrorEvent } from '../../src/index.js';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess, sleep } from '../helpers/guard.js';

guardProcess();

const make = (options: CacheOptions = {}): Cache => createCache({ store: memoryStore({ clock: options.clock }), ...options }, {});
const inFlight = (cache: Cache): number => Cache.internals(cache).flights;

/** A promise with its resolve and reject exposed, for factories the test finishes by hand. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('getOrSet: cache-aside and single flight', () => {
  it('runs the factory on a miss, then serves from the cache', async () => {
    const cache = make();
    let calls = 0;
    assert.equal(await cache.getOrSet('k', () => ++calls), 1);
    assert.equal(await cache.getOrSet('k', () => ++calls), 1);
    assert.equal(calls, 1);
    assert.equal(await cache.get('k'), 1);
  });

  it('C1: 1,000 concurrent calls run the factory once and all get its value', async () => {
    const cache = make();
    let calls = 0;
    const results = await Promise.all(
      Array.from({ length: 1000 }, () =>
        cache.getOrSet('k', async () => {
          calls++;
          await sleep(100);
          return { v: 'value' };
        }),
      ),
    );
    assert.equal(calls, 1);
    assert.ok(results.every((r) => r === results[0]));
    assert.equal(inFlight(cache), 0);
  });

  it('C2: a rejecting factory rejects every waiter with the same error, caches nothing, runs again next time', async () => {
    const cache = make();
    let calls = 0;
    const boom = new Error('boom');
    const factory = async (): Promise<number> => {
      calls++;
      await sleep(10);
      if (calls === 1) throw boom;
      return 7;
    };
    const settled = await Promise.allSettled(Array.from({ length: 100 }, () => cache.getOrSet('k', factory)));
    assert.ok(settled.every((s) => s.status === 'rejected' && s.reason === boom));
    assert.equal(await cache.has('k'), false);
    assert.equal(await cache.getOrSet('k', factory), 7);
    assert.equal(calls, 2);
    assert.equal(inFlight(cache), 0);
  });

  it('rethrows the original thrown value, even a non-Error, and a sync throw', async () => {
    const cache = make();
    await assert.rejects(
      cache.getOrSet('a', () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- callers may throw anything; hoard must pass it through
        throw 'plain string';
      }),
      (e) => e === 'plain string',
    );
    await assert.rejects(
      cache.getOrSet('b', () => Promise.reject(new RangeError('r'))),
      RangeError,
    );
    assert.equal(inFlight(cache), 0);
  });

  it('a factory returning undefined caches nothing', async () => {
    const cache = make();
    let calls = 0;
    assert.equal(await cache.getOrSet('k', () => (calls++, undefined)), undefined);
    assert.equal(await cache.getOrSet('k', () => (calls++, undefined)), undefined);
    assert.equal(calls, 2);
    assert.equal(cache.stats().sets, 0);
  });

  it('ttl and tags options apply to the stored value', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    await cache.getOrSet('k', () => 1, { ttl: '1s', tags: ['t'] });
    assert.equal(await cache.ttl('k'), 1000);
    assert.equal(await cache.invalidateTags(['t']), 1);
    await cache.getOrSet('k', () => 2, { ttl: 50 });
    clock.advance(50);
    assert.equal(await cache.getOrSet('k', () => 3), 3);
  });

  it('an L1 hit does not call the factory or create timers', async () => {
    const cache = make();
    await cache.set('k', 'v');
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const value = await cache.getOrSet('k', () => assert.fail('factory ran'), { timeout: { soft: 10, hard: 1000 } });
    assert.equal(value, 'v');
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    assert.ok(after <= before, `timers ${before} -> ${after}`);
  });
});

describe('getOrSet: factory context', () => {
  it('ctx.setOptions adapts ttl and tags to the result', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    await cache.getOrSet('empty', (ctx) => {
      ctx.setOptions({ ttl: 100, tags: ['short'] });
      return [];
    });
    assert.equal(await cache.ttl('empty'), 100);
    assert.equal(await cache.invalidateTags(['short']), 1);
  });

  it('ctx.skip returns the value without caching it', async () => {
    const cache = make();
    const value = await cache.getOrSet('k', (ctx) => {
      ctx.skip();
      return 'uncached';
    });
    assert.equal(value, 'uncached');
    assert.equal(await cache.has('k'), false);
  });

  it('ctx.stale carries the value inside grace', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    await cache.set('k', 'old', { ttl: 10, grace: '1m' });
    clock.advance(10);
    let stale: unknown = 'unset';
    assert.equal(
      await cache.getOrSet('k', (ctx) => {
        stale = ctx.stale;
        return 'new';
      }),
      'new',
    );
    assert.equal(stale, 'old');
    await cache.getOrSet('fresh', (ctx) => {
      stale = ctx.stale;
      return 1;
    });
    assert.equal(stale, undefined);
  });

  it('ctx.signal aborts at the hard timeout', async () => {
    const cache = make();
    let signal: AbortSignal | undefined;
    await assert.rejects(
      cache.getOrSet(
        'k',
        (ctx) => {
          signal = ctx.signal;
          return new Promise<number>(() => {});
        },
        { timeout: { hard: 30 } },
      ),
      CacheTimeoutError,
    );
    assert.equal(signal?.aborted, true);
    assert.ok(signal?.reason instanceof CacheTimeoutError);
  });
});

describe('getOrSet: grace (fail-safe) and timeouts', () => {
  it('an expired value inside grace is refreshed while the caller waits', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    await cache.getOrSet('k', () => 'v1', { ttl: 100, grace: '1h' });
    clock.advance(100);
    assert.equal(await cache.get('k'), undefined, 'get does not see values past ttl');
    assert.equal(await cache.getOrSet('k', () => 'v2', { ttl: 100, grace: '1h' }), 'v2');
    assert.equal(await cache.get('k'), 'v2');
  });

  it('fail-safe: a throwing factory returns the stale value and reports an error event', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    const errors: ErrorEvent[] = [];
    cache.on('error', (e) => errors.push(e));
    await cache.set('k', 'stale', { ttl: 100, grace: '1h' });
    clock.advance(150);
    const value = await cache.getOrSet('k', () => {
      throw new Error('db down');
    });
    assert.equal(value, 'stale');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.tier, 'factory');
    assert.equal(errors[0]?.error.message, 'db down');
    assert.equal(cache.stats().errors, 1);
  });

  it('past ttl + grace the value is gone and the error reaches the caller', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    await cache.set('k', 'stale', { ttl: 100, grace: 1000 });
    clock.advance(1100);
    await assert.rejects(
      cache.getOrSet('k', () => {
        throw new Error('db down');
      }),
      /db down/,
    );
  });

  it('graceBackoff: after a masked failure the stale value is served without calling the factory, then retried', async () => {
    const clock = fakeClock();
    const cache = make({ clock, graceBackoff: '10s' });
    await cache.set('k', 'stale', { ttl: 100, grace: '1h' });
    clock.advance(100);
    let calls = 0;
    const failing = (): never => {
      calls++;
      throw new Error('down');
    };
    assert.equal(await cache.getOrSet('k', failing), 'stale');
    assert.equal(await cache.getOrSet('k', failing), 'stale');
    clock.advance(9_999);
    assert.equal(await cache.getOrSet('k', failing), 'stale');
    assert.equal(calls, 1);
    clock.advance(1);
    assert.equal(await cache.getOrSet('k', () => 'fresh'), 'fresh');
    assert.equal(Cache.internals(cache).backoff, 0);
    assert.equal(await cache.get('k'), 'fresh');
  });

  it('defaultGrace applies to values written without grace', async () => {
    const clock = fakeClock();
    const cache = make({ clock, defaultGrace: '1h' });
    await cache.set('k', 'old', { ttl: 10 });
    clock.advance(20);
    assert.equal(await cache.getOrSet('k', () => Promise.reject(new Error('x'))), 'old');
  });

  it('C3: a factory that never settles rejects at the hard timeout; the flight is gone; the next call reruns', async () => {
    const cache = make();
    let calls = 0;
    const started = performance.now();
    await assert.rejects(
      cache.getOrSet('k', () => (calls++, new Promise<number>(() => {})), { timeout: { hard: 200 } }),
      (e: unknown) => e instanceof CacheTimeoutError && e.code === 'HOARD_TIMEOUT' && e.timeout === 200,
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 195 && elapsed < 400, `rejected after ${elapsed} ms`);
    assert.equal(cache.stats().errors, 0);
    assert.equal(await cache.getOrSet('k', () => (calls++, 5)), 5);
    assert.equal(calls, 2);
    assert.equal(inFlight(cache), 1, 'only the abandoned run is still tracked, to be superseded');
  });

  it('hard timeout with a stale value returns the stale value; the late result still fills the cache', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    await cache.set('k', 'old', { ttl: 10, grace: '1h' });
    clock.advance(10);
    const slow = deferred<string>();
    assert.equal(await cache.getOrSet('k', () => slow.promise, { timeout: { hard: 20 } }), 'old');
    slow.resolve('late');
    await sleep(1);
    assert.equal(await cache.get('k'), 'late');
    assert.equal(inFlight(cache), 0);
  });

  it('C4: soft timeout returns the stale value quickly, one background refresh fills the cache', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    await cache.set('k', 'stale', { ttl: 10, grace: '1h' });
    clock.advance(10);
    let calls = 0;
    const factory = async (): Promise<string> => {
      calls++;
      await sleep(300);
      return 'fresh';
    };
    const started = performance.now();
    const values = await Promise.all(Array.from({ length: 10 }, () => cache.getOrSet('k', factory, { timeout: { soft: 50 } })));
    const elapsed = performance.now() - started;
    assert.ok(values.every((v) => v === 'stale'));
    assert.ok(elapsed < 200, `stale answered after ${elapsed} ms`);
    assert.equal(calls, 1);
    await sleep(320);
    assert.equal(await cache.get('k'), 'fresh');
  });

  it('soft timeout without a stale value has no effect', async () => {
    const cache = make();
    assert.equal(
      await cache.getOrSet(
        'k',
        async () => {
          await sleep(60);
          return 'v';
        },
        { timeout: { soft: 5 } },
      ),
      'v',
    );
  });

  it('soft: 0 is stale-while-revalidate: the stale value at once, the refresh in the background', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    await cache.set('k', 'stale', { ttl: 10, grace: '1h' });
    clock.advance(10);
    const refresh = deferred<string>();
    assert.equal(await cache.getOrSet('k', () => refresh.promise, { timeout: { soft: 0 } }), 'stale');
    assert.equal(inFlight(cache), 1);
    refresh.resolve('fresh');
    await sleep(1);
    assert.equal(await cache.get('k'), 'fresh');
  });

  it('a failed background refresh emits error, counts in stats, never rejects', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    const errors: ErrorEvent[] = [];
    cache.on('error', (e) => errors.push(e));
    await cache.set('k', 'stale', { ttl: 10, grace: '1h' });
    clock.advance(10);
    const refresh = deferred<string>();
    assert.equal(await cache.getOrSet('k', () => refresh.promise, { timeout: { soft: 0 } }), 'stale');
    refresh.reject(new Error('refresh failed'));
    await sleep(1);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.operation, 'getOrSet');
    assert.equal(cache.stats().errors, 1);
    assert.equal(inFlight(cache), 0);
  });

  it('each joined caller keeps its own hard timeout', async () => {
    const cache = make();
    const slow = deferred<string>();
    const patient = cache.getOrSet('k', () => slow.promise);
    const hasty = cache.getOrSet('k', () => assert.fail('joined, not rerun'), { timeout: { hard: 20 } });
    await assert.rejects(hasty, CacheTimeoutError);
    slow.resolve('v');
    assert.equal(await patient, 'v');
    assert.equal(await cache.get('k'), 'v');
  });
});

describe('getOrSet: generation checks (a slow factory never overwrites something newer)', () => {
  it('C5: set-after-delete: a load that started before delete() is not stored', async () => {
    const cache = make();
    let source = 'v1';
    const load = deferred<void>();
    const reader = cache.getOrSet('k', async () => {
      const read = source;
      await load.promise;
      return read;
    });
    source = 'v2';
    await cache.delete('k');
    load.resolve();
    assert.equal(await reader, 'v1', 'the caller still gets what its factory returned');
    assert.equal(await cache.get('k'), undefined, 'v1 never stored');
    assert.equal(await cache.getOrSet('k', () => source), 'v2');
  });

  it('a set() during the load wins over the load', async () => {
    const cache = make();
    const load = deferred<string>();
    const reader = cache.getOrSet('k', () => load.promise);
    await cache.set('k', 'newer');
    load.resolve('older');
    await reader;
    assert.equal(await cache.get('k'), 'newer');
  });

  it('C9: a delete during a background refresh keeps the refreshed value out', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    await cache.set('k', 'stale', { ttl: 10, grace: '1h' });
    clock.advance(10);
    const refresh = deferred<string>();
    assert.equal(await cache.getOrSet('k', () => refresh.promise, { timeout: { soft: 0 } }), 'stale');
    await cache.delete('k');
    refresh.resolve('refreshed');
    await sleep(1);
    assert.equal(await cache.get('k'), undefined);
    assert.equal(await cache.getOrSet('k', () => 'reloaded', { ttl: 10, grace: '1h' }), 'reloaded');
  });

  it('a removed value is never served as stale', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    for (const remove of [
      (c: Cache) => c.delete('k'),
      (c: Cache) => c.deleteMany(['k']),
      (c: Cache) => c.deletePattern('k*'),
      (c: Cache) => c.invalidateTags(['t']),
      (c: Cache) => c.clear(),
    ]) {
      await cache.set('k', 'stale', { ttl: 10, grace: '1h', tags: ['t'] });
      clock.advance(10);
      await remove(cache);
      await assert.rejects(cache.getOrSet('k', () => Promise.reject(new Error('down'))), /down/);
    }
  });

  it('clear, deletePattern and invalidateTags during a load keep its result out', async () => {
    const cache = make();
    const cases: [string, (c: Cache) => Promise<unknown>, string[] | undefined][] = [
      ['clear', (c) => c.clear(), undefined],
      ['pattern', (c) => c.deletePattern('user:*'), undefined],
      ['tags', (c) => c.invalidateTags(['t']), ['t']],
    ];
    for (const [name, invalidate, tags] of cases) {
      const load = deferred<string>();
      const reader = cache.getOrSet('user:1', () => load.promise, { tags });
      await invalidate(cache);
      load.resolve('old');
      await reader;
      assert.equal(await cache.get('user:1'), undefined, name);
    }
  });

  it('C7: a tag added by ctx.setOptions during an invalidation still keeps the result out', async () => {
    const cache = make();
    const load = deferred<void>();
    const reader = cache.getOrSet('k', async (ctx) => {
      await load.promise;
      ctx.setOptions({ tags: ['t'] });
      return 'old';
    });
    await cache.invalidateTags(['t']);
    load.resolve();
    await reader;
    assert.equal(await cache.get('k'), undefined);
  });

  it('a namespace clear during a load only blocks loads inside the namespace', async () => {
    const cache = make();
    const t1 = cache.namespace('t1');
    const t2 = cache.namespace('t2');
    const a = deferred<string>();
    const b = deferred<string>();
    const ra = t1.getOrSet('k', () => a.promise);
    const rb = t2.getOrSet('k', () => b.promise);
    await t1.clear();
    a.resolve('a');
    b.resolve('b');
    await Promise.all([ra, rb]);
    assert.equal(await t1.get('k'), undefined);
    assert.equal(await t2.get('k'), 'b');
  });

  it('an abandoned (hard-timed-out) load finishing after a newer load does not overwrite it', async () => {
    const cache = make();
    const first = deferred<string>();
    await assert.rejects(cache.getOrSet('k', () => first.promise, { timeout: { hard: 10 } }), CacheTimeoutError);
    assert.equal(await cache.getOrSet('k', () => 'second'), 'second');
    first.resolve('first');
    await sleep(1);
    assert.equal(await cache.get('k'), 'second');
    assert.equal(inFlight(cache), 0);
  });

  it('M4: after 10k failing cold keys the in-flight and backoff maps are empty', async () => {
    const cache = make();
    await Promise.allSettled(Array.from({ length: 10_000 }, (_, i) => cache.getOrSet(`k${i}`, () => Promise.reject(new Error('x')))));
    assert.deepEqual(Cache.internals(cache), { flights: 0, reads: 0, backoff: 0 });
  });
});

describe('getOrSetMany', () => {
  it('calls the factory once with the missing keys and returns results in key order', async () => {
    const cache = make();
    await cache.set('b', 'B');
    const calls: string[][] = [];
    const values = await cache.getOrSetMany(['a', 'b', 'c', 'a'], (missing) => {
      calls.push(missing);
      return missing.map((k) => k.toUpperCase());
    });
    assert.deepEqual(values, ['A', 'B', 'C', 'A']);
    assert.deepEqual(calls, [['a', 'c']]);
    assert.deepEqual(await cache.getMany(['a', 'c']), ['A', 'C']);
  });

  it('does not call the factory when nothing is missing', async () => {
    const cache = make();
    await cache.setMany([{ key: 'a', value: 1 }]);
    assert.deepEqual(await cache.getOrSetMany(['a'], () => assert.fail('called')), [1]);
  });

  it('accepts a Map or a plain object; undefined for a key caches nothing for it', async () => {
    const cache = make();
    assert.deepEqual(await cache.getOrSetMany(['a', 'b'], () => new Map([['a', 1]])), [1, undefined]);
    assert.deepEqual(await cache.getOrSetMany(['b', 'c'], () => ({ c: 3 })), [undefined, 3]);
    assert.equal(await cache.has('b'), false);
    assert.deepEqual(await cache.getOrSetMany(['__proto__'], () => ({})), [undefined]);
  });

  it('works inside a namespace with user keys', async () => {
    const cache = make();
    const t1 = cache.namespace('t1');
    assert.deepEqual(await t1.getOrSetMany(['x'], (keys) => keys.map((k) => `${k}!`)), ['x!']);
    assert.equal(await cache.get('t1:x'), 'x!');
  });

  it('concurrent getOrSet for a key being batch-loaded joins the batch', async () => {
    const cache = make();
    const batch = deferred<string[]>();
    let single = 0;
    const many = cache.getOrSetMany(['a', 'b'], () => batch.promise);
    const one = cache.getOrSet('a', () => (single++, 'single'));
    batch.resolve(['A', 'B']);
    assert.deepEqual(await many, ['A', 'B']);
    assert.equal(await one, 'A');
    assert.equal(single, 0);
  });

  it('a factory error rejects, caches nothing; a wrong-length array is a TypeError', async () => {
    const cache = make();
    await assert.rejects(cache.getOrSetMany(['a'], () => Promise.reject(new Error('batch'))), /batch/);
    await assert.rejects(cache.getOrSetMany(['a', 'b'], () => ['only one']), TypeError);
    assert.equal(await cache.has('a'), false);
    assert.equal(inFlight(cache), 0);
  });

  it('keys with a stale value fall back to it when the batch fails', async () => {
    const clock = fakeClock();
    const cache = make({ clock });
    await cache.set('a', 'old', { ttl: 10, grace: '1h' });
    clock.advance(10);
    assert.deepEqual(await cache.getOrSetMany(['a'], () => Promise.reject(new Error('down'))), ['old']);
  });
});
