/**
 * The catalog service (`npm start`) as a real child process: on the in-memory default with the
 * in-process dataset, and on PostgreSQL with two instances sharing a private redis-server, where an
 * update through one instance is seen at once through the other. Checks answers, headers,
 * invalidation after writes, the admin routes and metrics, and the clean shutdown.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startRedis } from '../harness/index.js';
import type { RedisProcess } from '../harness/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TOKEN = 'test-admin-token-0123456789';

interface Service {
  url: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const running: Service[] = [];

async function start(env: Record<string, string>): Promise<Service> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/catalog/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOARD_ADMIN_TOKEN: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start within 30 s:\n${out}`)), 30_000);
    const check = (): void => {
      const m = /catalog service on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited with ${String(code)}:\n${out}`));
    });
  });
  const service = { url, child, output: () => out, exited };
  running.push(service);
  return service;
}

after(async () => {
  for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL');
});

async function json(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

async function stats(service: Service): Promise<{ queries: number; backend: string; database: string }> {
  return (await json(`${service.url}/stats`)).body as { queries: number; backend: string; database: string };
}

describe('catalog service on the in-memory default', () => {
  it('serves the API from the cache, invalidates on writes, exposes metrics and admin routes, and stops cleanly', async () => {
    const s = await start({ DB_DELAY_MS: '30' });
    assert.deepEqual(await stats(s).then((x) => [x.backend, x.database]), ['memory', 'memory']);

    // A list page: a miss, then a response-cache hit with the same body and no new query.
    const list = `${s.url}/api/acme/products?size=5&category=books&page=2`;
    const first = await json(list);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-cache'), 'MISS');
    const queries = (await stats(s)).queries;
    const second = await json(list);
    assert.equal(second.headers.get('x-cache'), 'HIT');
    assert.deepEqual(second.body, first.body);
    assert.match(second.headers.get('cache-control') ?? '', /public, max-age=30/);
    assert.equal((await stats(s)).queries, queries, 'the hit ran no query');
    // The same filters in another order are the same list entry (stable keys): no query either.
    const reordered = await json(`${s.url}/api/acme/products?page=2&category=books&size=5`);
    assert.deepEqual((reordered.body as { items: unknown[] }).items, (first.body as { items: unknown[] }).items);
    assert.equal((await stats(s)).queries, queries);
    const items = (first.body as { items: { id: number; priceCents: number }[] }).items;
    assert.equal(items.length, 5);

    // One product, the batch loader (one query for the missing ids), search, categories.
    const id = items[0]!.id;
    const product = await json(`${s.url}/api/acme/products/${id}`);
    assert.equal((product.body as { id: number }).id, id);
    const before = (await stats(s)).queries;
    const batch = await json(`${s.url}/api/acme/products/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ids: items.map((p) => p.id) }),
    });
    assert.deepEqual((batch.body as { items: { id: number }[] }).items.map((p) => p.id), items.map((p) => p.id));
    assert.equal((await stats(s)).queries, before + 1, 'the batch ran one query for the four ids not cached yet');
    assert.equal((await json(`${s.url}/api/acme/search?q=classic`)).status, 200);
    assert.equal((await json(`${s.url}/api/acme/categories`)).status, 200);

    // A write: the product, its list pages and the tenant's cached pages are fresh at once.
    const patched = await json(`${s.url}/api/acme/products/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ priceCents: 4242 }),
    });
    assert.equal((patched.body as { priceCents: number }).priceCents, 4242);
    assert.equal(((await json(`${s.url}/api/acme/products/${id}`)).body as { priceCents: number }).priceCents, 4242);
    const after = await json(list);
    assert.equal(after.headers.get('x-cache'), 'MISS', 'the page cache of the tenant was purged');
    assert.equal((after.body as { items: { id: number; priceCents: number }[] }).items[0]!.priceCents, 4242);
    // Another tenant's pages were not touched.
    const other = `${s.url}/api/globex/products?size=3`;
    await json(other);
    await json(`${s.url}/api/acme/products/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"name":"renamed"}' });
    assert.equal((await json(other)).headers.get('x-cache'), 'HIT');

    // Bad input is a 400, an unknown tenant or product a 404.
    assert.equal((await json(`${s.url}/api/acme/products?page=0`)).status, 400);
    assert.equal((await json(`${s.url}/api/acme/products?size=1000`)).status, 400);
    assert.equal((await json(`${s.url}/api/nobody/products`)).status, 404);
    assert.equal((await json(`${s.url}/api/acme/products/999999`)).status, 404);
    assert.equal((await json(`${s.url}/api/acme/products/1`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"priceCents":-1}' })).status, 400);

    // Metrics and the admin routes.
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /cache_hits_total\{[^}]*cache="catalog"/);
    assert.equal((await fetch(`${s.url}/admin/cache/stats`)).status, 401);
    const adminStats = await json(`${s.url}/admin/cache/stats`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(adminStats.status, 200);
    const dashboard = await fetch(`${s.url}/admin/cache/dashboard`);
    assert.equal(dashboard.status, 200);
    assert.match(await dashboard.text(), /<html/i);

    // SIGTERM with a request in flight: it finishes, then the process exits 0.
    const slow = fetch(`${s.url}/api/initech/products?size=50&sort=price`);
    await new Promise((resolve) => setTimeout(resolve, 10));
    s.child.kill('SIGTERM');
    const answer = await slow;
    assert.equal(answer.status, 200, 'the request in flight was answered');
    assert.equal(await s.exited, 0, s.output());
    assert.match(s.output(), /stopped/);
  });
});

describe('catalog service on PostgreSQL with two instances sharing Redis', () => {
  let redis: RedisProcess | undefined;
  const schema = `catalog_test_${process.pid}`;
  after(async () => {
    await redis?.stop();
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  it('an update through one instance is seen at once through the other', async () => {
    redis = await startRedis();
    const env = { DATABASE_URL, DATABASE_SCHEMA: schema, REDIS_URL: redis.url, CACHE_KEY_PREFIX: 'catalog:', DB_DELAY_MS: '5' };
    const a = await start(env);
    const b = await start(env);
    assert.deepEqual(await stats(a).then((x) => [x.backend, x.database]), ['tiered', 'postgres']);

    const product = `/api/acme/products/7`;
    const fromA = (await json(a.url + product)).body as { priceCents: number };
    const fromB = (await json(b.url + product)).body as { priceCents: number };
    assert.deepEqual(fromB, fromA);
    const queriesB = (await stats(b)).queries;
    assert.equal((await json(b.url + product)).headers.get('x-cache'), 'HIT');
    assert.equal((await stats(b)).queries, queriesB);

    await json(a.url + product, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ priceCents: fromA.priceCents + 1 }) });
    const seen = await json(b.url + product);
    assert.equal((seen.body as { priceCents: number }).priceCents, fromA.priceCents + 1, 'b serves the new price');

    // A list read through b after a's write reflects it too (list tags are shared through Redis).
    const list = `/api/acme/products?sort=price&size=100`;
    await json(b.url + list);
    await json(a.url + product, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ priceCents: 0 }) });
    const page = (await json(b.url + list)).body as { items: { id: number; priceCents: number }[] };
    assert.deepEqual(page.items[0], { ...page.items[0], id: 7, priceCents: 0 });

    for (const s of [a, b]) s.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0]);
  });
});
