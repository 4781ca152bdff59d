import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cache, createCache, InvalidKeyError, memoryStore } from '../../src/index.js';
import type { CacheOptions, MemoryStore } from '../../src/index.js';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

const make = (options: CacheOptions = {}): Cache => createCache({ store: memoryStore(), ...options }, {});

describe('Cache: the contract table', () => {
  it('get / set / has / delete / ttl', async () => {
    const clock = fakeClock();
    const cache = make({ clock, store: memoryStore({ clock }) });
    assert.equal(await cache.get('k'), undefined);
    await cache.set('k', { a: 1 });
    assert.deepEqual(await cache.get('k'), { a: 1 });
    assert.equal(await cache.has('k'), true);
    assert.equal(await cache.ttl('k'), 300_000, 'defaultTtl is 5m');
    await cache.set('k', null, { ttl: '2s' });
    assert.equal(await cache.get('k'), null, 'null is a value');
    assert.equal(await cache.ttl('k'), 2000);
    assert.equal(await cache.ttl('absent'), undefined);
    assert.equal(await cache.delete('k'), true);
    assert.equal(await cache.delete('k'), false);
    assert.equal(await cache.has('k'), false);
  });

  it('defaultTtl applies and Infinity means no expiry', async () => {
    const clock = fakeClock();
    const cache = make({ clock, store: memoryStore({ clock }), defaultTtl: '1s' });
    await cache.set('a', 1);
    await cache.set('b', 1, { ttl: Infinity });
    assert.equal(await cache.ttl('b'), Infinity);
    clock.advance(1000);
    assert.equal(await cache.get('a'), undefined);
    assert.equal(await cache.get('b'), 1);
  });

  it('stores values by reference, like lru-cache', async () => {
    const cache = make();
    const value = { n: 1 };
    await cache.set('k', value);
    assert.equal(await cache.get('k'), value);
  });

  it('incr counts atomically in process and keeps the entry', async () => {
    const cache = make();
    assert.equal(await cache.incr('n'), 1);
    assert.equal(await cache.incr('n', 10), 11);
    const all = await Promise.all(Array.from({ length: 100 }, () => cache.incr('n')));
    assert.equal(Math.max(...all), 111);
    assert.equal(new Set(all).size, 100);
    await assert.rejects(cache.incr('n', Number.NaN), TypeError);
    await cache.set('s', 'x');
    await assert.rejects(cache.incr('s'), TypeError);
    assert.equal(await cache.get('s'), 'x');
  });

  it('getMany / setMany / deleteMany', async () => {
    const cache = make();
    await cache.setMany([{ key: 'a', value: 1 }, { key: 'b', value: 2, tags: ['t'] }, { key: 'c', value: 3, ttl: '1m' }]);
    assert.deepEqual(await cache.getMany(['a', 'b', 'x', 'c']), [1, 2, undefined, 3]);
    assert.equal(await cache.deleteMany(['a', 'a', 'x']), 1);
    assert.equal(await cache.invalidateTags(['t']), 1);
    assert.deepEqual(await cache.getMany(['a', 'b', 'c']), [undefined, undefined, 3]);
    const s = cache.stats();
    assert.equal(s.hits, 4);
    assert.equal(s.misses, 3);
    assert.equal(s.deletes, 2);
  });

  it('deletePattern uses glob semantics and counts removed entries', async () => {
    const cache = make();
    for (const k of ['user:1', 'user:2', 'user:10', 'post:1', 'user*']) await cache.set(k, k);
    assert.equal(await cache.deletePattern('user:?'), 2);
    assert.equal(await cache.deletePattern('user:[0-9]*'), 1);
    assert.equal(await cache.deletePattern('user\\*'), 1);
    assert.deepEqual(await cache.getMany(['post:1', 'user:10']), ['post:1', undefined]);
    await assert.rejects(cache.deletePattern(''), TypeError);
  });

  it('clear empties the cache', async () => {
    const cache = make();
    await cache.set('a', 1);
    await cache.namespace('t').set('b', 2);
    await cache.clear();
    assert.equal(cache.stats().size, 0);
    assert.equal(await cache.namespace('t').get('b'), undefined);
  });
});

