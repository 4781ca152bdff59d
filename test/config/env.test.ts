import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { Cache, cache as defaultCache, ConfigError, createCache, readEnv, registerBackend } from '../../src/index.js';
import type { CacheOptions, EnvConfig } from '../../src/index.js';
import { CACHE_DEFAULTS } from '../../src/cache/core.js';
import { resetDefaultCache } from '../../src/cache/default-cache.js';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

// Whether importing hoard already built the default cache (it must not: it reads the environment
// at first use).
const builtAtImport = Symbol.for('hoard.defaultCache') in globalThis;

type Env = Record<string, string | undefined>;

/** Asserts that `fn` throws a ConfigError naming `option` whose message matches `accepted`. */
function throwsConfig(fn: () => unknown, option: string, accepted: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.option, option);
    assert.equal(error.code, 'HOARD_CONFIG');
    assert.match(error.message, new RegExp(`^${option}: `));
    assert.match(error.message, accepted);
    return true;
  });
}

/** Whether the cache keeps what is written to it. */
async function stores(cache: Cache): Promise<boolean> {
  await cache.set('probe', 1);
  return (await cache.get('probe')) === 1;
}

/** The cache of `env` on a fake clock. */
function cacheOf(env: Env, options: CacheOptions = {}): { cache: Cache; clock: ReturnType<typeof fakeClock> } {
  const clock = fakeClock();
  return { cache: createCache({ clock, ...options }, env), clock };
}

/** Seconds until a fresh entry of `cache` expires, found by moving the clock (undefined: never). */
async function expiresAfter(env: Env): Promise<number | undefined> {
  const { cache, clock } = cacheOf(env);
  await cache.set('k', 'v');
  const ttl = await cache.ttl('k');
  if (ttl === Infinity) {
    clock.advance(10 * 365 * 86_400_000);
    assert.equal(await cache.get('k'), 'v', 'an entry without expiry is still there after 10 years');
    return undefined;
  }
  assert.ok(ttl !== undefined);
  clock.advance(ttl - 1);
  assert.equal(await cache.get('k'), 'v', 'still there 1 ms before its ttl');
  clock.advance(1);
  assert.equal(await cache.get('k'), undefined, 'gone at its ttl');
  return ttl / 1000;
}

describe('environment: defaults', () => {
  it('readEnv of an empty environment leaves everything unset', () => {
    assert.deepEqual(readEnv({}), {
      enabled: undefined,
      backend: undefined,
      maxEntries: undefined,
      maxBytes: undefined,
      ttl: undefined,
      keyPrefix: undefined,
      l2TimeoutMs: undefined,
      bus: undefined,
      redisUrl: undefined,
      clusterNodes: undefined,
    } satisfies EnvConfig);
  });

  it('with nothing set: an enabled in-memory cache', async () => {
    const { cache } = cacheOf({});
    assert.equal(await stores(cache), true);
    assert.equal(cache.stats().size, 1);
    assert.equal(cache.stats().l2Available, undefined);
  });

  it('with nothing set: 10,000 entries at most', async () => {
    const { cache } = cacheOf({});
    for (let i = 0; i < 10_001; i++) await cache.set(`k${i}`, i);
    assert.equal(cache.stats().size, 10_000);
    assert.equal(cache.stats().evictions, 1);
    assert.equal(await cache.has('k0'), false);
    assert.equal(await cache.has('k10000'), true);
  });

  it('with nothing set: a 300 s TTL', async () => {
    assert.equal(await expiresAfter({}), 300);
  });

  it('with nothing set: the hoard: key prefix', () => {
    assert.equal(CACHE_DEFAULTS.namespace, 'hoard:');
    assert.equal(readEnv({}).keyPrefix, undefined);
  });

  it('with nothing set: no byte bound', async () => {
    const { cache } = cacheOf({});
    await cache.set('big', 'x'.repeat(1 << 20));
    assert.equal(cache.stats().bytes, undefined);
    assert.equal(await cache.has('big'), true);
  });
});

