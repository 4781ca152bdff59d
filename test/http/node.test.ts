/**
 * The connect-style middleware on its own terms: `cachePublic`, `cachePrivate` and `noCache` as
 * route decorators, Express routers, middleware mounted around the cache, and plain `node:http`.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import express from 'express';
import type { Request, Response } from 'express';
import { cachePrivate, cachePublic, cacheResponse, noCache } from '../../src/http/index.js';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess } from '../helpers/guard.js';
import { memoryCache, registerCleanup, request } from './support.js';

registerCleanup();
guardProcess();

const servers: http.Server[] = [];
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function expressApp(): express.Express {
  const app = express();
  app.set('env', 'test');
  return app;
}

describe('cachePublic / cachePrivate / noCache on Express routes', () => {
  it("cachePublic('1h') stores the page and tells browsers and CDNs they may keep it an hour", async () => {
    const cache = memoryCache();
    let runs = 0;
    const app = expressApp();
    app.get('/catalog', cachePublic('1h', { cache }), (_req, res) => {
      runs++;
      res.json({ items: [1, 2, 3] });
    });
    const port = await listen(app);
    const a = await request(port, '/catalog');
    const b = await request(port, '/catalog');
    assert.equal(a.headers['cache-control'], 'public, max-age=3600');
    assert.equal(b.headers['x-cache'], 'HIT');
    assert.equal(b.headers['cache-control'], 'public, max-age=3600');
    assert.equal(runs, 1);
  });

  it("cachePrivate('5m') keys by the credentials by default, and marks pages private", async () => {
    const cache = memoryCache();
    const app = expressApp();
    app.get('/me', cachePrivate('5m', { cache }), (req, res) => {
      res.set('Cache-Control', 'public, max-age=60');
      res.send(`hello ${req.get('cookie') ?? 'stranger'}`);
    });
    const port = await listen(app);
    const a1 = await request(port, '/me', { headers: { cookie: 'sid=alice' } });
    const b1 = await request(port, '/me', { headers: { cookie: 'sid=bob' } });
    const a2 = await request(port, '/me', { headers: { cookie: 'sid=alice' } });
    assert.equal(a1.headers['x-cache'], 'MISS');
    assert.equal(b1.text, 'hello sid=bob', 'bob never gets alice page');
    assert.equal(a2.headers['x-cache'], 'HIT');
    assert.equal(a2.text, 'hello sid=alice');
    assert.equal(a2.headers['cache-control'], 'private, max-age=300', 'cachePrivate says private, with its TTL');
  });

  it('a private cache never lets the handler mark a per-user page public', async () => {
    const cache = memoryCache();
    const app = expressApp();
    app.get('/me', cacheResponse<Request, Response>({ cache, identity: (req) => req.get('x-user') }), (_req, res) => {
      res.set('Cache-Control', 'public, max-age=60').send('mine');
    });
    const port = await listen(app);
    const r = await request(port, '/me', { headers: { 'x-user': 'u1' } });
    assert.equal(r.headers['cache-control'], 'private, max-age=60');
  });

  it('noCache() mounted before a cache bypasses it; mounted after, its no-store keeps the page out', async () => {
    const cache = memoryCache();
    let runs = 0;
    const app = expressApp();
    app.get('/before', noCache(), cacheResponse({ cache }), (_req, res) => {
      runs++;
      res.send('x');
    });
    app.use('/after', cacheResponse({ cache, keyPrefix: 'after:' }));
    app.get('/after', noCache(), (_req, res) => {
      runs++;
      res.send('y');
    });
    const port = await listen(app);
    for (const path of ['/before', '/after']) {
      const a = await request(port, path);
      const b = await request(port, path);
      assert.equal(a.headers['cache-control'], 'no-store', path);
      assert.notEqual(b.headers['x-cache'], 'HIT', path);
    }
    assert.equal((await request(port, '/before')).headers['x-cache'], 'BYPASS');
    assert.equal(runs, 5);
    assert.equal(cache.stats().size, 0);
  });
});

describe('Express specifics', () => {
  it('a router mounted twice keeps its pages apart (the key is the original URL)', async () => {
    const cache = memoryCache();
    const router = express.Router();
    router.get('/items', cacheResponse({ cache }), (req, res) => {
      res.send(`items of ${req.baseUrl}`);
    });
    const app = expressApp();
    app.use('/v1', router);
    app.use('/v2', router);
    const port = await listen(app);
    assert.equal((await request(port, '/v1/items')).text, 'items of /v1');
    const v2 = await request(port, '/v2/items');
    assert.equal(v2.text, 'items of /v2');
    assert.equal(v2.headers['x-cache'], 'MISS');
  });

  it('a cache mounted app-wide and one on the route: the outer one acts, the inner one stays out', async () => {
    const cache = memoryCache();
    const app = expressApp();
    app.use(cacheResponse({ cache }));
    app.get('/n', cachePublic('1h', { cache, keyPrefix: 'inner:' }), (_req, res) => {
      res.send('nested');
    });
    const port = await listen(app);
    await request(port, '/n');
    assert.equal((await request(port, '/n')).headers['x-cache'], 'HIT');
    assert.equal(cache.stats().size, 1, 'one entry, not two');
  });

  it('cachePrivate on a route still caches the credentialed requests an app-wide shared cache bypasses', async () => {
    const cache = memoryCache();
    const app = expressApp();
    app.use(cacheResponse({ cache }));
    let runs = 0;
    app.get('/me', cachePrivate('5m', { cache, keyPrefix: 'me:' }), (req, res) => {
      runs++;
      res.send(`hello ${req.get('authorization') ?? 'stranger'}`);
    });
    const port = await listen(app);
    const auth = { authorization: 'Bearer ann' };
    await request(port, '/me', { headers: auth });
    const again = await request(port, '/me', { headers: auth });
    assert.equal(again.headers['x-cache'], 'HIT', 'the private cache took the request the shared one bypassed');
    assert.equal(again.text, 'hello Bearer ann');
    const other = await request(port, '/me', { headers: { authorization: 'Bearer bo' } });
    assert.equal(other.text, 'hello Bearer bo');
    await request(port, '/me');
    const anon = await request(port, '/me');
    assert.equal(anon.headers['x-cache'], 'HIT');
    assert.equal(anon.text, 'hello stranger');
    assert.equal(runs, 3);
  });

  it('a cookie added by an outer layer while the headers are written keeps the page out', async () => {
    const cache = memoryCache();
    const app = expressApp();
    let n = 0;
    // What express-session does: set its cookie just before the headers go out.
    app.use((_req, res, next) => {
      const writeHead = res.writeHead;
      const id = ++n;
      res.writeHead = function (this: Response, ...args: unknown[]) {
        this.setHeader('Set-Cookie', `session=${id}`);
        return (writeHead as (...a: unknown[]) => Response).apply(this, args);
      } as Response['writeHead'];
      next();
    });
    app.use(cacheResponse({ cache }));
    app.get('/s', (_req, res) => {
      res.send('page');
    });
    const port = await listen(app);
    const a = await request(port, '/s');
    const b = await request(port, '/s');
    assert.deepEqual(a.headers['set-cookie'], ['session=1']);
    assert.deepEqual(b.headers['set-cookie'], ['session=2'], 'each client its own session cookie');
    assert.equal(b.headers['x-cache'], 'MISS');
    assert.equal(cache.stats().size, 0);
  });

  it('a stale page served for an error keeps the headers set before the cache', async () => {
    const clock = fakeClock(1_700_000_000_000);
    const cache = memoryCache(clock);
    cache.on('error', () => undefined);
    const app = expressApp();
    app.use((_req, res, next) => {
      res.setHeader('Access-Control-Allow-Origin', '*');
      next();
    });
    app.use(cacheResponse({ cache, ttl: '1s', grace: '1h', clock }));
    let n = 0;
    app.get('/x', (_req, res) => {
      n++;
      if (n === 1) res.send('good');
      else res.status(500).set('X-Error', 'yes').send('bad');
    });
    const port = await listen(app);
    await request(port, '/x');
    clock.advance(2_000);
    const r = await request(port, '/x');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'good');
    assert.equal(r.headers['x-cache'], 'STALE');
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers['x-error'], undefined, 'nothing of the error response');
  });
});

describe('plain node:http', () => {
  it('works as (req, res, next) around any request listener, including explicit writeHead and several writes', async () => {
    const cache = memoryCache();
    const mw = cacheResponse({ cache });
    let runs = 0;
    const port = await listen((req, res) => {
      mw(req, res, () => {
        runs++;
        res.writeHead(200, 'Fine', { 'Content-Type': 'text/plain', 'X-Lines': ['a', 'b'] });
        res.write('hello ');
        res.write(Buffer.from('wor'));
        res.end('ld');
      });
    });
    const a = await request(port, '/w');
    const b = await request(port, '/w');
    assert.equal(a.text, 'hello world');
    assert.equal(b.text, 'hello world');
    assert.equal(b.headers['x-cache'], 'HIT');
    assert.equal(b.headers['content-type'], 'text/plain');
    assert.equal(b.raw.filter((h, i) => i % 2 === 0 && h === 'X-Lines').length, 2, 'header names and lines as the handler wrote them');
    assert.equal(runs, 1);
  });

  it('write callbacks of a recorded body are called', async () => {
    const cache = memoryCache();
    const mw = cacheResponse({ cache });
    const called: string[] = [];
    const port = await listen((req, res) => {
      mw(req, res, () => {
        res.write('a', () => called.push('write'));
        res.end('b', () => called.push('end'));
      });
    });
    await request(port, '/cb');
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(called, ['write', 'end']);
  });
});