describe('Cache: namespaces (tenant isolation)', () => {
  it('a namespace stores k as name:k inside its parent, and nests', async () => {
    const cache = make();
    const t1 = cache.namespace('t1');
    await t1.set('k', 1);
    assert.equal(await cache.get('t1:k'), 1);
    assert.equal(await t1.get('k'), 1);
    assert.equal(await cache.namespace('t2').get('k'), undefined);
    const deep = t1.namespace('users');
    await deep.set('u', 2);
    assert.equal(await cache.get('t1:users:u'), 2);
    assert.equal(deep.path, 't1:users:');
  });

  it("a namespace's deletePattern, tags and clear stay inside it; the parent's reach in", async () => {
    const cache = make();
    const t1 = cache.namespace('t1');
    const t2 = cache.namespace('t2');
    for (const ns of [t1, t2]) {
      await ns.set('a', 1, { tags: ['x'] });
      await ns.set('b', 2);
    }
    await cache.set('a', 0, { tags: ['x'] });
    assert.equal(await t1.deletePattern('*'), 2);
    assert.deepEqual(await t2.getMany(['a', 'b']), [1, 2]);
    assert.equal(await t2.invalidateTags(['x']), 1);
    assert.equal(await cache.get('a'), 0, 'root tag x untouched by t2');
    await t2.set('a', 1, { tags: ['x'] });
    assert.equal(await cache.invalidateTags(['t2:x']), 1, 'parent reaches t2:x');
    await t2.set('c', 3);
    await t2.clear();
    assert.equal(await t2.get('c'), undefined);
    assert.equal(await cache.get('a'), 0);
    await t1.set('z', 1);
    assert.equal(await cache.deletePattern('*'), 2, 'parent pattern reaches namespaces');
  });

  it('a namespace name with : or a glob character is an InvalidKeyError', () => {
    const cache = make();
    for (const bad of ['a:b', 'a*', 'a?', '[a]', 'a\\b', '']) {
      assert.throws(() => cache.namespace(bad), InvalidKeyError, bad);
    }
  });

  it('namespaces share the root stats', async () => {
    const cache = make();
    await cache.namespace('a').get('x');
    await cache.namespace('b').set('x', 1);
    await cache.namespace('b').get('x');
    const s = cache.stats();
    assert.equal(s.hits, 1);
    assert.equal(s.misses, 1);
    assert.equal(s.hitRate, 0.5);
    assert.equal(cache.namespace('b').stats().hits, 1);
  });
});

describe('Cache: bad input never loses what is cached', () => {
  it('I7: empty, too long and non-string keys are InvalidKeyError', async () => {
    const cache = make();
    await cache.set('keep', 1);
    const longKey = 'x'.repeat(1025);
    const longUtf8 = 'é'.repeat(513); // 1026 bytes, 513 characters
    for (const key of ['', longKey, longUtf8, 42, undefined, null]) {
      await assert.rejects(cache.set(key as string, 1), InvalidKeyError);
      await assert.rejects(cache.get(key as string), InvalidKeyError);
      await assert.rejects(cache.getOrSet(key as string, () => 1), InvalidKeyError);
    }
    await cache.set('k'.repeat(1024), 1);
    await cache.set('é'.repeat(512), 1);
    assert.equal(await cache.get('keep'), 1);
  });

  it('undefined as a value is a TypeError and the old value stays', async () => {
    const cache = make();
    await cache.set('k', 1);
    await assert.rejects(cache.set('k', undefined), TypeError);
    await assert.rejects(cache.setMany([{ key: 'k', value: 2 }, { key: 'j', value: undefined }]), TypeError);
    assert.equal(await cache.get('k'), 1, 'setMany validated everything before writing');
    assert.equal(await cache.get('j'), undefined);
  });

  it('memoryStore().set(k, undefined) is a TypeError like the facade; incr says what it got instead of a number', async () => {
    const store = memoryStore();
    store.set('k', 1);
    assert.throws(() => store.set('k', undefined), TypeError);
    assert.equal(store.get('k'), 1);
    assert.throws(() => store.incr('n', '2' as unknown as number), /got the string "2"/);
    const cache = make();
    await assert.rejects(cache.incr('n', '2' as unknown as number), /got the string "2"/);
    assert.equal(await cache.get('n'), undefined);
  });

  it('every option is checked whatever the tiers: a bad l2Timeout, connectTimeout, closeTimeout or circuitBreaker is a ConfigError naming it', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ l2Timeout: 'soon' }, 'l2Timeout'],
      [{ l2Timeout: -5 }, 'l2Timeout'],
      [{ connectTimeout: 'later' }, 'connectTimeout'],
      [{ closeTimeout: -1 }, 'closeTimeout'],
      [{ circuitBreaker: { failureThreshold: 0 } }, 'circuitBreaker.failureThreshold'],
      [{ circuitBreaker: { breakDuration: 'x' } }, 'circuitBreaker.breakDuration'],
    ];
    for (const [options, option] of cases) {
      assert.throws(() => createCache(options, {}), { code: 'HOARD_CONFIG', option }, option);
    }
  });

  it('I9: ttl 0, -1, NaN and bad strings are ConfigError naming ttl; the old value stays', async () => {
    const cache = make();
    await cache.set('k', 1);
    for (const ttl of [0, -1, Number.NaN, '5 parsecs', '1 h', 'h']) {
      await assert.rejects(cache.set('k', 2, { ttl: ttl as number }), { code: 'HOARD_CONFIG', option: 'ttl' });
    }
    await assert.rejects(cache.set('k', 2, { grace: 0 }), { option: 'grace' });
    await assert.rejects(cache.getOrSet('x', () => 1, { timeout: { hard: 'soon' as '1s' } }), { option: 'timeout.hard' });
    assert.equal(await cache.get('k'), 1);
  });

  it('I1: keys named after Object.prototype members round-trip exactly, nothing is polluted', async () => {
    const cache = make();
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      assert.equal(await cache.get(key), undefined, key);
      assert.equal(await cache.has(key), false);
      await cache.set(key, { polluted: true });
      assert.deepEqual(await cache.get(key), { polluted: true });
      assert.equal(await cache.delete(key), true);
    }
    assert.equal((({}) as Record<string, unknown>).polluted, undefined);
    assert.equal(await cache.getOrSet('__proto__', () => 'v'), 'v');
  });

  it('bad tags are rejected before anything is written', async () => {
    const cache = make();
    await assert.rejects(cache.set('k', 1, { tags: [''] }), InvalidKeyError);
    await assert.rejects(cache.set('k', 1, { tags: 'x' as unknown as string[] }), TypeError);
    await assert.rejects(cache.invalidateTags('x' as unknown as string[]), TypeError);
    assert.equal(await cache.has('k'), false);
  });
});

