/**
 * The Fastify plugin as a Fastify plugin: metadata, named hooks, encapsulation, per-route config,
 * options checked at startup, HEAD routes Fastify adds itself, and onSend hooks that run after it.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../../src/index.js';
import { fastifyResponseCache } from '../../src/http/index.js';
import { guardProcess } from '../helpers/guard.js';
import { memoryCache, registerCleanup, request } from './support.js';

registerCleanup();
guardProcess();

const apps: FastifyInstance[] = [];
after(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

async function listen(app: FastifyInstance): Promise<number> {
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

describe('fastifyResponseCache: a real Fastify plugin', () => {
  it('declares its name and the Fastify major it supports', async () => {
    const meta = (fastifyResponseCache as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')] as { name: string; fastify: string };
    assert.equal(meta.name, 'hoard-response-cache');
    assert.equal(meta.fastify, '5.x');
    const app = Fastify();
    apps.push(app);
    await app.register(fastifyResponseCache, { cache: memoryCache() });
    await app.ready();
    assert.ok(app.hasPlugin('hoard-response-cache'), 'registered under its name');
  });

  it('gives its hooks names', async () => {
    const app = Fastify();
    apps.push(app);
    const names: string[] = [];
    const addHook = app.addHook.bind(app) as (name: string, fn: (...args: unknown[]) => unknown) => FastifyInstance;
    (app as unknown as { addHook: typeof addHook }).addHook = (name, fn) => {
      names.push(`${name}:${fn.name}`);
      return addHook(name, fn);
    };
    await app.register(fastifyResponseCache, { cache: memoryCache() });
    await app.ready();
    assert.deepEqual(names.sort(), ['onRequest:hoardResponseCacheOnRequest', 'onRoute:hoardResponseCacheOnRoute', 'onSend:hoardResponseCacheOnSend']);
  });

  it('respects encapsulation: only routes of the context it is registered in are cached', async () => {
    const cache = memoryCache();
    const app = Fastify();
    let runs = 0;
    await app.register(async (cached) => {
      await cached.register(fastifyResponseCache, { cache });
      cached.get('/inside', async () => `inside ${++runs}`);
    });
    await app.register(async (sibling) => {
      sibling.get('/sibling', async () => `sibling ${++runs}`);
    });
    app.get('/outside', async () => `outside ${++runs}`);
    const port = await listen(app);
    await request(port, '/inside');
    assert.equal((await request(port, '/inside')).headers['x-cache'], 'HIT');
    for (const path of ['/sibling', '/outside']) {
      const a = await request(port, path);
      const b = await request(port, path);
      assert.equal(b.headers['x-cache'], undefined, `${path} never sees the cache`);
      assert.notEqual(a.text, b.text, `${path} ran its handler twice`);
    }
  });

  it('per-route config: cache: false, options of its own, and optIn', async () => {
    const cache = memoryCache();
    const app = Fastify();
    await app.register(fastifyResponseCache, { cache, ttl: '1m' });
    let n = 0;
    app.get('/off', { config: { cache: false } }, async () => `off ${++n}`);
    app.get('/long', { config: { cache: { ttl: '1h', tags: () => ['long'] } } }, async () => `long ${++n}`);
    app.get('/default', async () => `default ${++n}`);
    const port = await listen(app);
    await request(port, '/off');
    assert.equal((await request(port, '/off')).headers['x-cache'], undefined);
    const long = await request(port, '/long');
    assert.equal(long.headers['cache-control'], 'public, max-age=3600', 'the route TTL');
    assert.equal((await request(port, '/default')).headers['cache-control'], 'public, max-age=60', 'the plugin TTL');
    assert.equal((await request(port, '/long')).headers['x-cache'], 'HIT');
    assert.equal(await cache.invalidateTags(['long']), 1, 'the route tags');
    assert.equal((await request(port, '/long')).headers['x-cache'], 'MISS');

    const optIn = Fastify();
    await optIn.register(fastifyResponseCache, { cache: memoryCache(), optIn: true });
    optIn.get('/plain', async () => `plain ${++n}`);
    optIn.get('/chosen', { config: { cache: {} } }, async () => `chosen ${++n}`);
    const p2 = await listen(optIn);
    await request(p2, '/plain');
    await request(p2, '/chosen');
    assert.equal((await request(p2, '/plain')).headers['x-cache'], undefined, 'with optIn, routes without config are left alone');
    assert.equal((await request(p2, '/chosen')).headers['x-cache'], 'HIT');
  });

  it('bad options fail at startup with a ConfigError naming the option', async () => {
    const app = Fastify();
    apps.push(app);
    await assert.rejects(
      async () => {
        await app.register(fastifyResponseCache, { cache: memoryCache(), ttl: '5 parsecs' as never });
      },
      (error: unknown) => error instanceof ConfigError && error.option === 'ttl',
    );
    const routes = Fastify();
    apps.push(routes);
    await routes.register(fastifyResponseCache, { cache: memoryCache() });
    await assert.rejects(
      async () => {
        routes.get('/bad', { config: { cache: { statuses: [206] } } }, async () => 'x');
        await routes.ready();
      },
      (error: unknown) => error instanceof ConfigError && error.option === 'statuses',
    );
  });

  it("serves HEAD from the GET page on the HEAD route Fastify adds itself", async () => {
    const app = Fastify();
    await app.register(fastifyResponseCache, { cache: memoryCache() });
    app.get('/h', async () => 'twelve bytes');
    const port = await listen(app);
    await request(port, '/h');
    const head = await request(port, '/h', { method: 'HEAD' });
    assert.equal(head.headers['x-cache'], 'HIT');
    assert.equal(head.headers['content-length'], '12');
    assert.equal(head.body.length, 0);
  });

  it('a cookie added by an onSend hook registered after the cache keeps the page out', async () => {
    const cache = memoryCache();
    const app = Fastify();
    await app.register(fastifyResponseCache, { cache });
    let n = 0;
    // What @fastify/cookie does when registered after the cache: serialise cookies in onSend.
    app.addHook('onSend', async (_request, reply, payload) => {
      void reply.header('set-cookie', `sid=${++n}`);
      return payload;
    });
    app.get('/c', async () => 'page');
    const port = await listen(app);
    const a = await request(port, '/c');
    const b = await request(port, '/c');
    assert.deepEqual(a.headers['set-cookie'], ['sid=1']);
    assert.deepEqual(b.headers['set-cookie'], ['sid=2'], 'never the other client cookie');
    assert.equal(b.headers['x-cache'], 'MISS');
    assert.equal(cache.stats().size, 0);
  });

  it('a route answering with reply.send(object) and a schema is stored as serialised', async () => {
    const app = Fastify();
    await app.register(fastifyResponseCache, { cache: memoryCache() });
    app.get('/json', { schema: { response: { 200: { type: 'object', properties: { a: { type: 'number' } } } } } }, async () => ({ a: 1, hidden: true }));
    const port = await listen(app);
    const a = await request(port, '/json');
    const b = await request(port, '/json');
    assert.equal(b.headers['x-cache'], 'HIT');
    assert.equal(b.text, '{"a":1}');
    assert.equal(b.text, a.text);
    assert.match(String(b.headers['content-type']), /application\/json/);
  });
});
