import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../../src/index.js';
import type { FakeClock } from '../helpers/clock.js';

export interface StoreFactoryContext {
  clock: FakeClock;
}

/** How the suite moves time: a fake clock (exact), or real time with a margin (Redis keeps its own). */
export interface Timing {
  /** Moves time forward by `ms` (a fake clock) or waits that long. */
  advance(clock: FakeClock, ms: number): Promise<void>;
  /** Base TTL of the TTL cases, in ms. */
  ttl: number;
  /** Tolerance around expiry deadlines; 0 for a fake clock. */
  margin: number;
}

export const FAKE_TIME: Timing = {
  advance: async (clock, ms) => clock.advance(ms),
  ttl: 1000,
  margin: 0,
};

export const REAL_TIME: Timing = {
  advance: (_clock, ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ttl: 400,
  margin: 120,
};

/**
 * The behaviour every store promises, whatever it runs on. Each store's test file calls this with
 * a factory that builds a fresh, empty store on the given fake clock; stores that cannot follow a
 * fake clock (Redis keeps its own time) pass {@link REAL_TIME} and the TTL cases wait instead.
 */
export function storeConformance(
  name: string,
  make: (ctx: StoreFactoryContext) => Store | Promise<Store>,
  clockFactory: () => FakeClock,
  timing: Timing = FAKE_TIME,
): void {
  describe(`${name}: store conformance`, () => {
    const setup = async (): Promise<{ store: Store; clock: FakeClock }> => {
      const clock = clockFactory();
      return { store: await make({ clock }), clock };
    };
    const T = timing.ttl;
    const m = timing.margin;
    const advance = (clock: FakeClock, ms: number): Promise<void> => timing.advance(clock, ms);
    /** `ttl()` right after a set: exact on a fake clock, within the margin in real time. */
    const assertTtl = (actual: number | undefined, expected: number): void => {
      assert.ok(actual !== undefined && actual <= expected && actual >= expected - m - 1, `ttl ${String(actual)} for ${expected}`);
    };

    it('declares its capabilities', async () => {
      const { store } = await setup();
      for (const flag of ['sync', 'shared', 'tags', 'patterns', 'grace'] as const) {
        assert.equal(typeof store.capabilities[flag], 'boolean', flag);
      }
      await store.close();
    });

    it('get / set / has / delete round-trip', async () => {
      const { store } = await setup();
      assert.equal(await store.get('a'), undefined);
      assert.equal(await store.has('a'), false);
      await store.set('a', { n: 1 });
      assert.deepEqual(await store.get('a'), { n: 1 });
      assert.equal(await store.has('a'), true);
      await store.set('a', 'two');
      assert.equal(await store.get('a'), 'two');
      assert.equal(await store.delete('a'), true);
      assert.equal(await store.delete('a'), false);
      assert.equal(await store.get('a'), undefined);
      await store.close();
    });

    it('keeps null, false, 0 and empty string as values', async () => {
      const { store } = await setup();
      for (const [k, v] of [['n', null], ['f', false], ['z', 0], ['e', '']] as const) {
        await store.set(k, v);
        assert.equal(await store.get(k), v, k);
        assert.equal(await store.has(k), true, k);
      }
      await store.close();
    });

    it('keys that name Object.prototype members round-trip exactly', async () => {
      const { store } = await setup();
      const keys = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'a\r\nb', 'nul\u0000', '🔑'];
      for (const k of keys) assert.equal(await store.get(k), undefined, `${k} absent`);
      for (const [i, k] of keys.entries()) await store.set(k, i);
      for (const [i, k] of keys.entries()) assert.equal(await store.get(k), i, k);
      assert.equal((({}) as Record<string, unknown>).polluted, undefined);
      for (const k of keys) assert.equal(await store.delete(k), true, k);
      await store.close();
    });

    it('ttl: expires at the deadline, reports ms left, Infinity without expiry', async () => {
      const { store, clock } = await setup();
      await store.set('t', 1, { ttl: T });
      await store.set('forever', 1, { ttl: Infinity });
      assertTtl(await store.ttl('t'), T);
      assert.equal(await store.ttl('forever'), Infinity);
      assert.equal(await store.ttl('missing'), undefined);
      await advance(clock, T - 1 - m);
      assert.equal(await store.get('t'), 1);
      if (m === 0) assert.equal(await store.ttl('t'), 1);
      await advance(clock, 1 + 2 * m);
      assert.equal(await store.get('t'), undefined);
      assert.equal(await store.has('t'), false);
      assert.equal(await store.ttl('t'), undefined);
      assert.equal(await store.get('forever'), 1);
      await store.close();
    });

    it('ttl accepts duration strings and rejects bad ones without touching the entry', async () => {
      const { store, clock } = await setup();
      await store.set('s', 'v', { ttl: '1.5s' });
      assertTtl(await store.ttl('s'), 1500);
      await assert.rejects(async () => store.set('s', 'w', { ttl: '5 parsecs' as '5s' }), { code: 'HOARD_CONFIG' });
      await assert.rejects(async () => store.set('s', 'w', { ttl: -1 }), { code: 'HOARD_CONFIG' });
      await assert.rejects(async () => store.set('s', 'w', { ttl: 0 }), { code: 'HOARD_CONFIG' });
      assert.equal(await store.get('s'), 'v');
      await store.set('s', 'v', { ttl: T });
      await advance(clock, T + m);
      assert.equal(await store.get('s'), undefined);
      await store.close();
    });

    it('grace: getStale sees an expired entry until ttl + grace, get does not', async () => {
      const { store, clock } = await setup();
      if (!store.capabilities.grace) return;
      await store.set('g', 'old', { ttl: T, grace: 2 * T });
      assert.deepEqual(await store.getStale('g'), { value: 'old', stale: false });
      await advance(clock, T + m);
      assert.equal(await store.get('g'), undefined);
      assert.equal(await store.has('g'), false);
      assert.deepEqual(await store.getStale('g'), { value: 'old', stale: true });
      await advance(clock, 2 * T - 1 - 2 * m);
      assert.deepEqual(await store.getStale('g'), { value: 'old', stale: true });
      await advance(clock, 1 + 2 * m);
      assert.equal(await store.getStale('g'), undefined);
      await store.close();
    });

    it('incr: starts at 0, adds, keeps counting, refuses non-numbers', async () => {
      const { store } = await setup();
      assert.equal(await store.incr('c'), 1);
      assert.equal(await store.incr('c', 5), 6);
      assert.equal(await store.incr('c', -2), 4);
      assert.equal(await store.get('c'), 4);
      await store.set('s', 'text');
      await assert.rejects(async () => store.incr('s'), TypeError);
      assert.equal(await store.get('s'), 'text');
      await store.close();
    });

    it('incr keeps the TTL of the counter', async () => {
      const { store, clock } = await setup();
      await store.set('c', 1, { ttl: T });
      await advance(clock, T / 2);
      assert.equal(await store.incr('c'), 2);
      await advance(clock, T / 2 + m);
      assert.equal(await store.get('c'), undefined);
      await store.close();
    });

    it('getMany / setMany / deleteMany', async () => {
      const { store, clock } = await setup();
      await store.setMany([
        { key: 'a', value: 1 },
        { key: 'b', value: 2, ttl: T },
        { key: 'c', value: 3, tags: ['t'] },
      ]);
      assert.deepEqual(await store.getMany(['a', 'x', 'b', 'c', 'a']), [1, undefined, 2, 3, 1]);
      await advance(clock, T + m);
      assert.deepEqual(await store.getMany(['a', 'b']), [1, undefined]);
      assert.equal(await store.deleteMany(['a', 'a', 'b', 'x', 'c']), 2);
      assert.deepEqual(await store.getMany(['a', 'c']), [undefined, undefined]);
      assert.deepEqual(await store.getMany([]), []);
      await store.close();
    });

    it('deletePattern: glob semantics, literal characters, count of removed entries', async () => {
      const { store } = await setup();
      if (!store.capabilities.patterns) return;
      for (const k of ['user:1', 'user:2', 'user:10', 'users:1', 'user*x', 'post:1', 'user:a']) await store.set(k, k);
      assert.equal(await store.deletePattern('user:?'), 3); // user:1, user:2, user:a
      assert.deepEqual(await store.getMany(['user:10', 'users:1', 'user*x', 'post:1']), ['user:10', 'users:1', 'user*x', 'post:1']);
      assert.equal(await store.deletePattern('user\\*x'), 1);
      assert.equal(await store.get('user*x'), undefined);
      assert.equal(await store.deletePattern('user[s:]*'), 2);
      assert.equal(await store.deletePattern('nothing*'), 0);
      assert.equal(await store.get('post:1'), 'post:1');
      await store.close();
    });

    it('tags: invalidateTags removes every entry with any of the tags, counts distinct entries', async () => {
      const { store } = await setup();
      if (!store.capabilities.tags) return;
      await store.set('a', 1, { tags: ['x', 'y'] });
      await store.set('b', 2, { tags: ['y'] });
      await store.set('c', 3, { tags: ['z'] });
      await store.set('d', 4);
      // A lazy store records the invalidation and cannot count what it never touched: a lower bound.
      const lazy = store.capabilities.lazyTags === true;
      const removed = await store.invalidateTags(['x', 'y']);
      if (lazy) assert.ok(removed >= 0 && removed <= 2, `removed ${removed}`);
      else assert.equal(removed, 2);
      assert.deepEqual(await store.getMany(['a', 'b', 'c', 'd']), [undefined, undefined, 3, 4]);
      assert.equal(await store.has('a'), false);
      assert.equal(await store.ttl('b'), undefined);
      assert.equal(await store.invalidateTags(['y']), 0);
      assert.equal(await store.invalidateTags(['nope']), 0);
      // Written after the invalidation: the tag holds again.
      await store.set('a', 5, { tags: ['x'] });
      assert.equal(await store.get('a'), 5);
      await store.close();
    });

    it('tags: a rewrite without the tag is not removed by it', async () => {
      const { store } = await setup();
      if (!store.capabilities.tags) return;
      await store.set('a', 1, { tags: ['x'] });
      await store.set('a', 2);
      assert.equal(await store.invalidateTags(['x']), 0);
      assert.equal(await store.get('a'), 2);
      await store.close();
    });

    it('clear removes everything', async () => {
      const { store } = await setup();
      await store.setMany([{ key: 'a', value: 1 }, { key: 'b', value: 2, tags: ['t'] }]);
      await store.clear();
      assert.deepEqual(await store.getMany(['a', 'b']), [undefined, undefined]);
      assert.equal(await store.invalidateTags(['t']), 0);
      await store.set('a', 3);
      assert.equal(await store.get('a'), 3);
      await store.close();
    });
  });
}
