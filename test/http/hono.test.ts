/**
 * The Hono middleware with Hono's own idioms (`c.json`, `c.header`, `c.set` / `c.get`), on
 * @hono/node-server and through `app.request()` (the Fetch API alone, as on other runtimes).
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { ConfigError } from '../../src/index.js';
import { honoResponseCache } from '../../src/http/index.js';
import { guardProcess } from '../helpers/guard.js';
import { memoryCache, registerCleanup, request } from './support.js';

registerCleanup();
guardProcess();

const servers: ServerType[] = [];
after(async () => {
  for (const server of servers) {
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(app: Hono<{ Variables: { user: string } }>): Promise<number> {
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return (server.address() as AddressInfo).port;
}

describe('honoResponseCache', () => {
  it('caches c.json pages with headers set by the handler and by middleware before it', async () => {
    const app = new Hono<{ Variables: { user: string } }>();
    let runs = 0;
    app.use('*', async (c, next) => {
      c.header('X-Request-Scope', 'api');
      await next();
    });
    app.use('*', honoResponseCache({ cache: memoryCache() }));
    app.get('/items', (c) => {
      runs++;
      c.header('X-Items', '3');
      return c.json({ items: [1, 2, 3] });
    });
    const port = await listen(app);
    const a = await request(port, '/items');
    const b = await request(port, '/items');
    assert.equal(b.headers['x-cache'], 'HIT');
    assert.equal(b.text, '{"items":[1,2,3]}');
    assert.equal(b.headers['x-items'], '3');
    assert.equal(b.headers['x-request-scope'], 'api');
    assert.match(String(b.headers['content-type']), /application\/json/);
    assert.equal(b.headers.etag, a.headers.etag);
    assert.equal(runs, 1);
  });

  it('keys a private cache by an identity taken from the context', async () => {
    const app = new Hono<{ Variables: { user: string } }>();
    app.use('*', async (c, next) => {
      const user = c.req.header('x-user');
      if (user !== undefined) c.set('user', user);
      await next();
    });
    app.use('*', honoResponseCache({ cache: memoryCache(), identity: (c) => c.get('user') as string | undefined }));
    app.get('/me', (c) => c.text(`hello ${c.get('user')}`));
    const port = await listen(app);
    await request(port, '/me', { headers: { 'x-user': 'ann', cookie: 'sid=1' } });
    const bo = await request(port, '/me', { headers: { 'x-user': 'bo', cookie: 'sid=2' } });
    const ann = await request(port, '/me', { headers: { 'x-user': 'ann', cookie: 'sid=1' } });
    assert.equal(bo.text, 'hello bo');
    assert.equal(ann.text, 'hello ann');
    assert.equal(ann.headers['x-cache'], 'HIT');
    assert.match(String(ann.headers['cache-control']), /^private/);
  });

  it('works on the Fetch API alone (app.request), validators taken off on a miss', async () => {
    const app = new Hono();
    let runs = 0;
    app.use('*', honoResponseCache({ cache: memoryCache() }));
    app.get('/f', (c) => {
      runs++;
      return c.text(`validator: ${c.req.header('if-none-match') ?? 'none'}`);
    });
    const a = await app.request('/f', { headers: { 'if-none-match': '"old"' } });
    assert.equal(a.status, 200);
    assert.equal(await a.text(), 'validator: none');
    assert.equal(a.headers.get('x-cache'), 'MISS');
    const b = await app.request('/f');
    assert.equal(b.headers.get('x-cache'), 'HIT');
    const etag = b.headers.get('etag')!;
    const c = await app.request('/f', { headers: { 'if-none-match': etag } });
    assert.equal(c.status, 304);
    assert.equal(runs, 1);
  });

  it('rejects a bad option with a ConfigError naming it', () => {
    assert.throws(
      () => honoResponseCache({ maxBodyBytes: -1 }),
      (error: unknown) => error instanceof ConfigError && error.option === 'maxBodyBytes',
    );
  });
});