describe('Cache: stats and events', () => {
  it('counts hits, misses, sets, deletes, evictions and expirations', async () => {
    const clock = fakeClock();
    const cache = make({ clock, store: memoryStore({ clock, maxEntries: 2 }) });
    await cache.get('a');
    await cache.set('a', 1, { ttl: 10 });
    await cache.get('a');
    await cache.has('a');
    await cache.ttl('a');
    await cache.set('b', 2);
    await cache.set('c', 3);
    clock.advance(10);
    await cache.delete('c');
    const s = cache.stats();
    assert.equal(s.hits, 1);
    assert.equal(s.misses, 1);
    assert.equal(s.hitRate, 0.5);
    assert.equal(s.sets, 3);
    assert.equal(s.deletes, 1);
    assert.equal(s.evictions, 1);
    assert.equal(s.size, 1);
    assert.equal(s.errors, 0);
    assert.equal(typeof s.latency.p50, 'number');
    assert.equal(s.bytes, undefined);
    assert.equal(make().stats().hitRate, 0);
  });

  it('reports bytes when the store bounds them', async () => {
    const cache = make({ store: memoryStore({ maxBytes: 1 << 20 }) });
    await cache.set('a', 'x'.repeat(100));
    assert.ok((cache.stats().bytes ?? 0) > 100, 'the key and 100 one-byte characters');
  });

  it('emits typed events; listeners that throw do not break the cache; on() returns unsubscribe', async () => {
    const clock = fakeClock();
    const cache = make({ clock, store: memoryStore({ clock, maxEntries: 1 }) });
    const seen: string[] = [];
    cache.on('hit', (e) => seen.push(`hit:${e.key}:${e.tier}`));
    cache.on('miss', (e) => seen.push(`miss:${e.key}`));
    cache.on('set', (e) => seen.push(`set:${e.key}`));
    cache.on('delete', (e) => seen.push(`delete:${e.key}`));
    cache.on('evict', (e) => seen.push(`evict:${e.key}:${e.reason}`));
    cache.on('expire', (e) => seen.push(`expire:${e.key}`));
    const off = cache.on('hit', () => {
      throw new Error('listener bug');
    });
    await cache.namespace('n').get('a');
    await cache.set('a', 1, { ttl: 5 });
    await cache.get('a');
    off();
    await cache.set('b', 1);
    clock.advance(10);
    await cache.set('c', 1, { ttl: 5 });
    clock.advance(10);
    await cache.get('c');
    await cache.set('d', 1);
    await cache.delete('d');
    assert.deepEqual(seen, [
      'miss:n:a',
      'set:a',
      'hit:a:l1',
      'evict:a:capacity', // the write of b evicts a before b's set event
      'set:b',
      'evict:b:capacity',
      'set:c',
      'expire:c',
      'miss:c',
      'set:d',
      'delete:d',
    ]);
    assert.throws(() => cache.on('nope' as 'hit', () => {}), TypeError);
  });
});

