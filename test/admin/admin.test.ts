import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { adminRoutes, CONTENT_SECURITY_POLICY, fastifyAdminRoutes, honoAdminRoutes } from '../../src/admin/index.js';
import type { AdminAuditEvent, AdminRoutesOptions } from '../../src/admin/index.js';
import { ConfigError } from '../../src/index.js';
import { monitor } from '../../src/metrics/index.js';
import { guardProcess } from '../helpers/guard.js';
import { memoryCache, onCleanup, registerCleanup } from '../metrics/support.js';
import { ADAPTERS, mount, readSnapshots } from './support.js';
import type { Adapter, Mounted } from './support.js';

registerCleanup();
guardProcess();

const TOKEN = 'test-admin-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };

async function mounted(adapter: Adapter, options: Omit<AdminRoutesOptions, 'token'> & { token?: AdminRoutesOptions['token'] }): Promise<Mounted> {
  const m = await mount(adapter, { token: TOKEN, ...options });
  onCleanup(() => m.close());
  return m;
}

async function call(base: string, path: string, init: RequestInit & { auth?: boolean } = {}): Promise<{ status: number; headers: Headers; body: Record<string, unknown> & { error?: string } }> {
  const { auth = true, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (auth) headers.set('authorization', AUTH.authorization);
  if (typeof rest.body === 'string' && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const res = await fetch(base + path, { ...rest, headers });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body };
}

const post = (body: unknown): RequestInit => ({ method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });

for (const adapter of ADAPTERS) {
  describe(`admin routes on ${adapter}`, () => {
    it('refuses requests without the bearer token, with a wrong one, and with a token in the URL', async () => {
      const cache = memoryCache();
      const { base } = await mounted(adapter, { cache });
      const none = await call(base, '/stats', { auth: false });
      assert.equal(none.status, 401, 'no token: 401');
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/, 'WWW-Authenticate: Bearer');
      assert.equal(none.headers.get('cache-control'), 'no-store', 'no-store on a 401');
      const wrong = await call(base, '/stats', { auth: false, headers: { authorization: `Bearer ${TOKEN}x` } });
      assert.equal(wrong.status, 401, 'wrong token: 401');
      const basic = await call(base, '/stats', { auth: false, headers: { authorization: `Basic ${TOKEN}` } });
      assert.equal(basic.status, 401, 'not a bearer token: 401');
      const inUrl = await call(base, `/stats?token=${TOKEN}`);
      assert.equal(inUrl.status, 400, 'a token in the query string is refused even with the header');
      assert.match(inUrl.body.error ?? '', /Authorization: Bearer/, 'says where the token goes');
      const access = await call(base, `/stats?access_token=${TOKEN}`, { auth: false });
      assert.equal(access.status, 400, 'access_token in the URL refused too');
    });

    it('answers GET /stats with the CacheStats, no-store and a strict CSP', async () => {
      const cache = memoryCache({ name: `stats-${adapter}` });
      await cache.set('user:1', 1);
      await cache.set('user:2', 2);
      await cache.set('order:1', 3);
      await cache.get('user:1');
      await cache.get('nope');
      const { base } = await mounted(adapter, { cache });
      const r = await call(base, '/stats');
      assert.equal(r.status, 200, 'ok');
      assert.equal(r.headers.get('cache-control'), 'no-store', 'no-store');
      assert.equal(r.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY, 'CSP');
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/, 'JSON');
      const s = r.body as Record<string, unknown>;
      for (const field of ['hits', 'misses', 'hitRate', 'sets', 'deletes', 'evictions', 'expirations', 'errors', 'size', 'latency']) assert.ok(field in s, `${field} present`);
      assert.deepEqual([s.name, s.hits, s.misses, s.size], [`stats-${adapter}`, 1, 1, 3], 'figures of the cache');
      assert.deepEqual(s.namespaces, [{ prefix: 'user:', entries: 2 }, { prefix: 'order:', entries: 1 }], 'entries by key prefix');
      assert.equal(s.redis, undefined, 'no Redis figures for a memory cache');
    });

    it('POST /invalidate removes by key, tag and pattern and answers { removed }; dryRun removes nothing', async () => {
      const cache = memoryCache();
      await cache.setMany([
        { key: 'a:1', value: 1, tags: ['red'] },
        { key: 'a:2', value: 2, tags: ['red', 'blue'] },
        { key: 'b:1', value: 3, tags: ['blue'] },
        { key: 'b:2', value: 4 },
        { key: 'c:1', value: 5 },
      ]);
      const { base } = await mounted(adapter, { cache });
      assert.deepEqual((await call(base, '/invalidate', post({ tags: ['red'], dryRun: true }))).body, { removed: 2, dryRun: true }, 'dry run by tag');
      assert.deepEqual((await call(base, '/invalidate', post({ pattern: 'b:*', dryRun: true }))).body, { removed: 2, dryRun: true }, 'dry run by pattern');
      assert.deepEqual((await call(base, '/invalidate', post({ keys: ['c:1', 'zz'], dryRun: true }))).body, { removed: 1, dryRun: true }, 'dry run by key');
      assert.equal(cache.stats().size, 5, 'a dry run removes nothing');
      assert.deepEqual((await call(base, '/invalidate', post({ tags: ['red'] }))).body, { removed: 2 }, 'by tag');
      assert.deepEqual((await call(base, '/invalidate', post({ pattern: 'b:*' }))).body, { removed: 2 }, 'by pattern');
      assert.deepEqual((await call(base, '/invalidate', post({ keys: ['c:1', 'zz'] }))).body, { removed: 1 }, 'by key');
      assert.equal(cache.stats().size, 0, 'all gone');
    });

    it('answers 400 on a malformed or wrong body, 413 on a large one, 405 on a wrong method', async () => {
      const cache = memoryCache();
      const { base } = await mounted(adapter, { cache, maxBodyBytes: 1024 });
      for (const [body, why] of [
        ['{bad json', 'not JSON'],
        ['[1,2]', 'not an object'],
        ['{}', 'nothing to invalidate'],
        ['{"keys":"a"}', 'keys not an array'],
        ['{"tags":[1]}', 'tags not strings'],
        ['{"pattern":""}', 'empty pattern'],
        ['{"keys":["a"],"dryRun":"yes"}', 'dryRun not a boolean'],
        ['{"keys":["a"],"extra":1}', 'unknown field'],
        ['{"keys":[""]}', 'an invalid key'],
      ] as const) {
        const r = await call(base, '/invalidate', post(body));
        assert.equal(r.status, 400, `400: ${why}`);
        assert.equal(r.headers.get('cache-control'), 'no-store', `no-store on 400 (${why})`);
        assert.equal(typeof r.body.error, 'string', `an error message (${why})`);
      }
      const empty = await call(base, '/invalidate', { method: 'POST' });
      assert.equal(empty.status, 400, 'no body: 400');
      const large = await call(base, '/invalidate', post({ keys: ['k'.repeat(2000)] }));
      assert.equal(large.status, 413, 'over maxBodyBytes: 413');
      const method = await call(base, '/invalidate');
      assert.equal(method.status, 405, 'GET /invalidate: 405');
      assert.equal(method.headers.get('allow'), 'POST', 'Allow: POST');
    });

    it('lists keys page by page and describes one key across tiers, its value only with ?value=1', async () => {
      const cache = memoryCache();
      for (let i = 0; i < 5; i++) await cache.set(`user:${i}`, { id: i }, { ttl: '1m', grace: '10s', tags: ['users'] });
      await cache.set('other', 1);
      const { base } = await mounted(adapter, { cache });
      const seen: string[] = [];
      let cursor = '0';
      let pages = 0;
      do {
        const r = await call(base, `/keys?pattern=${encodeURIComponent('user:*')}&count=2&cursor=${cursor}`);
        assert.equal(r.status, 200, 'page ok');
        seen.push(...(r.body.keys as string[]));
        cursor = r.body.cursor as string;
        pages++;
      } while (cursor !== '0' && pages < 10);
      assert.deepEqual(seen.sort(), ['user:0', 'user:1', 'user:2', 'user:3', 'user:4'], 'every matching key, once');
      assert.ok(pages >= 3, 'paged by count');
      assert.equal((await call(base, '/keys?cursor=bogus')).status, 400, 'a bad cursor: 400');
      assert.equal((await call(base, '/keys?count=0')).status, 400, 'a bad count: 400');

      const r = await call(base, `/keys/${encodeURIComponent('user:3')}`);
      assert.equal(r.status, 200, 'inspect ok');
      const report = r.body as { tiers: { l1?: { ttl: number; grace: number; tags: string[]; bytes: number } }; ttl: number; grace: number; tags: string[]; bytes: number };
      assert.ok(report.tiers.l1 !== undefined, 'held by l1');
      assert.ok(report.ttl > 50_000 && report.ttl <= 60_000, `ttl in ms (${report.ttl})`);
      assert.ok(report.grace > 9_000 && report.grace <= 10_000, `grace in ms (${report.grace})`);
      assert.deepEqual(report.tags, ['users'], 'tags');
      assert.ok(report.bytes > 0, 'a size');
      assert.equal('value' in report, false, 'never the value unless asked');
      const withValue = await call(base, `/keys/${encodeURIComponent('user:3')}?value=1`);
      assert.deepEqual(withValue.body.value, { id: 3 }, 'the value with ?value=1');
      assert.deepEqual((withValue.body as { tags: unknown }).tags, ['users'], 'tags shared with the tier report are printed, not marked circular');
      const missing = await call(base, '/keys/nothing-here');
      assert.equal(missing.status, 404, 'absent: 404');
      assert.equal((await call(base, `/keys/${'x'.repeat(1100)}`)).status, 400, 'an invalid key: 400');
    });

    it('POST /clear clears the cache', async () => {
      const cache = memoryCache();
      await cache.set('a', 1);
      const { base } = await mounted(adapter, { cache });
      const r = await call(base, '/clear', { method: 'POST' });
      assert.deepEqual([r.status, r.body], [200, { cleared: true }], 'cleared');
      assert.equal(cache.stats().size, 0, 'empty');
    });

    it('limits requests per client with 429 and Retry-After; a live stream counts once', async () => {
      const cache = memoryCache();
      const { base } = await mounted(adapter, { cache, rateLimit: { max: 4, window: '1m' }, streamInterval: '100ms' });
      const controller = new AbortController();
      const res = await fetch(`${base}/events`, { headers: AUTH, signal: controller.signal });
      assert.equal(res.status, 200, 'the stream opens');
      const snapshots = await readSnapshots(res.body!, 4);
      assert.equal(snapshots.length, 4, 'four snapshots over one request');
      controller.abort();
      for (let i = 0; i < 3; i++) assert.equal((await call(base, '/stats')).status, 200, `request ${i + 2} of 4 allowed`);
      const limited = await call(base, '/stats');
      assert.equal(limited.status, 429, 'the fifth request is limited');
      const retry = Number(limited.headers.get('retry-after'));
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After in whole seconds (${retry})`);
      assert.equal(limited.headers.get('cache-control'), 'no-store', 'no-store on a 429');
    });

    it('pushes live figures over server-sent events that change with traffic', async () => {
      const cache = memoryCache({ name: `live-${adapter}` });
      const { base } = await mounted(adapter, { cache, streamInterval: '150ms' });
      const res = await fetch(`${base}/events`, { headers: AUTH });
      assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8', 'an event stream');
      assert.equal(res.headers.get('cache-control'), 'no-store', 'no-store on the stream');
      const reading = readSnapshots(res.body!, 3);
      await cache.set('k', 1);
      for (let i = 0; i < 10; i++) await cache.get('k');
      const snapshots = await reading;
      const first = snapshots[0]!.caches[0]!;
      const last = snapshots.at(-1)!.caches[0]!;
      assert.equal(first.name, `live-${adapter}`, 'the cache by name');
      assert.ok(last.hits > first.hits || first.hits === 10, 'hits grew over the stream');
      assert.ok(snapshots.at(-1)!.at > snapshots[0]!.at, 'snapshots move on');
    });

    it('reports every request to audit, never with the token', async () => {
      const cache = memoryCache({ name: `audit-${adapter}` });
      const events: AdminAuditEvent[] = [];
      const { base } = await mounted(adapter, { cache, audit: (e) => events.push(e) });
      await call(base, '/stats', { auth: false });
      await call(base, '/invalidate', post({ keys: ['a'], tags: ['t'] }));
      await call(base, '/keys/some-key');
      await call(base, '/clear', { method: 'POST' });
      assert.deepEqual(
        events.map((e) => [e.action, e.outcome, e.status]),
        [
          ['stats', 'unauthorized', 401],
          ['invalidate', 'ok', 200],
          ['inspect', 'not-found', 404],
          ['clear', 'ok', 200],
        ],
        'one event per request',
      );
      assert.deepEqual(events[1]!.detail, { keys: 1, tags: ['t'], dryRun: false, removed: 0 }, 'what was invalidated');
      assert.equal(events[1]!.cache, `audit-${adapter}`, 'which cache');
      assert.equal(events[1]!.client, '127.0.0.1', 'which client');
      assert.ok(!JSON.stringify(events).includes(TOKEN), 'the token is never in an audit event');
    });

    it('serves the dashboard page and assets, gzip when asked, without the token', async () => {
      const cache = memoryCache();
      const { base } = await mounted(adapter, { cache });
      const page = await fetch(`${base}/dashboard`);
      assert.equal(page.status, 200, 'the page');
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/, 'HTML');
      assert.equal(page.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY, 'strict CSP');
      assert.match(await page.text(), /<script defer src="dashboard\/app\.js"><\/script>/, 'the script is an asset of hoard');
      const js = await fetch(`${base}/dashboard/app.js`, { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(js.status, 200, 'the script');
      assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/, 'JavaScript');
      assert.ok((await js.text()).includes('uPlot'), 'uPlot is bundled');
      const raw = await rawGet(`${base}/dashboard/app.css`, { 'accept-encoding': 'gzip' });
      assert.equal(raw.headers['content-encoding'], 'gzip', 'gzip when accepted');
      assert.ok(gunzipSync(raw.body).toString().includes('.uplot'), 'uPlot styles bundled');
      const slash = await fetch(`${base}/dashboard/`, { redirect: 'manual' });
      assert.equal(slash.status, 308, 'the trailing slash redirects');
    });
  });
}

/** A GET that keeps the raw (compressed) body. */
async function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('admin options', () => {
  const isConfig = (option: string) => (e: unknown) => e instanceof ConfigError && e.option === option;
  it('refuses to mount without a token, on every adapter', () => {
    const cache = memoryCache();
    for (const make of [adminRoutes, honoAdminRoutes]) {
      assert.throws(() => make({ cache } as AdminRoutesOptions), isConfig('token'), 'no token');
      assert.throws(() => make({ cache, token: '' }), isConfig('token'), 'an empty token (unset variable)');
      assert.throws(() => make({ cache, token: [] }), isConfig('token'), 'no tokens');
      assert.throws(() => make({ cache, token: 'with space' }), isConfig('token'), 'a token that cannot travel in a header');
    }
  });

  it('refuses a missing fastify token at registration', async () => {
    const Fastify = (await import('fastify')).default;
    const app = Fastify();
    onCleanup(() => app.close());
    await assert.rejects(
      async () => {
        await app.register(fastifyAdminRoutes, { cache: memoryCache() } as AdminRoutesOptions);
        await app.ready();
      },
      isConfig('token'),
      'fastify: no token',
    );
  });

  it('names the bad option', () => {
    const cache = memoryCache();
    assert.throws(() => adminRoutes({ token: TOKEN }), isConfig('cache'), 'no cache');
    assert.throws(() => adminRoutes({ cache, caches: [cache], token: TOKEN }), isConfig('cache'), 'both');
    const twin = memoryCache({ name: cache.name });
    assert.throws(() => adminRoutes({ caches: [cache, twin], token: TOKEN }), isConfig('caches'), 'two caches with one name');
    assert.throws(() => adminRoutes({ cache, token: TOKEN, rateLimit: { max: 0 } }), isConfig('rateLimit.max'), 'bad max');
    assert.throws(() => adminRoutes({ cache, token: TOKEN, rateLimit: { window: '5 parsecs' as never } }), isConfig('rateLimit.window'), 'bad window');
    assert.throws(() => adminRoutes({ cache, token: TOKEN, streamInterval: '10ms' }), isConfig('streamInterval'), 'too fast');
    assert.throws(() => adminRoutes({ cache, token: TOKEN, basePath: 'admin' }), isConfig('basePath'), 'relative base path');
    assert.throws(() => adminRoutes({ cache, token: TOKEN, tokn: 'x' } as AdminRoutesOptions), isConfig('tokn'), 'a typo');
  });

  it('accepts several tokens (rotation) and several caches chosen with ?cache=', async () => {
    const one = memoryCache({ name: 'one' });
    const two = memoryCache({ name: 'two' });
    await two.set('k', 1);
    const fetchRows = monitor(async () => 1, { name: 'db.rows', cache: one });
    onCleanup(() => fetchRows.monitor.dispose());
    await fetchRows();
    const m = await mount('node', { caches: [one, two], token: ['old-token', TOKEN] });
    onCleanup(() => m.close());
    assert.equal((await call(m.base, '/stats', { auth: false, headers: { authorization: 'Bearer old-token' } })).status, 200, 'the old token still works');
    assert.equal((await call(m.base, '/stats')).body.name, 'one', 'the first cache by default');
    assert.equal((await call(m.base, '/stats?cache=two')).body.size, 1, 'another by name');
    assert.equal((await call(m.base, '/stats?cache=three')).status, 404, 'an unknown cache: 404');
    assert.deepEqual((await call(m.base, '/caches')).body, { caches: [{ name: 'one', path: '' }, { name: 'two', path: '' }] }, 'the list');
    const res = await fetch(`${m.base}/events`, { headers: AUTH });
    const [snapshot] = await readSnapshots(res.body!, 1);
    assert.deepEqual(snapshot!.caches.map((c) => c.name), ['one', 'two'], 'the stream carries every cache');
    assert.equal(snapshot!.monitors.find((x) => x.name === 'db.rows')?.calls, 1, 'and the monitors');
  });

  it('ends live streams when every cache closes, so the server can close', async () => {
    const cache = memoryCache();
    const m = await mount('node', { cache, token: TOKEN, streamInterval: '100ms' });
    onCleanup(() => m.close());
    const res = await fetch(`${m.base}/events`, { headers: AUTH });
    const reader = res.body!.getReader();
    await reader.read();
    await cache.close();
    const deadline = Date.now() + 3_000;
    let ended = false;
    while (!ended && Date.now() < deadline) ended = (await reader.read()).done;
    assert.ok(ended, 'the stream ended');
  });
});

describe('dashboard assets', () => {
  it('are up to date with their sources (regenerating gives the committed file) and under 120 KB gzip', () => {
    const r = spawnSync(process.execPath, ['scripts/build-dashboard.mjs', '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `build-dashboard --check: ${r.stdout}${r.stderr}`);
    const total = Number(/\((\d+) B gzip\)/.exec(r.stdout)?.[1]);
    assert.ok(total > 0 && total < 120 * 1024, `assets are ${total} B gzip`);
  });
});
