/**
 * One application, four ways: the same handler served by plain `node:http`, Express 5, Fastify 5
 * and Hono 4 (on @hono/node-server), each behind hoard's response cache, on a real listening server
 * (127.0.0.1, port 0). Requests go through `node:http` with exact headers (no automatic
 * Accept-Encoding or decompression, unlike fetch).
 */
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after } from 'node:test';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { cache as defaultCache, createCache, memoryStore } from '../../src/index.js';
import type { Cache, Clock } from '../../src/index.js';
import { cacheResponse, fastifyResponseCache, honoResponseCache } from '../../src/http/index.js';
import type { ResponseCacheOptions } from '../../src/http/index.js';

export type AdapterName = 'node' | 'express' | 'fastify' | 'hono';
export const ADAPTERS: readonly AdapterName[] = ['node', 'express', 'fastify', 'hono'];

/** A streamed body: `chunks` chunks of `size` bytes, `gapMs` apart (0: as fast as the socket takes them). */
export interface StreamSpec {
  chunks: number;
  size: number;
  gapMs?: number;
}

/** What the handler answers, whatever the framework. */
export interface Reply {
  status?: number;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  stream?: StreamSpec;
  /** Fail the way the framework fails: an exception (a 500 from the framework's error handler). */
  throws?: boolean;
}

export interface Call {
  method: string;
  /** Path and query as received. */
  url: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** 1 for the first call of this path (without query), 2 for the next… */
  n: number;
}

export type Handler = (call: Call) => Reply | Promise<Reply>;

/** Options that mean the same on every adapter; callbacks are adapted to each framework. */
export interface SharedOptions extends Omit<ResponseCacheOptions<unknown, unknown>, 'condition' | 'tags' | 'identity'> {
  /** A private cache keyed by this request header, or by the credentials. */
  identity?: 'credentials' | { header: string };
  tags?: (url: string) => string[];
  condition?: (status: number) => boolean;
}

export interface TestServer {
  readonly adapter: AdapterName;
  readonly port: number;
  readonly cache: Cache;
  /** Handler runs so far, for a path (without query) or in total. */
  calls(path?: string): number;
  /** Requests the server received so far (cached or not). */
  arrivals(): number;
  close(): Promise<void>;
}

export interface StartOptions {
  cache?: Cache;
  /** Give the middleware no `cache` option: it uses hoard's default cache. */
  defaultCache?: boolean;
  clock?: Clock;
  /** Express only: mount `compression()` before (`outer`) or after (`inner`) the cache. */
  beforeCache?: (app: express.Express) => void;
  afterCache?: (app: express.Express) => void;
  /** Fastify only: plugins registered before / after the cache. */
  fastifyBefore?: (app: FastifyInstance) => Promise<void>;
  fastifyAfter?: (app: FastifyInstance) => Promise<void>;
  /** Hono only: middleware mounted before / after the cache. */
  honoBefore?: (app: Hono) => void;
  honoAfter?: (app: Hono) => void;
}

const toClose: (() => Promise<void>)[] = [];
let registered = false;

/**
 * Closes every server and cache started by this file, once, after all its tests. Call it at the
 * top level of the test file (an `after` registered inside a test runs after that test only).
 */
export function registerCleanup(): void {
  if (registered) return;
  registered = true;
  after(async () => {
    await Promise.all(toClose.splice(0).map((close) => close().catch(() => undefined)));
  });
}

/** A memory cache closed with the file's servers. */
export function memoryCache(clock?: Clock): Cache {
  const cache = clock === undefined ? createCache({ store: memoryStore() }, {}) : createCache({ store: memoryStore({ clock }), clock }, {});
  toClose.push(() => cache.close());
  return cache;
}

function adaptOptions(adapter: AdapterName, options: SharedOptions, cache: Cache, clock: Clock | undefined): Record<string, unknown> {
  const { identity, tags, condition, ...rest } = options;
  const out: Record<string, unknown> = { ...rest, cache };
  if (clock !== undefined) out.clock = clock;
  if (identity === 'credentials') out.identity = 'credentials';
  else if (identity !== undefined) {
    const h = identity.header;
    out.identity =
      adapter === 'hono'
        ? (c: Context) => c.req.header(h)
        : adapter === 'fastify'
          ? (r: FastifyRequest) => r.headers[h] as string | undefined
          : (r: IncomingMessage) => r.headers[h] as string | undefined;
  }
  if (tags !== undefined) {
    out.tags =
      adapter === 'hono'
        ? (c: Context) => tags(new URL(c.req.url).pathname + new URL(c.req.url).search)
        : adapter === 'fastify'
          ? (r: FastifyRequest) => tags(r.url)
          : (r: IncomingMessage & { originalUrl?: string }) => tags(r.originalUrl ?? r.url ?? '/');
  }
  if (condition !== undefined) {
    out.condition =
      adapter === 'hono'
        ? (_c: Context, res: Response) => condition(res.status)
        : adapter === 'fastify'
          ? (_r: FastifyRequest, reply: FastifyReply) => condition(reply.statusCode)
          : (_r: IncomingMessage, res: ServerResponse) => condition(res.statusCode);
  }
  return out;
}

async function* chunks(spec: StreamSpec): AsyncGenerator<Buffer> {
  const chunk = Buffer.alloc(spec.size, 0x61);
  for (let i = 0; i < spec.chunks; i++) {
    if (spec.gapMs !== undefined && spec.gapMs > 0) await new Promise((r) => setTimeout(r, spec.gapMs));
    yield chunk;
  }
}

