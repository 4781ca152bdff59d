import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ConfigError, SerializationError } from '../../src/index.js';
import type { RedisStore} from '../../src/redis/index.js';
import { redisStore } from '../../src/redis/index.js';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess, sleep } from '../helpers/guard.js';
import { pollUntil, startRedis } from '../harness/index.js';
import type { RedisProcess } from '../harness/index.js';
import { REAL_TIME, storeConformance } from '../stores/conformance.js';

guardProcess();

let redis: RedisProcess;
let n = 0;
const stores: RedisStore[] = [];
/** A store on its own prefix, so tests never see each other's keys; closed after the file. */
async function fresh(prefix = `t${++n}:`): Promise<RedisStore> {
  const store = redisStore({ url: redis.url, prefix });
  stores.push(store);
  await store.ping();
  return store;
}

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await redis.stop();
});

storeConformance('redisStore', () => fresh(), fakeClock, REAL_TIME);

describe('redisStore: values round-trip through the codec (FAULTS.md I3)', () => {
  it('Date, Map, Set, BigInt, Buffer, Uint8Array, nested undefined, NaN, Infinity, -0', async () => {
    const store = await fresh();
    const value = {
      when: new Date('2026-01-02T03:04:05.678Z'),
      map: new Map<unknown, unknown>([['a', 1], [2, { b: new Set(['x']) }]]),
      big: 12345678901234567890n,
      buf: Buffer.from('héllo'),
      bytes: new Uint8Array([0, 255, 7]),
      missing: undefined,
      list: [1, undefined, null, Number.NaN, Infinity, -Infinity, -0],
      '~tilde': '~',
    };
    await store.set('v', value);
    assert.deepEqual(await store.get('v'), value);
    const back = (await store.get('v')) as typeof value;
    assert.ok(Buffer.isBuffer(back.buf));
    assert.ok(back.when instanceof Date);
    assert.ok(Object.is(back.list[6], -0));
    assert.ok('missing' in back);
  });

  it('I4: functions, symbols, class instances with methods and cycles throw SerializationError with the path and write nothing', async () => {
    const store = await fresh();
    await store.set('k', 'before');
    class Money {
      constructor(readonly cents: number) {}
      format(): string {
        return `${this.cents / 100}`;
      }
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: [unknown, string][] = [
      [{ user: { callback: () => 1 } }, '$.user.callback'],
      [{ s: Symbol('x') }, '$.s'],
      [{ price: new Money(100) }, '$.price'],
      [{ list: [1, cyclic] }, '$.list[1].self'],
    ];
    for (const [value, path] of cases) {
      const started = performance.now();
      await assert.rejects(store.set('k', value), (e: unknown) => e instanceof SerializationError && e.path === path && e.code === 'HOARD_SERIALIZATION');
      assert.ok(performance.now() - started < 10 + 40, 'rejects at once');
    }
    assert.equal(await store.get('k'), 'before');
  });

  it('I2: a value written by another process cannot pollute prototypes', async () => {
    const store = await fresh('pp:');
    await redis.cli('set', 'pp:evil', '\x01\x1e\x1e\x1e{"__proto__":{"polluted":1},"a":{"__proto__":{"x":1}},"ok":2}');
    const value = (await store.get('evil')) as Record<string, unknown>;
    assert.deepEqual(value, { a: {}, ok: 2 });
    assert.equal(Object.hasOwn(value, '__proto__'), false);
    assert.equal(({ ...value } as Record<string, unknown>).polluted, undefined);
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
  });

  it('I5: garbage written directly to Redis reads as a miss with an error, never a throw', async () => {
    const store = await fresh('gb:');
    const errors: Error[] = [];
    store.onError((e) => errors.push(e));
    await redis.cli('set', 'gb:plain', 'garbage');
    await redis.cli('set', 'gb:badjson', '\x01\x1e\x1e\x1e{not json');
    assert.equal(await store.get('plain'), undefined);
    assert.equal(await store.get('badjson'), undefined);
    assert.deepEqual(await store.getMany(['plain', 'badjson']), [undefined, undefined]);
    assert.ok(errors.length >= 2);
    assert.equal(errors[0]?.name, 'DeserializationError');
  });
});

describe('redisStore: Redis behaviour', () => {
  it('writes TTLs in milliseconds (PX) and only under its prefix', async () => {
    const store = await fresh('px:');
    await store.set('k', 1, { ttl: 1234 });
    const pttl = Number(await redis.cli('pttl', 'px:k'));
    assert.ok(pttl > 1200 && pttl <= 1234, `pttl ${pttl}`);
    await store.set('g', 1, { ttl: 1000, grace: 5000 });
    const physical = Number(await redis.cli('pttl', 'px:g'));
    assert.ok(physical > 5900 && physical <= 6000, `ttl + grace kept physically: ${physical}`);
  });

  it('I6: deletePattern uses SCAN (never KEYS), escapes glob characters of keys, leaves other prefixes alone', async () => {
    const store = await fresh('gl*b:');
    const other = await fresh('gl:');
    for (const k of ['user:1', 'user:2', 'user*', 'user[x]', 'post:1']) await store.set(k, k);
    await other.set('user:1', 'other');
    const monitor = await redis.monitor();
    assert.equal(await store.deletePattern('user:*'), 2);
    assert.equal(await store.deletePattern('user\\*'), 1);
    assert.equal(await store.deletePattern('user\\[x\\]'), 1);
    await monitor.stop();
    assert.equal(await store.get('post:1'), 'post:1');
    assert.equal(await other.get('user:1'), 'other');
    const commands = monitor.commands();
    assert.ok(commands.includes('scan'), 'SCAN was used');
    assert.ok(!commands.includes('keys'), 'KEYS was never sent');
  });

  it('clear removes only its prefix, tag sets included', async () => {
    const store = await fresh('cl:');
    const other = await fresh('cl2:');
    await store.set('a', 1, { tags: ['t'] });
    await other.set('a', 2);
    await store.clear();
    assert.equal(await redis.cli('--scan', '--pattern', 'cl:*'), '');
    assert.equal(await other.get('a'), 2);
  });

  it('getMany of 100 keys is one MGET', async () => {
    const store = await fresh('mg:');
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    await store.setMany(keys.map((key, i) => ({ key, value: i })));
    const monitor = await redis.monitor();
    const values = await store.getMany(keys);
    await monitor.stop();
    assert.deepEqual(values, keys.map((_, i) => i));
    assert.deepEqual(monitor.commands().filter((c) => c !== 'ping'), ['mget']);
  });

  it('incr is atomic across clients', async () => {
    const a = await fresh('inc:');
    const b = await fresh('inc:');
    await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).incr('n')));
    assert.equal(await a.get('n'), 200);
    assert.equal(await b.incr('n', 0.5), 200.5);
  });

  it('M5: tags keep nothing per entry; one record per invalidated tag, living as long as the longest tagged entry', async () => {
    const store = await fresh('tg:');
    const inspect = new Redis(redis.url);
    const internal = async (): Promise<string[]> => (await inspect.keys('tg:\u0000*')).sort();
    try {
      for (let i = 0; i < 100; i++) await store.set(`k${i}`, i, { ttl: 300, tags: ['T'] });
      await store.set('long', 1, { ttl: 600, tags: ['T'] });
      assert.deepEqual(await internal(), ['tg:\u0000life'], 'no tag index: only the longest lifetime');
      assert.equal(await inspect.get('tg:\u0000life'), '600');
      // 2,000 tagged entries set and deleted leave nothing behind.
      for (let i = 0; i < 2_000; i++) await store.set(`tmp${i}`, i, { ttl: 300, tags: [`u${i}`] });
      await store.deleteMany(Array.from({ length: 2_000 }, (_, i) => `tmp${i}`));
      assert.deepEqual(await internal(), ['tg:\u0000life']);
      await store.invalidateTags(['T']);
      const ttl = await inspect.pttl('tg:\u0000t:T');
      assert.ok(ttl > 500 && ttl <= 600, `the record of T lives ${ttl} ms: as long as the longest tagged entry`);
      assert.equal(await store.get('long'), undefined);
      await sleep(700);
      assert.equal(await inspect.exists('tg:\u0000t:T'), 0, 'the record expired with the entries it could affect');
      await store.set('forever', 1, { ttl: Infinity, tags: ['P'] });
      assert.equal(await inspect.get('tg:\u0000life'), '0', 'an entry without expiry: records without expiry');
      await store.invalidateTags(['P']);
      assert.equal(await inspect.pttl('tg:\u0000t:P'), -1);
      assert.equal(await store.get('forever'), undefined);
    } finally {
      inspect.disconnect();
    }
  });

  it('invalidateTags: entries carrying a tag read as gone and are removed when read; keys rewritten without the tag survive; the count is a lower bound', async () => {
    const store = await fresh('it:');
    const inspect = new Redis(redis.url);
    try {
      await store.set('a', 1, { tags: ['x', 'y'] });
      await store.set('b', 1, { tags: ['y'] });
      await store.set('c', 1, { tags: ['y'] });
      await store.set('c', 2); // rewritten without tags
      const removed = await store.invalidateTags(['x', 'y']);
      assert.ok(removed >= 0 && removed <= 2, `removed ${removed}`);
      assert.deepEqual(await store.getMany(['a', 'b', 'c']), [undefined, undefined, 2]);
      await pollUntil(async () => (await inspect.exists('it:a', 'it:b')) === 0, { timeoutMs: 2_000, description: 'a and b unlinked once read' });
      // A tagged counter invalidated by its tag starts afresh.
      await store.set('n', 40, { tags: ['z'] });
      assert.equal(await store.incr('n'), 41);
      await store.invalidateTags(['z']);
      assert.equal(await store.incr('n'), 1);
    } finally {
      inspect.disconnect();
    }
  });

  it('a client passed in is never closed and its keyPrefix is refused with a clear error', async () => {
    const client = new Redis(redis.url);
    try {
      const store = redisStore({ client, prefix: 'own:' });
      await store.set('k', 1);
      await store.close();
      assert.equal(await client.ping(), 'PONG');
      const prefixed = new Redis(redis.url, { keyPrefix: 'app:', lazyConnect: true });
      assert.throws(() => redisStore({ client: prefixed }), (e: unknown) => e instanceof ConfigError && /keyPrefix/.test(e.message));
      prefixed.disconnect();
    } finally {
      client.disconnect();
    }
  });

  it('keys starting with NUL are refused (reserved for internal keys)', async () => {
    const store = await fresh();
    await assert.rejects(store.set('\u0000t:x', 1), { code: 'HOARD_INVALID_KEY' });
  });

  it('rejects a bad URL with ConfigError', () => {
    assert.throws(() => redisStore({ url: 'http://localhost' }), ConfigError);
    assert.throws(() => redisStore({ url: 'redis://x', cluster: [{ host: 'x', port: 1 }] }), ConfigError);
  });
});