describe('environment: CACHE_ENABLED', () => {
  it('false: a pass-through (getOrSet always runs the factory, get always misses)', async () => {
    const { cache } = cacheOf({ CACHE_ENABLED: 'false' });
    let runs = 0;
    for (let i = 0; i < 3; i++) assert.equal(await cache.getOrSet('k', () => ++runs), i + 1);
    assert.equal(runs, 3);
    await cache.set('k', 'v');
    assert.equal(await cache.get('k'), undefined);
    assert.equal(await cache.has('k'), false);
    assert.equal(cache.stats().size, 0);
    assert.equal(cache.stats().misses, 4);
  });

  it('true: a normal cache', async () => {
    const { cache } = cacheOf({ CACHE_ENABLED: 'true' });
    let runs = 0;
    await cache.getOrSet('k', () => ++runs);
    await cache.getOrSet('k', () => ++runs);
    assert.equal(runs, 1);
  });

  it('accepts true/false/1/0/yes/no/on/off in any case', async () => {
    for (const [text, enabled] of [
      ['true', true],
      ['TRUE', true],
      ['True', true],
      ['1', true],
      ['yes', true],
      ['YES', true],
      ['on', true],
      ['On', true],
      ['false', false],
      ['FALSE', false],
      ['0', false],
      ['no', false],
      ['No', false],
      ['off', false],
      ['OFF', false],
      [' off ', false],
    ] as const) {
      assert.equal(readEnv({ CACHE_ENABLED: text }).enabled, enabled, text);
      assert.equal(readEnv({ CACHE_BUS: text }).bus, enabled, `CACHE_BUS=${text}`);
      assert.equal(await stores(createCache({}, { CACHE_ENABLED: text })), enabled, `cache with CACHE_ENABLED=${text}`);
    }
  });

  it('an empty value counts as unset', async () => {
    assert.equal(readEnv({ CACHE_ENABLED: '' }).enabled, undefined);
    assert.equal(readEnv({ CACHE_ENABLED: '   ' }).enabled, undefined);
    assert.equal(await stores(createCache({}, { CACHE_ENABLED: '' })), true);
  });

  it('anything else is a ConfigError naming CACHE_ENABLED and listing the accepted values', () => {
    for (const bad of ['maybe', 'enabled', '2', 'y', 'truee']) {
      throwsConfig(() => readEnv({ CACHE_ENABLED: bad }), 'CACHE_ENABLED', /true\/false, 1\/0, yes\/no or on\/off/);
      throwsConfig(() => createCache({}, { CACHE_ENABLED: bad }), 'CACHE_ENABLED', /true\/false/);
    }
    throwsConfig(() => createCache({}, { CACHE_BUS: 'sometimes' }), 'CACHE_BUS', /true\/false/);
  });

  it('`enabled` in code wins over CACHE_ENABLED', async () => {
    assert.equal(await stores(createCache({ enabled: true }, { CACHE_ENABLED: 'false' })), true);
    assert.equal(await stores(createCache({ enabled: false }, { CACHE_ENABLED: 'true' })), false);
  });
});