/** Starts `handler` behind the response cache of `adapter` with `options`. */
export async function startServer(adapter: AdapterName, handler: Handler, options: SharedOptions = {}, start: StartOptions = {}): Promise<TestServer> {
  const cache = start.defaultCache === true ? defaultCache : (start.cache ?? memoryCache(start.clock));
  const counts = new Map<string, number>();
  let total = 0;
  let arrived = 0;
  const run = async (method: string, url: string, headers: IncomingHttpHeaders): Promise<Reply> => {
    const parsed = new URL(url, 'http://x');
    const n = (counts.get(parsed.pathname) ?? 0) + 1;
    counts.set(parsed.pathname, n);
    total++;
    return handler({ method, url, query: parsed.searchParams, headers, n });
  };
  const opts = adaptOptions(adapter, options, cache, start.clock);
  if (start.defaultCache === true) delete opts.cache;
  let server: Server;
  let closeApp: () => Promise<void> = async () => undefined;

  const writeNode = async (res: ServerResponse, reply: Reply): Promise<void> => {
    res.statusCode = reply.status ?? 200;
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
    if (reply.stream !== undefined) {
      await new Promise<void>((resolve, reject) => {
        const source = Readable.from(chunks(reply.stream!));
        source.on('error', reject);
        res.on('close', resolve);
        source.pipe(res);
      });
      return;
    }
    res.end(reply.body ?? '');
  };

  switch (adapter) {
    case 'node': {
      const mw = cacheResponse(opts as never);
      server = http.createServer((req, res) => {
        mw(req, res, () => {
          void run(req.method!, req.url!, req.headers).then(
            (reply) => {
              if (reply.throws) {
                res.statusCode = 500;
                res.end('Internal Server Error');
                return;
              }
              return writeNode(res, reply);
            },
            () => {
              res.statusCode = 500;
              res.end('error');
            },
          );
        });
      });
      break;
    }
    case 'express': {
      const app = express();
      app.set('env', 'test'); // the default error handler stays quiet
      start.beforeCache?.(app);
      app.use(cacheResponse(opts as never));
      start.afterCache?.(app);
      app.use(async (req, res) => {
        const reply = await run(req.method, req.originalUrl, req.headers);
        if (reply.throws) throw new Error('handler failed');
        res.status(reply.status ?? 200);
        for (const [name, value] of Object.entries(reply.headers ?? {})) res.set(name, value);
        if (reply.stream !== undefined) {
          Readable.from(chunks(reply.stream)).pipe(res);
          return;
        }
        res.send(reply.body ?? '');
      });
      server = http.createServer(app);
      break;
    }
    case 'fastify': {
      const app = Fastify();
      await start.fastifyBefore?.(app);
      await app.register(fastifyResponseCache, opts as never);
      await start.fastifyAfter?.(app);
      app.route({
        method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'],
        url: '/*',
        handler: async (request, reply) => {
          const r = await run(request.method, request.url, request.headers);
          if (r.throws) throw new Error('handler failed');
          void reply.code(r.status ?? 200);
          for (const [name, value] of Object.entries(r.headers ?? {})) void reply.header(name, value);
          if (r.stream !== undefined) return reply.send(Readable.from(chunks(r.stream)));
          return reply.send(r.body ?? '');
        },
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      server = app.server;
      closeApp = () => app.close();
      break;
    }
    case 'hono': {
      const app = new Hono();
      app.onError((_error, c) => c.text('Internal Server Error', 500));
      start.honoBefore?.(app);
      app.use('*', honoResponseCache(opts as never));
      start.honoAfter?.(app);
      app.all('*', async (c) => {
        const url = new URL(c.req.url);
        const reply = await run(c.req.method, url.pathname + url.search, Object.fromEntries(c.req.raw.headers.entries()));
        if (reply.throws) throw new Error('handler failed');
        const headers: [string, string][] = [];
        for (const [name, value] of Object.entries(reply.headers ?? {})) {
          for (const line of Array.isArray(value) ? value : [value]) headers.push([name, line]);
        }
        if (reply.stream !== undefined) {
          const source = chunks(reply.stream);
          const body = new ReadableStream<Uint8Array>({
            async pull(controller) {
              const next = await source.next();
              if (next.done) controller.close();
              else controller.enqueue(next.value);
            },
          });
          return new Response(body, { status: reply.status ?? 200, headers });
        }
        return new Response(reply.body ?? '', { status: reply.status ?? 200, headers });
      });
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
      break;
    }
  }
  server.on('request', () => {
    arrived++;
  });
  if (!server.listening) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (adapter === 'hono') server.once('listening', resolve);
      else server.listen(0, '127.0.0.1', resolve);
    });
  }
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await closeApp();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  toClose.push(close);
  return {
    adapter,
    port,
    cache,
    calls: (path) => (path === undefined ? total : (counts.get(path) ?? 0)),
    arrivals: () => arrived,
    close,
  };
}

export interface Response1 {
  status: number;
  headers: IncomingHttpHeaders;
  /** Header lines as received: [name, value, name, value, …]. */
  raw: string[];
  body: Buffer;
  text: string;
}

/** One request on a fresh connection, with exactly these headers. */
export function request(port: number, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response1> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const body = Buffer.concat(parts);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: res.rawHeaders, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (init.body !== undefined) req.end(init.body);
    else req.end();
  });
}

/** Waits until `predicate` holds (polling every 2 ms), at most `ms`. */
export async function until(predicate: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
