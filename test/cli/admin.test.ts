/**
 * The `--admin` target (issue 12): the bin talks to a real service's admin routes over HTTP
 * (`adminRoutes()` on `node:http`), with the bearer token, for a Redis-backed cache (a real
 * redis-server) and a memory-only one the Redis target cannot see.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, it } from 'node:test';
import { adminRoutes } from '../../src/admin/index.js';
import { createCache, memoryStore } from '../../src/index.js';
import type { Cache } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { guardProcess } from '../helpers/guard.js';
import type { RedisProcess } from '../harness/index.js';
import { freshPrefix, json, onCleanup, registerCleanup, runCli, server, show } from './support.js';

registerCleanup();
guardProcess();

const TOKEN = 'cli-test-token-1234';

/** A service: the cache behind admin routes on a real HTTP server; returns the routes' URL. */
async function service(cache: Cache): Promise<string> {
  const routes = adminRoutes({ cache, token: TOKEN, basePath: '/admin/cache', rateLimit: false });
  const httpServer = http.createServer((req, res) => routes(req, res));
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  onCleanup(async () => {
    routes.close();
    httpServer.closeAllConnections();
    await new Promise((resolve) => httpServer.close(resolve));
  });
  return `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/admin/cache`;
}

let redis: RedisProcess;
let cache: Cache;
let url: string;
const prefix = freshPrefix('admin');
const admin = (...args: string[]): string[] => ['--admin', url, '--token', TOKEN, ...args];

before(async () => {
  redis = await server();
  cache = createCache({ store: redisStore({ url: redis.url }), namespace: prefix }, {});
  onCleanup(() => cache.close());
  await cache.ready();
  url = await service(cache);
  await cache.set('user:1', { name: 'Ada' }, { ttl: '5m', tags: ['users'] });
  await cache.set('user:2', 'Bob', { ttl: Infinity });
  await cache.set('report:1', 1);
  await cache.set('report:2', 2);
});

describe('the admin target', () => {
  it('stats: the service\'s CacheStats and Redis\' figures', async () => {
    await cache.get('user:1');
    await cache.get('missing');
    const r = await runCli(admin('--json', 'stats'));
    assert.equal(r.code, 0, show(r));
    const report = json<{ cache: { name: string; hits: number; misses: number; l2?: { state: string }; redis?: { maxmemoryPolicy: string } } }>(r);
    assert.ok(report.cache.hits >= 1 && report.cache.misses >= 1, `the service's own counters: ${r.stdout}`);
    assert.equal(report.cache.l2?.state, 'up');
    assert.equal(report.cache.redis?.maxmemoryPolicy, 'noeviction');
    const human = await runCli(admin('stats'));
    assert.equal(human.code, 0, show(human));
    assert.match(human.stdout, /Cache "default"/, show(human));
    assert.match(human.stdout, /hit rate/, show(human));
  });

  it('get, ttl and keys', async () => {
    const got = await runCli(admin('--json', 'get', 'user:1'));
    assert.equal(got.code, 0, show(got));
    const report = json<{ present: boolean; tags: string[]; value: unknown; ttl: number }>(got);
    assert.deepEqual(report.value, { name: 'Ada' });
    assert.deepEqual(report.tags, ['users']);
    const human = await runCli(admin('get', 'user:1'));
    assert.match(human.stdout, /tags\s+users/, show(human));
    assert.ok(report.ttl > 200_000 && report.ttl <= 300_000, `ttl ${report.ttl}`);
    assert.deepEqual(json(await runCli(admin('--json', 'ttl', 'user:2'))), { key: 'user:2', present: true, ttl: null });
    assert.deepEqual(json(await runCli(admin('--json', 'ttl', 'nope'))), { key: 'nope', present: false });
    const keys = await runCli(admin('keys', 'user:*'));
    assert.equal(keys.code, 0, show(keys));
    assert.deepEqual(keys.stdout.trim().split('\n').sort(), ['user:1', 'user:2']);
  });

  it('del and invalidate reach the service\'s cache', async () => {
    const del = await runCli(admin('--json', 'del', 'user:2'));
    assert.deepEqual(json(del), { deleted: 1 }, show(del));
    const dry = await runCli(admin('--json', 'invalidate', '--pattern', 'report:*', '--dry-run'));
    assert.deepEqual(json(dry), { removed: 2, dryRun: true }, show(dry));
    const inv = await runCli(admin('--json', 'invalidate', '--pattern', 'report:*', '--tag', 'users'));
    assert.equal(inv.code, 0, show(inv));
    assert.equal(json<{ removed: number }>(inv).removed, 2);
    assert.equal(await cache.get('user:1'), undefined, 'the tagged entry is gone');
    assert.equal(await cache.get('report:1'), undefined);
  });

  it('clear needs --yes, then clears', async () => {
    await cache.set('x', 1);
    const refused = await runCli(admin('clear'));
    assert.equal(refused.code, 2, show(refused));
    assert.match(refused.stderr, /the cache "default" of the service/, show(refused));
    assert.equal(await cache.get('x'), 1, 'nothing cleared');
    const done = await runCli(admin('clear', '--yes'));
    assert.equal(done.code, 0, show(done));
    assert.equal(await cache.get('x'), undefined);
  });

  it('sees a memory-only cache, which no Redis target can', async () => {
    const memory = createCache({ store: memoryStore(), name: 'sessions' }, {});
    onCleanup(() => memory.close());
    await memory.set('s:1', { user: 7 });
    const memoryUrl = await service(memory);
    const r = await runCli(['--admin', memoryUrl, '--json', 'get', 's:1'], { env: { HOARD_ADMIN_TOKEN: TOKEN } });
    assert.equal(r.code, 0, show(r));
    const report = json<{ tiers: { l1?: unknown; l2?: unknown }; value: unknown }>(r);
    assert.deepEqual(report.value, { user: 7 });
    assert.ok(report.tiers.l1 !== undefined && report.tiers.l2 === undefined, 'held in memory only');
  });

  it('a wrong token exits 1, a missing one 2; Redis-only commands refuse the admin target with 2', async () => {
    const wrong = await runCli(['--admin', url, '--token', 'wrong-token', 'stats']);
    assert.equal(wrong.code, 1, show(wrong));
    assert.match(wrong.stderr, /refused the token \(401\)/, show(wrong));
    const missing = await runCli(['--admin', url, 'stats']);
    assert.equal(missing.code, 2, show(missing));
    assert.match(missing.stderr, /HOARD_ADMIN_TOKEN/, show(missing));
    for (const command of [['warm', 'x.mjs'], ['bench']]) {
      const r = await runCli(admin(...command));
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, /needs a Redis target/, show(r));
    }
    const down = await runCli(['--admin', 'http://127.0.0.1:1/admin', '--token', TOKEN, 'stats']);
    assert.equal(down.code, 1, show(down));
  });

  it('doctor through the admin routes reads the service\'s view of Redis', async () => {
    const r = await runCli(admin('--json', 'doctor'));
    const report = json<{ ok: boolean; checks: { name: string; status: string }[] }>(r);
    assert.equal(r.code, 1, show(r));
    assert.equal(report.checks.find((c) => c.name === 'redis tier')?.status, 'pass');
    assert.equal(report.checks.find((c) => c.name === 'maxmemory-policy')?.status, 'fail', 'noeviction fails');
  });
});