describe('Cache: enabled false and close', () => {
  it('enabled: false stores nothing and always runs factories', async () => {
    const cache = make({ enabled: false });
    await cache.set('k', 1);
    assert.equal(await cache.get('k'), undefined);
    let calls = 0;
    assert.equal(await cache.getOrSet('k', () => ++calls), 1);
    assert.equal(await cache.getOrSet('k', () => ++calls), 2);
    assert.equal(cache.stats().size, 0);
  });

  it('enabled: false runs the factory for every concurrent call too (no single flight in a pass-through)', async () => {
    const cache = make({ enabled: false });
    let calls = 0;
    const slow = async (): Promise<number> => {
      const n = ++calls;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return n;
    };
    const values = await Promise.all([cache.getOrSet('k', slow), cache.getOrSet('k', slow), cache.getOrSet('k', slow)]);
    assert.equal(calls, 3, 'each caller ran its own factory');
    assert.deepEqual(values.sort(), [1, 2, 3], 'each caller got its own result');
    let batches = 0;
    const batch = async (keys: readonly string[]): Promise<string[]> => {
      const n = ++batches;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return keys.map((k) => `${k}${n}`);
    };
    const many = await Promise.all([cache.getOrSetMany(['a', 'b'], batch), cache.getOrSetMany(['a', 'b'], batch)]);
    assert.equal(batches, 2, 'each getOrSetMany ran its own batch');
    assert.notDeepEqual(many[0], many[1], 'the two batches were not shared');
    assert.equal(cache.stats().size, 0);
  });

  it('disable() makes a pass-through at run time and keeps what is stored; enable() brings it back', async () => {
    const cache = make();
    const tenant = cache.namespace('t1');
    await cache.set('kept', 'v');
    await cache.set('changed', 'old');
    await tenant.set('x', 1);
    assert.equal(cache.enabled, true);
    cache.disable();
    assert.equal(cache.enabled, false);
    assert.equal(tenant.enabled, false, 'namespace views share the switch');
    assert.equal(await cache.get('kept'), undefined, 'reads miss');
    assert.deepEqual(await cache.getMany(['kept', 'changed']), [undefined, undefined]);
    assert.equal(await cache.has('kept'), false);
    assert.equal(await cache.ttl('kept'), undefined);
    assert.equal(await tenant.get('x'), undefined);
    let calls = 0;
    assert.equal(await cache.getOrSet('kept', () => `run ${++calls}`), 'run 1');
    assert.equal(await cache.getOrSet('kept', () => `run ${++calls}`), 'run 2', 'factories always run');
    assert.deepEqual(await cache.getOrSetMany(['a', 'b'], (keys) => keys.map((k) => `${k}!`)), ['a!', 'b!']);
    await cache.set('changed', 'new'); // not stored, and the old value is no longer true
    assert.equal(await cache.incr('n', 5), 5, 'incr counts nothing');
    assert.equal(await cache.incr('n', 5), 5);
    cache.enable();
    assert.equal(await cache.get('kept'), 'v', 'what was stored before disable() is kept');
    assert.equal(await tenant.get('x'), 1);
    assert.equal(await cache.get('changed'), undefined, 'a set while disabled removed the old value');
    assert.equal(await cache.get('a'), undefined, 'nothing loaded while disabled was stored');
    assert.equal(await cache.has('n'), false);
    cache.disable();
    assert.equal(await cache.delete('kept'), true, 'deletes still apply while disabled');
    cache.enable();
    assert.equal(await cache.get('kept'), undefined);
  });

  it('enabled: false at creation can be switched on later', async () => {
    const cache = make({ enabled: false });
    assert.equal(cache.enabled, false);
    await cache.set('k', 1);
    cache.enable();
    assert.equal(await cache.get('k'), undefined);
    await cache.set('k', 2);
    assert.equal(await cache.get('k'), 2);
  });

  it('rejects a bad enabled or store option', () => {
    assert.throws(() => new Cache({ enabled: 'yes' as unknown as boolean }), { option: 'enabled' });
    assert.throws(() => new Cache({ store: {} as MemoryStore }), { option: 'store' });
    assert.throws(() => new Cache({ defaultTtl: 0 }), { option: 'defaultTtl' });
    assert.throws(() => new Cache({ name: '' }), { option: 'name' });
  });

  it('close stops the store sweep and can be called twice', async () => {
    const cache = make({ store: memoryStore({ ttl: '1m' }) });
    await cache.set('k', 1);
    await cache.close();
    await cache.close();
  });
});
