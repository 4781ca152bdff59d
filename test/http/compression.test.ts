/**
 * Compression in both mount orders, with gzip, br and identity clients: each client gets the
 * encoding it asked for, on misses and on hits, and the body decodes to the page.
 *
 * Express (`compression`):
 * - outer (`app.use(compression()); app.use(cacheResponse())`): the cache stores the identity body
 *   and `compression` encodes every hit for its client;
 * - inner (`app.use(cacheResponse()); app.use(compression())`): a compressed body reaches the
 *   cache as a stream (zlib works asynchronously), so it passes through uncached; an identity
 *   response is stored for identity clients (the key holds Accept-Encoding).
 * Fastify (`@fastify/compress`): compression runs in a route-level onSend hook, after the cache's
 * own onSend whatever the registration order, so the cache stores the identity payload and every
 * hit is compressed for its client, in both orders.
 * Hono (`hono/compress`, gzip and deflate): as Express.
 */
import assert from 'node:assert/strict';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import fastifyCompress from '@fastify/compress';
import compression from 'compression';
import { compress } from 'hono/compress';
import { guardProcess } from '../helpers/guard.js';
import { registerCleanup, request, startServer, type Response1, type StartOptions } from './support.js';

registerCleanup();
guardProcess();

const PAGE = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })) });
const CLIENTS = [
  { name: 'gzip', accept: 'gzip', expect: 'gzip' },
  { name: 'br', accept: 'br', expect: 'br' },
  { name: 'identity', accept: 'identity', expect: undefined },
] as const;

function decode(r: Response1): string {
  const encoding = r.headers['content-encoding'];
  if (encoding === 'gzip') return gunzipSync(r.body).toString();
  if (encoding === 'br') return brotliDecompressSync(r.body).toString();
  assert.equal(encoding, undefined, `unexpected encoding ${String(encoding)}`);
  return r.text;
}

const handler = (): { headers: Record<string, string>; body: string } => ({ headers: { 'content-type': 'application/json' }, body: PAGE });

const mounts: { name: string; adapter: 'express' | 'fastify' | 'hono'; start: StartOptions; clients?: readonly (typeof CLIENTS)[number][]; cachesHits: (encoding: string | undefined) => boolean }[] = [
  { name: 'Express, compression outside the cache', adapter: 'express', start: { beforeCache: (app) => app.use(compression()) }, cachesHits: () => true },
  { name: 'Express, compression inside the cache', adapter: 'express', start: { afterCache: (app) => app.use(compression()) }, cachesHits: (encoding) => encoding === undefined },
  {
    name: 'Fastify, @fastify/compress registered before the cache',
    adapter: 'fastify',
    start: { fastifyBefore: async (app) => app.register(fastifyCompress, { threshold: 1 }) },
    cachesHits: () => true,
  },
  {
    name: 'Fastify, @fastify/compress registered after the cache',
    adapter: 'fastify',
    start: { fastifyAfter: async (app) => app.register(fastifyCompress, { threshold: 1 }) },
    cachesHits: () => true,
  },
  // hono/compress speaks gzip and deflate, not br.
  {
    name: 'Hono, compress() outside the cache',
    adapter: 'hono',
    start: { honoBefore: (app) => app.use('*', compress()) },
    cachesHits: () => true,
    clients: CLIENTS.filter((c) => c.name !== 'br'),
  },
  {
    name: 'Hono, compress() inside the cache',
    adapter: 'hono',
    start: { honoAfter: (app) => app.use('*', compress()) },
    cachesHits: (encoding) => encoding === undefined,
    clients: CLIENTS.filter((c) => c.name !== 'br'),
  },
];

for (const mount of mounts) {
  describe(mount.name, () => {
    it('gives gzip, br and identity clients the encoding they asked for, on misses and hits', async () => {
      const s = await startServer(mount.adapter, handler, {}, mount.start);
      const clients = mount.clients ?? CLIENTS;
      for (let round = 0; round < 2; round++) {
        for (const client of clients) {
          const r = await request(s.port, '/catalog', { headers: { 'accept-encoding': client.accept } });
          assert.equal(r.status, 200);
          assert.equal(r.headers['content-encoding'], client.expect, `${client.name} client, round ${round}`);
          assert.equal(decode(r), PAGE, `${client.name} client gets the page`);
          if (round === 1) assert.equal(r.headers['x-cache'], mount.cachesHits(client.expect) ? 'HIT' : 'MISS', `${client.name} client, second round`);
        }
      }
      // Interleaved once more: a hit stored for one client never reaches another encoding.
      for (const client of [...clients].reverse()) {
        const r = await request(s.port, '/catalog', { headers: { 'accept-encoding': client.accept } });
        assert.equal(r.headers['content-encoding'], client.expect);
        assert.equal(decode(r), PAGE);
      }
    });

    it('a client that accepts several encodings still gets one it accepts', async () => {
      const s = await startServer(mount.adapter, handler, {}, mount.start);
      for (let i = 0; i < 2; i++) {
        const r = await request(s.port, '/catalog', { headers: { 'accept-encoding': mount.adapter === 'hono' ? 'gzip, deflate' : 'gzip, deflate, br' } });
        assert.ok(['gzip', 'br', 'deflate'].includes(String(r.headers['content-encoding'])), String(r.headers['content-encoding']));
        if (r.headers['content-encoding'] !== 'deflate') assert.equal(decode(r), PAGE);
      }
    });
  });
}
