import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { cache as defaultCache, cached, createCache, InvalidKeyError, memoryStore, stableHash } from '../../src/index.js';
import type { Cache } from '../../src/index.js';
import { resetDefaultCache } from '../../src/cache/default-cache.js';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

/** A cache of its own per test, on a fake clock, with nothing read from the environment. */
function setup(): { cache: Cache; clock: ReturnType<typeof fakeClock> } {
  const clock = fakeClock();
  return { cache: createCache({ store: memoryStore({ clock }), clock }, {}), clock };
}

/** A function that counts its calls and returns what it was given. */
function counting<Args extends unknown[]>(name = 'fetch'): { fn: (...args: Args) => Promise<Args>; calls: Args[] } {
  const calls: Args[] = [];
  const holder = {
    [name]: async (...args: Args): Promise<Args> => {
      calls.push(args);
      return args;
    },
  };
  return { fn: holder[name]!, calls };
}

describe('cached()', () => {
  it('runs the function once per argument set, then serves from the cache', async () => {
    const { cache } = setup();
    const { fn, calls } = counting<[number]>();
    const f = cached(fn, { cache });
    assert.deepEqual(await f(1), [1]);
    assert.deepEqual(await f(1), [1]);
    assert.deepEqual(await f(2), [2]);
    assert.deepEqual(await f(2), [2]);
    assert.deepEqual(calls, [[1], [2]]);
    assert.equal(cache.stats().hits, 2);
    assert.equal(cache.stats().misses, 2);
  });

  it('passes `this` and all arguments through', async () => {
    const { cache } = setup();
    const f = cached(
      async function named(this: { base: number } | undefined, a: number, b: number) {
        return (this?.base ?? 0) + a + b;
      },
      { cache },
    );
    const holder = { base: 100, f };
    assert.equal(await holder.f(1, 2), 103);
  });

  it('runs the function once for concurrent equal calls', async () => {
    const { cache } = setup();
    let runs = 0;
    let release!: (value: string) => void;
    const f = cached(
      (id: number) => {
        runs++;
        return new Promise<string>((resolve) => {
          release = (v) => resolve(`${v}${id}`);
        });
      },
      { cache, prefix: 'slow' },
    );
    const pending = [f(7), f(7), f(7)];
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(runs, 1);
    release('user');
    assert.deepEqual(await Promise.all(pending), ['user7', 'user7', 'user7']);
    assert.equal(await f(7), 'user7');
    assert.equal(runs, 1);
  });

  it('gives {a:1,b:2} and {b:2,a:1} the same key', async () => {
    const { cache } = setup();
    const { fn, calls } = counting<[Record<string, number>]>();
    const f = cached(fn, { cache });
    assert.equal(f.keyFor({ a: 1, b: 2 }), f.keyFor({ b: 2, a: 1 }));
    await f({ a: 1, b: 2 });
    await f({ b: 2, a: 1 });
    assert.equal(calls.length, 1);
  });

  it('gives f(1, 2) and f([1, 2]) different keys', async () => {
    const { cache } = setup();
    const { fn, calls } = counting<unknown[]>();
    const f = cached(fn, { cache });
    assert.notEqual(f.keyFor(1, 2), f.keyFor([1, 2]));
    assert.deepEqual(await f(1, 2), [1, 2]);
    assert.deepEqual(await f([1, 2]), [[1, 2]]);
    assert.equal(calls.length, 2);
  });

  it('hashed keys are the function name plus the hash of the arguments', () => {
    const { cache } = setup();
    const { fn } = counting<[number, string]>('fetchUser');
    const f = cached(fn, { cache });
    assert.equal(f.keyFor(1, 'x'), `fetchUser:${stableHash([1, 'x'])}`);
    const g = cached(fn, { cache, prefix: 'users' });
    assert.equal(g.keyFor(1, 'x'), `users:${stableHash([1, 'x'])}`);
  });

  it('an anonymous function without `prefix` or `key` is a ConfigError', async () => {
    const { cache } = setup();
    assert.throws(() => cached(async (x: number) => x, { cache }), { name: 'ConfigError', option: 'prefix' });
    const named = cached(async (x: number) => x, { cache, prefix: 'anon' });
    assert.equal(named.keyFor(1), `anon:${stableHash([1])}`);
    assert.equal(await named(1), 1);
    assert.throws(() => cached(async (x: number) => x, { cache, prefix: '' }), { name: 'ConfigError', option: 'prefix' });
  });

  for (const [label, arg] of [
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a circular object', (() => {
      const o: Record<string, unknown> = {};
      o.self = o;
      return o;
    })()],
    ['a nested function', { deep: [{ fn: () => 1 }] }],
  ] as const) {
    it(`${label} as an argument is an InvalidKeyError without \`key\``, async () => {
      const { cache } = setup();
      const { fn, calls } = counting<[unknown]>();
      const f = cached(fn, { cache });
      assert.throws(() => f.keyFor(arg), InvalidKeyError);
      await assert.rejects(() => f(arg), InvalidKeyError);
      await assert.rejects(() => f.invalidate(arg), InvalidKeyError);
      assert.equal(calls.length, 0);
    });

    it(`${label} as an argument is fine with \`key\``, async () => {
      const { cache } = setup();
      const { fn, calls } = counting<[unknown]>();
      const f = cached(fn, { cache, key: () => 'fixed' });
      await f(arg);
      await f(arg);
      assert.equal(calls.length, 1);
      assert.equal(await cache.has('fixed'), true);
    });
  }

  it('with `key` the cache key is exactly key(...args) and keyFor returns it', async () => {
    const { cache } = setup();
    const store = memoryStore();
    const own = createCache({ store }, {});
    const f = cached(async (id: number, lang: string) => ({ id, lang }), { cache: own, key: (id, lang) => `user:${id}:${lang}` });
    assert.equal(f.keyFor(1, 'en'), 'user:1:en');
    await f(1, 'en');
    assert.deepEqual([...store.keys()], ['user:1:en']);
    assert.deepEqual(await own.get('user:1:en'), { id: 1, lang: 'en' });
    assert.equal(await cache.has('user:1:en'), false);
  });

  it('with `key` and `prefix` the key is prefix:key(...args)', async () => {
    const store = memoryStore();
    const own = createCache({ store }, {});
    const f = cached(async (id: number) => id * 2, { cache: own, key: (id) => `user:${id}`, prefix: 'v2' });
    assert.equal(f.keyFor(3), 'v2:user:3');
    assert.equal(await f(3), 6);
    assert.deepEqual([...store.keys()], ['v2:user:3']);
  });

  it('.invalidate(args) drops exactly that entry', async () => {
    const { cache } = setup();
    const { fn, calls } = counting<[number]>();
    const f = cached(fn, { cache });
    await f(1);
    await f(2);
    assert.equal(await f.invalidate(1), true);
    assert.equal(await f.invalidate(1), false);
    assert.equal(await cache.has(f.keyFor(1)), false);
    assert.equal(await cache.has(f.keyFor(2)), true);
    await f(1);
    await f(2);
    assert.deepEqual(calls, [[1], [2], [1]]);
  });

  it('`tags` as an array makes invalidateTags drop the entries', async () => {
    const { cache } = setup();
    const { fn, calls } = counting<[number]>();
    const f = cached(fn, { cache, tags: ['users'] });
    const other = cached(counting<[number]>('other').fn, { cache });
    await f(1);
    await f(2);
    await other(1);
    assert.equal(await cache.invalidateTags(['users']), 2);
    assert.equal(await cache.has(other.keyFor(1)), true);
    await f(1);
    assert.equal(calls.length, 3);
  });

  it('`tags` as a function tags each entry by its arguments', async () => {
    const { cache } = setup();
    const { fn, calls } = counting<[number, string]>();
    const f = cached(fn, { cache, tags: (id, tenant) => [`user:${id}`, `tenant:${tenant}`] });
    await f(1, 'a');
    await f(2, 'a');
    await f(3, 'b');
    assert.equal(await cache.invalidateTags(['user:2']), 1);
    assert.equal(await cache.has(f.keyFor(1, 'a')), true);
    assert.equal(await cache.has(f.keyFor(2, 'a')), false);
    assert.equal(await cache.invalidateTags(['tenant:a']), 1);
    assert.equal(await cache.has(f.keyFor(1, 'a')), false);
    assert.equal(await cache.has(f.keyFor(3, 'b')), true);
    assert.equal(calls.length, 3);
  });

  it('honours `ttl`', async () => {
    const { cache, clock } = setup();
    const { fn, calls } = counting<[number]>();
    const f = cached(fn, { cache, ttl: '1m' });
    await f(1);
    clock.advance(59_999);
    await f(1);
    assert.equal(calls.length, 1);
    assert.equal(await cache.ttl(f.keyFor(1)), 1);
    clock.advance(1);
    await f(1);
    assert.equal(calls.length, 2);
  });

  it('a bad `ttl` is a ConfigError naming ttl', async () => {
    const { cache } = setup();
    const f = cached(async () => 1, { cache, prefix: 'p', ttl: -1 });
    await assert.rejects(() => f(), { name: 'ConfigError', option: 'ttl' });
  });

  it('rethrows the same error object and caches nothing', async () => {
    const { cache } = setup();
    const boom = new Error('boom');
    let runs = 0;
    const f = cached(
      async (fail: boolean) => {
        runs++;
        if (fail) throw boom;
        return 'ok';
      },
      { cache, key: () => 'k' },
    );
    await assert.rejects(
      () => f(true),
      (error) => error === boom,
    );
    assert.equal(await cache.has('k'), false);
    await assert.rejects(
      () => f(true),
      (error) => error === boom,
    );
    assert.equal(runs, 2);
    assert.equal(await f(false), 'ok');
    assert.equal(runs, 3);
  });

  it('a synchronous throw of the function is rethrown as a rejection and not cached', async () => {
    const { cache } = setup();
    const boom = new TypeError('sync boom');
    let runs = 0;
    const f = cached(
      (): number => {
        runs++;
        throw boom;
      },
      { cache, prefix: 'sync' },
    );
    await assert.rejects(
      () => f(),
      (error) => error === boom,
    );
    await assert.rejects(
      () => f(),
      (error) => error === boom,
    );
    assert.equal(runs, 2);
  });
});