describe('environment: CACHE_BACKEND', () => {
  it('memory and its alias simple store entries', async () => {
    for (const value of ['memory', 'simple', 'MEMORY', 'Simple']) {
      assert.equal(readEnv({ CACHE_BACKEND: value }).backend, 'memory');
      assert.equal(await stores(createCache({}, { CACHE_BACKEND: value })), true, value);
    }
  });

  it('none and its alias null store nothing and always run factories', async () => {
    for (const value of ['none', 'null', 'NONE', 'Null']) {
      assert.equal(readEnv({ CACHE_BACKEND: value }).backend, 'none');
      const cache = createCache({}, { CACHE_BACKEND: value });
      assert.equal(await stores(cache), false, value);
      let runs = 0;
      await cache.getOrSet('k', () => ++runs);
      await cache.getOrSet('k', () => ++runs);
      assert.equal(runs, 2);
      assert.equal(cache.stats().size, 0);
    }
  });

  it('CACHE_TYPE is an alias', async () => {
    assert.equal(readEnv({ CACHE_TYPE: 'null' }).backend, 'none');
    assert.equal(await stores(createCache({}, { CACHE_TYPE: 'none' })), false);
    assert.equal(await stores(createCache({}, { CACHE_TYPE: 'simple' })), true);
  });

  it('the canonical CACHE_BACKEND wins over CACHE_TYPE', async () => {
    assert.equal(readEnv({ CACHE_BACKEND: 'memory', CACHE_TYPE: 'none' }).backend, 'memory');
    assert.equal(await stores(createCache({}, { CACHE_BACKEND: 'memory', CACHE_TYPE: 'none' })), true);
    assert.equal(await stores(createCache({}, { CACHE_BACKEND: 'none', CACHE_TYPE: 'memory' })), false);
  });

  it('an empty CACHE_BACKEND counts as unset, so CACHE_TYPE applies', async () => {
    assert.equal(readEnv({ CACHE_BACKEND: '', CACHE_TYPE: 'none' }).backend, 'none');
    assert.equal(await stores(createCache({}, { CACHE_BACKEND: '' })), true);
  });

  it('an unknown backend is a ConfigError naming the variable and listing the backends', () => {
    throwsConfig(() => createCache({}, { CACHE_BACKEND: 'mongo' }), 'CACHE_BACKEND', /memory, redis, tiered, none/);
    throwsConfig(() => createCache({}, { CACHE_TYPE: 'mongo' }), 'CACHE_TYPE', /memory, redis, tiered, none/);
    // inherited Object properties are not backends
    throwsConfig(() => readEnv({ CACHE_BACKEND: 'constructor' }), 'CACHE_BACKEND', /memory, redis, tiered, none/);
    throwsConfig(() => readEnv({ CACHE_BACKEND: '__proto__' }), 'CACHE_BACKEND', /memory, redis, tiered, none/);
  });

  it('a bad alias is reported even when the canonical variable wins (every CACHE_* that is set is validated)', () => {
    throwsConfig(() => createCache({}, { CACHE_BACKEND: 'memory', CACHE_TYPE: 'mongo' }), 'CACHE_TYPE', /memory, redis, tiered, none/);
  });

  it('redis works from the core alone: created at once, without throwing, with Redis unreachable (tiered: test/package)', async () => {
    // Nothing listens on port 1: the connection is refused, the cache serves from memory.
    for (const env of [
      { CACHE_BACKEND: 'redis', REDIS_URL: 'redis://127.0.0.1:1' },
      { CACHE_TYPE: 'redis', REDIS_HOST: '127.0.0.1', REDIS_PORT: '1' },
      { CACHE_BACKEND: '', CACHE_TYPE: 'redis', CACHE_REDIS_URL: 'redis://127.0.0.1:1' },
    ]) {
      const cache = createCache({}, env);
      cache.on('error', () => {});
      try {
        await cache.set('k', 1);
        assert.equal(await cache.get('k'), 1, `${JSON.stringify(env)}: served from memory`);
        await cache.ready();
        assert.equal(cache.stats().l2Available, false, `${JSON.stringify(env)}: Redis reported unavailable`);
      } finally {
        await cache.close();
      }
    }
  });

  it('a bad REDIS_PORT or REDIS_URL is a ConfigError naming it, thrown by createCache()', () => {
    throwsConfig(() => createCache({}, { CACHE_BACKEND: 'redis', REDIS_PORT: 'tcp://10.0.0.1:6379' }), 'REDIS_PORT', /port number/);
    throwsConfig(() => createCache({}, { CACHE_BACKEND: 'redis', REDIS_URL: 'http://x' }), 'REDIS_URL', /redis:\/\//);
    // Not read unless a Redis backend uses it.
    assert.doesNotThrow(() => createCache({}, { REDIS_PORT: 'tcp://10.0.0.1:6379' }));
  });

  it('a cache given a `store` ignores CACHE_BACKEND', async () => {
    const { memoryStore } = await import('../../src/index.js');
    assert.equal(await stores(createCache({ store: memoryStore() }, { CACHE_BACKEND: 'redis' })), true);
    assert.equal(await stores(createCache({ store: memoryStore() }, { CACHE_BACKEND: 'none' })), true);
  });
});

describe('environment: sizes', () => {
  it('CACHE_MAXSIZE bounds the store', async () => {
    const { cache } = cacheOf({ CACHE_MAXSIZE: '3' });
    for (const key of ['a', 'b', 'c', 'd', 'e']) await cache.set(key, key);
    assert.equal(cache.stats().size, 3);
    assert.equal(cache.stats().evictions, 2);
    assert.deepEqual(await cache.getMany(['a', 'b', 'c', 'd', 'e']), [undefined, undefined, 'c', 'd', 'e']);
  });

  it('CACHE_MAXSIZE must be a whole number >= 1', () => {
    for (const bad of ['lots', '0', '-1', '1.5', '1e3', '10k', '99999999999999999999']) {
      throwsConfig(() => createCache({}, { CACHE_MAXSIZE: bad }), 'CACHE_MAXSIZE', /whole number >= 1/);
    }
    assert.equal(readEnv({ CACHE_MAXSIZE: ' 42 ' }).maxEntries, 42);
    assert.equal(readEnv({ CACHE_MAXSIZE: '' }).maxEntries, undefined);
  });

  it('CACHE_MAX_BYTES bounds the bytes held', async () => {
    const { cache } = cacheOf({ CACHE_MAX_BYTES: '10000' });
    for (let i = 0; i < 20; i++) await cache.set(`k${i}`, 'x'.repeat(1000));
    const stats = cache.stats();
    assert.ok(stats.bytes !== undefined && stats.bytes > 0 && stats.bytes <= 10_000, `bytes ${String(stats.bytes)}`);
    assert.ok(stats.size < 20 && stats.size > 0, `size ${stats.size}`);
    assert.ok(stats.evictions > 0);
    assert.equal(await cache.has('k19'), true);
    assert.equal(await cache.has('k0'), false);
  });

  it('CACHE_MAX_BYTES must be a whole number >= 1', () => {
    for (const bad of ['64MB', '0', '-5', '1.5']) {
      throwsConfig(() => createCache({}, { CACHE_MAX_BYTES: bad }), 'CACHE_MAX_BYTES', /whole number >= 1/);
    }
  });
});

describe('environment: TTL', () => {
  it('CACHE_TTL_SECONDS sets the default TTL in seconds', async () => {
    assert.equal(await expiresAfter({ CACHE_TTL_SECONDS: '10' }), 10);
    assert.equal(await expiresAfter({ CACHE_TTL_SECONDS: '2.5' }), 2.5);
    assert.equal(readEnv({ CACHE_TTL_SECONDS: '0.001' }).ttl, 1);
    assert.equal(readEnv({ CACHE_TTL_SECONDS: '2.007' }).ttl, 2007);
  });

  it('CACHE_DEFAULT_TIMEOUT and CACHE_DEFAULT_TTL are aliases in seconds', async () => {
    assert.equal(await expiresAfter({ CACHE_DEFAULT_TIMEOUT: '60' }), 60);
    assert.equal(await expiresAfter({ CACHE_DEFAULT_TTL: '45' }), 45);
  });

  it('CACHE_DEFAULT_TIMEOUT=0 and CACHE_DEFAULT_TTL=0 mean never expires', async () => {
    assert.equal(readEnv({ CACHE_DEFAULT_TIMEOUT: '0' }).ttl, Infinity);
    assert.equal(await expiresAfter({ CACHE_DEFAULT_TIMEOUT: '0' }), undefined);
    assert.equal(await expiresAfter({ CACHE_DEFAULT_TTL: '0' }), undefined);
  });

  it('CACHE_TTL_SECONDS=0 is a ConfigError (only the Flask-Caching aliases take 0 for never)', () => {
    throwsConfig(() => createCache({}, { CACHE_TTL_SECONDS: '0' }), 'CACHE_TTL_SECONDS', /seconds > 0/);
  });

  it('the canonical CACHE_TTL_SECONDS wins over its aliases', async () => {
    assert.equal(await expiresAfter({ CACHE_TTL_SECONDS: '7', CACHE_DEFAULT_TIMEOUT: '0', CACHE_DEFAULT_TTL: '9' }), 7);
    assert.equal(await expiresAfter({ CACHE_DEFAULT_TIMEOUT: '8', CACHE_DEFAULT_TTL: '9' }), 8);
    assert.equal(await expiresAfter({ CACHE_TTL_SECONDS: '', CACHE_DEFAULT_TTL: '9' }), 9);
  });

  it('bad TTLs are ConfigErrors naming the variable', () => {
    for (const bad of ['-5', 'five', '5s', '1e3', 'Infinity']) {
      throwsConfig(() => createCache({}, { CACHE_TTL_SECONDS: bad }), 'CACHE_TTL_SECONDS', /number of seconds > 0/);
      throwsConfig(() => createCache({}, { CACHE_DEFAULT_TIMEOUT: bad }), 'CACHE_DEFAULT_TIMEOUT', /number of seconds >= 0/);
    }
    // A bad alias is reported even when the canonical variable is set.
    throwsConfig(() => createCache({}, { CACHE_TTL_SECONDS: '60', CACHE_DEFAULT_TTL: 'soon' }), 'CACHE_DEFAULT_TTL', /seconds/);
  });

  it('`defaultTtl` in code wins over the environment', async () => {
    const { cache, clock } = cacheOf({ CACHE_TTL_SECONDS: '10' }, { defaultTtl: '1m' });
    await cache.set('k', 1);
    clock.advance(59_999);
    assert.equal(await cache.get('k'), 1);
    clock.advance(1);
    assert.equal(await cache.get('k'), undefined);
  });
});

describe('environment: key prefix', () => {
  // A memory cache keeps keys without its prefix, so a stand-in backend shows what createCache
  // passes on. (`tiered` stays unregistered in the core, `redis` is checked above.)
  const seen: CacheOptions[] = [];
  registerBackend('tiered', (options) => {
    seen.push(options);
    return new Cache({ ...options, store: undefined });
  });
  after(() => {
    (globalThis as { [key: symbol]: Map<string, unknown> | undefined })[Symbol.for('hoard.backends')]?.delete('tiered');
  });

  it('CACHE_KEY_PREFIX and its alias CACHE_NAMESPACE set the prefix; the canonical name wins', () => {
    assert.equal(readEnv({ CACHE_KEY_PREFIX: 'app:' }).keyPrefix, 'app:');
    assert.equal(readEnv({ CACHE_NAMESPACE: 'ns:' }).keyPrefix, 'ns:');
    assert.equal(readEnv({ CACHE_KEY_PREFIX: 'app:', CACHE_NAMESPACE: 'ns:' }).keyPrefix, 'app:');
    assert.equal(readEnv({ CACHE_KEY_PREFIX: '', CACHE_NAMESPACE: 'ns:' }).keyPrefix, 'ns:');
  });

  it('createCache passes the prefix of the environment on as `namespace`, and `namespace` in code wins', () => {
    seen.length = 0;
    createCache({}, { CACHE_BACKEND: 'tiered', CACHE_KEY_PREFIX: 'app:' });
    createCache({}, { CACHE_BACKEND: 'tiered', CACHE_NAMESPACE: 'ns:' });
    createCache({ namespace: 'code:' }, { CACHE_BACKEND: 'tiered', CACHE_KEY_PREFIX: 'app:' });
    createCache({}, { CACHE_BACKEND: 'tiered' });
    assert.deepEqual(
      seen.map((o) => o.namespace),
      ['app:', 'ns:', 'code:', undefined],
    );
  });
});

describe('environment: Redis variables', () => {
  it('CACHE_REDIS_URL must be a redis:// or rediss:// URL, even for the memory backend', () => {
    throwsConfig(() => createCache({}, { CACHE_REDIS_URL: 'http://x' }), 'CACHE_REDIS_URL', /redis:\/\/ or rediss:\/\//);
    throwsConfig(() => createCache({}, { CACHE_REDIS_URL: 'not a url' }), 'CACHE_REDIS_URL', /redis:\/\/ or rediss:\/\//);
    assert.equal(readEnv({ CACHE_REDIS_URL: 'redis://localhost:6379/2' }).redisUrl, 'redis://localhost:6379/2');
    assert.equal(readEnv({ CACHE_REDIS_URL: 'rediss://user:pw@cache.example:6380' }).redisUrl, 'rediss://user:pw@cache.example:6380');
  });

  it('CACHE_REDIS_CLUSTER_NODES must be host:port,host:port', () => {
    for (const bad of ['nope', 'a:1,b', 'a:0', 'a:70000', 'a:1,,b:2']) {
      throwsConfig(() => createCache({}, { CACHE_REDIS_CLUSTER_NODES: bad }), 'CACHE_REDIS_CLUSTER_NODES', /host:port,host:port/);
    }
    assert.deepEqual(readEnv({ CACHE_REDIS_CLUSTER_NODES: 'a:7000, b.example:7001,[::1]:7002' }).clusterNodes, [
      { host: 'a', port: 7000 },
      { host: 'b.example', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
  });

  it('CACHE_L2_TIMEOUT_MS must be a number > 0', () => {
    for (const bad of ['0', '-1', 'fast', '50ms']) {
      throwsConfig(() => createCache({}, { CACHE_L2_TIMEOUT_MS: bad }), 'CACHE_L2_TIMEOUT_MS', /number > 0/);
    }
    assert.equal(readEnv({ CACHE_L2_TIMEOUT_MS: '75' }).l2TimeoutMs, 75);
    assert.equal(readEnv({ CACHE_L2_TIMEOUT_MS: '2.5' }).l2TimeoutMs, 2.5);
  });

  it('REDIS_* variables are not validated for the memory backend', async () => {
    const env = { REDIS_PORT: 'tcp://10.0.0.1:6379', REDIS_HOST: '', REDIS_DB: 'x', REDIS_URL: 'http://nope' };
    assert.doesNotThrow(() => readEnv(env));
    assert.equal(await stores(createCache({}, env)), true);
  });
});

describe('environment: the default cache', () => {
  const saved = { ...process.env };
  const restore = async (): Promise<void> => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
    await resetDefaultCache();
  };
  afterEach(restore);

  it('reads the environment at first use, not at import', async () => {
    assert.equal(builtAtImport, false, 'importing hoard built the default cache');
    // hoard was imported above, before this variable existed; nothing used the default cache yet.
    process.env.CACHE_MAXSIZE = '2';
    for (const key of ['a', 'b', 'c']) await defaultCache.set(key, key);
    assert.equal(defaultCache.stats().size, 2);
    assert.equal(await defaultCache.has('a'), false);
  });

  it('reads CACHE_ENABLED at first use', async () => {
    await resetDefaultCache();
    process.env.CACHE_ENABLED = 'off';
    let runs = 0;
    await defaultCache.getOrSet('k', () => ++runs);
    await defaultCache.getOrSet('k', () => ++runs);
    assert.equal(runs, 2);
  });

  it('keeps the environment it was built with until reset', async () => {
    await resetDefaultCache();
    process.env.CACHE_MAXSIZE = '1';
    await defaultCache.set('a', 1);
    process.env.CACHE_MAXSIZE = '100';
    await defaultCache.set('b', 2);
    assert.equal(defaultCache.stats().size, 1);
    await resetDefaultCache();
    await defaultCache.set('a', 1);
    await defaultCache.set('b', 2);
    assert.equal(defaultCache.stats().size, 2);
  });

  it('a bad variable throws a ConfigError at first use', async () => {
    await resetDefaultCache();
    process.env.CACHE_BACKEND = 'mongo';
    throwsConfig(() => defaultCache.stats(), 'CACHE_BACKEND', /memory, redis, tiered, none/);
  });
});
