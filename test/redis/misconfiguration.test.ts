/**
 * Misconfiguration is loud (issue 7, point 3): a wrong password warns once when nobody listens for
 * `error` and `stats()` says why Redis is unavailable; `redisStore({ host, port })` connects where
 * it says, and an unknown option is a ConfigError instead of a silent connection to localhost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, createCache } from '../../src/index.js';
import { redisBus, redisStore } from '../../src/redis/index.js';
import { guardProcess } from '../helpers/guard.js';
import { pollUntil } from '../harness/index.js';
import { directStore, freshPrefix, registerCleanup, server } from './faults-support.js';

registerCleanup();
guardProcess();

describe('misconfiguration is loud', () => {
  it('a wrong password: one process warning when nobody listens for error, and stats().l2Error says why', async () => {
    const redis = await server({ password: 'secret' });
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      if ((warning as { code?: string }).code === 'HOARD_UNHANDLED_ERROR') warnings.push(warning);
    };
    process.on('warning', onWarning);
    const cache = createCache({ store: redisStore({ host: '127.0.0.1', port: redis.port, password: 'wrong' }), namespace: freshPrefix('pw') }, {});
    try {
      await cache.set('k', 1);
      await pollUntil(() => cache.stats().l2Available === false, { timeoutMs: 3_000, description: 'l2Available false' });
      await cache.set('j', 2);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(warnings.length, 1, 'warned once');
      assert.match(warnings[0]!.message, /WRONGPASS|NOAUTH|invalid/i);
      assert.match(cache.stats().l2Error ?? '', /WRONGPASS|NOAUTH|invalid/i);
    } finally {
      process.off('warning', onWarning);
      await cache.close();
    }
  });

  it('redisStore({ host, port, password }) connects where it says', async () => {
    const redis = await server({ password: 'pw' });
    const prefix = freshPrefix('hp');
    const cache = createCache({ store: redisStore({ host: '127.0.0.1', port: redis.port, password: 'pw', db: 2 }), namespace: prefix }, {});
    try {
      await cache.ready();
      await cache.set('k', 'here');
      assert.equal(await redis.cli('-n', '2', 'EXISTS', `${prefix}k`), '1', 'written to db 2 of that server');
      const other = await directStore(`redis://:pw@127.0.0.1:${redis.port}/2`, prefix);
      assert.equal(await other.get('k'), 'here');
    } finally {
      await cache.close();
    }
  });

  it('unknown or bad connection options are a ConfigError naming them, never a silent connection to localhost', () => {
    assert.throws(() => redisStore({ hots: 'redis.internal' } as never), (e: unknown) => e instanceof ConfigError && e.option === 'hots');
    assert.throws(() => redisBus({ prot: 6380 } as never), (e: unknown) => e instanceof ConfigError && e.option === 'prot');
    assert.throws(() => redisStore({ port: 'abc' as unknown as number }), (e: unknown) => e instanceof ConfigError && e.option === 'port');
    assert.throws(() => redisStore({ url: 'redis://localhost:6379', host: 'x' }), (e: unknown) => e instanceof ConfigError && e.option === 'url');
    assert.throws(() => redisStore({ db: -1 }), (e: unknown) => e instanceof ConfigError && e.option === 'db');
  });
});