describe('cached(): the default cache', () => {
  afterEach(() => resetDefaultCache());

  it('uses the default `cache` when no `cache` option is given', async () => {
    await resetDefaultCache();
    const { fn, calls } = counting<[number]>('fromDefault');
    const f = cached(fn);
    await f(1);
    await f(1);
    assert.equal(calls.length, 1);
    assert.equal(await defaultCache.has(f.keyFor(1)), true);
    assert.equal(defaultCache.stats().hits, 1);
    assert.equal(await f.invalidate(1), true);
    assert.equal(await defaultCache.has(f.keyFor(1)), false);
  });

  it('follows the default cache when it is reset', async () => {
    await resetDefaultCache();
    const { fn, calls } = counting<[number]>('acrossResets');
    const f = cached(fn);
    await f(1);
    await resetDefaultCache();
    await f(1);
    assert.equal(calls.length, 2);
  });
});

describe('stableHash', () => {
  it('is a short url-safe string, equal for equal arguments', () => {
    const h = stableHash([1, 'a', { x: [1, 2] }]);
    assert.match(h, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(stableHash([1, 'a', { x: [1, 2] }]), h);
  });

  it('ignores the order of object keys, also nested', () => {
    assert.equal(stableHash([{ a: 1, b: { c: 2, d: [3, { e: 4, f: 5 }] } }]), stableHash([{ b: { d: [3, { f: 5, e: 4 }], c: 2 }, a: 1 }]));
    assert.notEqual(stableHash([{ a: 1, b: { c: 2 } }]), stableHash([{ a: 1, b: { c: 3 } }]));
    assert.notEqual(stableHash([{ a: { b: 1 } }]), stableHash([{ a: 1, b: 1 }]));
  });

  it('keeps array order and argument boundaries', () => {
    assert.notEqual(stableHash([[1, 2]]), stableHash([[2, 1]]));
    assert.notEqual(stableHash([1, 2]), stableHash([[1, 2]]));
    assert.notEqual(stableHash([1, 2]), stableHash([2, 1]));
    assert.notEqual(stableHash([]), stableHash([undefined]));
  });

  it('tells types apart', () => {
    const values = [1, '1', 1n, true, 'T', null, 'N', undefined, 'U', [], {}, '[]', new Map(), new Set(), new Date(1), 'D1'];
    const hashes = new Set(values.map((v) => stableHash([v])));
    assert.equal(hashes.size, values.length);
  });

  it('Map and Set are order-insensitive', () => {
    assert.equal(stableHash([new Map([['a', 1], ['b', 2]])]), stableHash([new Map([['b', 2], ['a', 1]])]));
    assert.notEqual(stableHash([new Map([['a', 1]])]), stableHash([new Map([['a', 2]])]));
    assert.notEqual(stableHash([new Map([['a', 1]])]), stableHash([{ a: 1 }]));
    assert.equal(stableHash([new Set([1, 2, 3])]), stableHash([new Set([3, 1, 2])]));
    assert.notEqual(stableHash([new Set([1, 2])]), stableHash([new Set([1, 2, 3])]));
    assert.notEqual(stableHash([new Set([1, 2])]), stableHash([[1, 2]]));
    assert.equal(stableHash([new Map([[{ k: 1, j: 2 }, new Set(['x', 'y'])]])]), stableHash([new Map([[{ j: 2, k: 1 }, new Set(['y', 'x'])]])]));
  });

  it('hashes Dates by their time', () => {
    assert.equal(stableHash([new Date('2024-01-01T00:00:00Z')]), stableHash([new Date(Date.UTC(2024, 0, 1))]));
    assert.notEqual(stableHash([new Date(0)]), stableHash([new Date(1)]));
    assert.notEqual(stableHash([new Date(0)]), stableHash([0]));
  });

  it('hashes Buffers and typed arrays by their bytes', () => {
    assert.equal(stableHash([Buffer.from('abc')]), stableHash([Buffer.from([0x61, 0x62, 0x63])]));
    assert.notEqual(stableHash([Buffer.from('abc')]), stableHash([Buffer.from('abd')]));
    assert.notEqual(stableHash([Buffer.from('abc')]), stableHash(['abc']));
    const big = Buffer.from('xxabcxx');
    assert.equal(stableHash([big.subarray(2, 5)]), stableHash([Buffer.from('abc')]));
  });

  it('hashes BigInts and tells them from numbers and strings', () => {
    assert.equal(stableHash([10n]), stableHash([BigInt(10)]));
    assert.notEqual(stableHash([10n]), stableHash([10]));
    assert.notEqual(stableHash([10n]), stableHash(['10n']));
    assert.notEqual(stableHash([2n ** 64n]), stableHash([2n ** 64n + 1n]));
  });

  it('tells -0 from 0 and keeps NaN and Infinity apart', () => {
    assert.notEqual(stableHash([-0]), stableHash([0]));
    assert.equal(stableHash([NaN]), stableHash([Number.NaN]));
    assert.notEqual(stableHash([Infinity]), stableHash([-Infinity]));
    assert.notEqual(stableHash([NaN]), stableHash([null]));
  });

  it('throws InvalidKeyError naming the path of a function, symbol or cycle', () => {
    assert.throws(() => stableHash([{ user: { callback: () => 1 } }]), (error: unknown) => {
      assert.ok(error instanceof InvalidKeyError);
      assert.match(error.message, /\$\[0\]\.user\.callback/);
      return true;
    });
    assert.throws(() => stableHash([1, [Symbol('x')]]), InvalidKeyError);
    const a: unknown[] = [];
    a.push({ a });
    assert.throws(() => stableHash([a]), /circular/);
  });

  it('accepts the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    assert.equal(stableHash([shared, shared]), stableHash([{ x: 1 }, { x: 1 }]));
  });
});
