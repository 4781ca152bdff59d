/**
 * A Fastify 5 plugin over the same core as the Node middleware. Hooks (named, so they show in
 * Fastify's printPlugins and traces):
 * - `onRoute` checks each route's `config.cache` when the route is declared;
 * - `onRequest` looks the page up and answers hits with `reply.send`, so the route's other
 *   `onSend` hooks (`@fastify/compress`) still run on them;
 * - `onSend` records the payload of a miss before route-level `onSend` hooks (compression) change
 *   it, and purges the URL after a successful unsafe request before its response is written.
 * Wrapped with `fastify-plugin`, so it applies to the context it is registered in and its
 * children, and nowhere else.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { ConfigError } from '../errors/config-error.js';
import { ResponseCacheEngine, type LeadResult } from './engine.js';
import { bodyToWrite, computeEtag, headerOf, isStale, notModified, replayHeaders, storedHeaders, type CacheStatus, type PageEntry } from './entry.js';
import type { RequestView } from './key.js';
import { mergeOptions, resolveOptions, type ResponseCacheOptions } from './options.js';
import { checkResponse, servedCacheControl } from './policy.js';
import { NodeRequestView, stripValidators } from './node-view.js';

/** Options of a route's `config.cache`: the plugin's options, overridden for that route. */
export type FastifyRouteCacheOptions = ResponseCacheOptions<FastifyRequest, FastifyReply>;

/** Options of {@link fastifyResponseCache}. */
export interface FastifyResponseCacheOptions extends FastifyRouteCacheOptions {
  /**
   * Cache only the routes that say so with `config: { cache: { … } }` (or `cache: {}`); the others
   * pass through, though their successful unsafe requests still purge the URL.
   * @default false (every GET route of the context is cached unless `config: { cache: false }`)
   * @example app.register(fastifyResponseCache, { optIn: true })
   */
  optIn?: boolean | undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Response caching of this route: `false` turns it off, an object overrides the options of
     * `fastifyResponseCache` for it (e.g. `{ ttl: '1m', tags: () => ['catalog'] }`).
     */
    cache?: false | FastifyRouteCacheOptions | undefined;
  }
}

type Engine = ResponseCacheEngine<FastifyRequest, FastifyReply>;

/** What a request is to this plugin, from onRequest to onSend. */
type RequestState =
  | { type: 'replay' }
  | { type: 'unsafe'; engine: Engine; view: RequestView }
  | {
      type: 'lead';
      engine: Engine;
      stale: PageEntry | undefined;
      validators: RequestView;
      base: [string, string | number | string[]][];
      settle: (result: LeadResult) => void;
    };

const EXTRA_OPTIONS = ['optIn'] as const;
const REPLAY: RequestState = { type: 'replay' };
const EMPTY = Buffer.alloc(0);

function plugin(fastify: FastifyInstance, options: FastifyResponseCacheOptions, done: (error?: Error) => void): void {
  let base: Engine;
  let optIn: boolean;
  try {
    base = new ResponseCacheEngine(resolveOptions(options, EXTRA_OPTIONS));
    optIn = options.optIn ?? false;
    if (typeof optIn !== 'boolean') throw new ConfigError('optIn', 'expected true or false');
  } catch (error) {
    done(error as Error);
    return;
  }
  const { optIn: _optIn, ...shared } = options;
  /** Engines of routes with their own options, by their `config.cache` object. */
  const routeEngines = new WeakMap<object, Engine>();
  const states = new WeakMap<FastifyRequest, RequestState>();

  /** The engine of a request's route, or undefined when caching is off for it. */
  const engineOf = (request: FastifyRequest): Engine | undefined => {
    const config = (request.routeOptions.config as { cache?: false | FastifyRouteCacheOptions } | undefined)?.cache;
    if (config === false) return undefined;
    if (config === undefined) return optIn ? undefined : base;
    let engine = routeEngines.get(config);
    if (engine === undefined) {
      engine = new ResponseCacheEngine(mergeOptions(shared, config));
      routeEngines.set(config, engine);
    }
    return engine;
  };
  /** For unsafe requests, whatever the route says: any engine purges the shared pages of a URL. */
  const purgerOf = (request: FastifyRequest): Engine => engineOf(request) ?? base;

  fastify.addHook('onRoute', function hoardResponseCacheOnRoute(route: RouteOptions) {
    const config = (route.config as { cache?: unknown } | undefined)?.cache;
    if (config === undefined || config === false) return;
    // A bad per-route option fails at startup, naming the option, not at the first request.
    if (typeof config !== 'object' || config === null) throw new ConfigError('config.cache', 'expected false or an object of response cache options');
    if (!routeEngines.has(config)) routeEngines.set(config, new ResponseCacheEngine(mergeOptions(shared, config as FastifyRouteCacheOptions)));
  });

  fastify.addHook('onRequest', function hoardResponseCacheOnRequest(request: FastifyRequest, reply: FastifyReply, next: (error?: Error) => void) {
    const raw = request.raw;
    const view = new NodeRequestView(raw.method, request.originalUrl, raw.headers);
    const engine = request.method === 'GET' || request.method === 'HEAD' ? engineOf(request) : purgerOf(request);
    if (engine === undefined) {
      next();
      return;
    }
    let route;
    try {
      route = engine.route(view, request);
    } catch (error) {
      next(error as Error);
      return;
    }
    switch (route.type) {
      case 'bypass':
        void reply.header('X-Cache', 'BYPASS');
        next();
        return;
      case 'unsafe':
        void reply.header('X-Cache', 'BYPASS');
        states.set(request, { type: 'unsafe', engine, view });
        next();
        return;
      case 'head':
        void engine.head(route.key).then((entry) => {
          const now = engine.now();
          if (entry !== undefined && !isStale(entry, now)) {
            states.set(request, REPLAY);
            replay(reply, entry, 'HIT', view, now);
          } else {
            void reply.header('X-Cache', 'MISS');
            next();
          }
        });
        return;
      case 'get': {
        // A hit needs no state: onSend passes what it does not know through.
        const now = engine.now();
        const page = engine.peek(route.key, now);
        if (page !== undefined) {
          replay(reply, page, 'HIT', view, now, true);
          return;
        }
        let led = false;
        void engine
          .lookup(route.key, view, (stale) => {
            led = true;
            return new Promise<LeadResult>((settle) => {
              const validators = stripValidators(view, raw.headers);
              states.set(request, { type: 'lead', engine, stale, validators, base: headerPairs(reply), settle });
              reply.raw.once('close', () => settle({ type: 'aborted' }));
              next();
            });
          })
          .then(
            (result) => {
              if (result.type === 'led') return;
              if (result.type === 'hit') {
                states.set(request, REPLAY);
                replay(reply, result.entry, result.stale ? 'STALE' : 'HIT', view, engine.now());
                return;
              }
              void reply.header('X-Cache', 'MISS');
              next();
            },
            (error: unknown) => {
              if (!led) next(error as Error);
            },
          );
        return;
      }
    }
  });

  fastify.addHook('onSend', function hoardResponseCacheOnSend(request: FastifyRequest, reply: FastifyReply, payload: unknown, next: (error: Error | null, payload?: unknown) => void) {
    const state = states.get(request);
    if (state === undefined || state.type === 'replay') {
      next(null, payload);
      return;
    }
    if (state.type === 'unsafe') {
      const status = reply.statusCode;
      if (status < 200 || status >= 400) {
        next(null, payload);
        return;
      }
      states.delete(request);
      const location = reply.getHeader('location');
      const contentLocation = reply.getHeader('content-location');
      void state.engine
        .invalidate(state.view, status, typeof location === 'string' ? location : undefined, typeof contentLocation === 'string' ? contentLocation : undefined)
        .then(() => next(null, payload));
      return;
    }
    next(null, recordPayload(request, reply, payload, state));
  });

  done();
}

/**
 * Judges the payload of the request leading a miss and returns the payload to send. The page is
 * only settled when the headers are written, since `onSend` hooks after this one may still add a
 * cookie (`@fastify/cookie`) or change the status.
 */
function recordPayload(request: FastifyRequest, reply: FastifyReply, payload: unknown, state: Extract<RequestState, { type: 'lead' }>): unknown {
  const { engine, stale, settle } = state;
  const options = engine.options;
  const status = reply.statusCode;
  const now = engine.now();
  if (payload !== null && payload !== undefined && typeof payload !== 'string' && !Buffer.isBuffer(payload)) {
    void reply.header('X-Cache', 'MISS');
    settle({ type: 'refuse', reason: 'streamed', remember: true });
    return payload;
  }
  const body = payload === null || payload === undefined ? EMPTY : typeof payload === 'string' ? Buffer.from(payload) : payload;
  const verdict = checkResponse(status, (name) => reply.getHeader(name), engine.rules, now);
  if (!verdict.ok || body.length > options.maxBodyBytes) {
    if (stale !== undefined && status >= 500) {
      // stale-if-error: the client gets the stale page, not the error.
      for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
      for (const [name, value] of state.base) void reply.header(name, value);
      const nm = notModified(state.validators, stale.etag, headerOf(stale.headers, 'last-modified'));
      void reply.code(nm ? 304 : stale.status).headers(replayHeaders(stale, 'STALE', now, nm));
      settle({ type: 'failed', status });
      return nm ? null : stale.body;
    }
    void reply.header('X-Cache', 'MISS');
    settle(verdict.ok ? { type: 'refuse', reason: 'too-large', remember: true } : { type: 'refuse', reason: verdict.reason, remember: verdict.remember });
    return payload;
  }
  let tags: readonly string[] = [];
  try {
    if (options.condition !== undefined && !options.condition(request, reply)) {
      void reply.header('X-Cache', 'MISS');
      settle({ type: 'refuse', reason: 'condition', remember: true });
      return payload;
    }
    if (options.tags !== undefined) tags = [...options.tags(request, reply)];
  } catch (error) {
    settle({ type: 'refuse', reason: 'callback', remember: false });
    throw error;
  }
  const given = reply.getHeader('etag');
  const etag = typeof given === 'string' && given !== '' ? given : computeEtag(body);
  void reply.header('ETag', etag);
  const handlerCc = reply.getHeader('cache-control');
  const cc = servedCacheControl(options.cacheControl, handlerCc === undefined ? undefined : String(handlerCc), verdict.ttl, engine.privateCache);
  if (cc !== undefined) void reply.header('Cache-Control', cc);
  const entry: PageEntry = {
    kind: 'page',
    status,
    headers: storedHeaders(Object.entries(reply.getHeaders())),
    body,
    etag,
    storedAt: now,
    ttl: verdict.ttl,
    mustRevalidate: verdict.mustRevalidate,
  };
  void reply.header('X-Cache', 'MISS');
  const nm = notModified(state.validators, etag, headerOf(entry.headers, 'last-modified'));
  settleOnWriteHead(reply.raw, nm ? 304 : status, { type: 'store', entry, tags }, settle);
  if (!nm) return payload;
  // The leader's own validators match the new page: a 304 for it, the whole page stored.
  void reply.code(304);
  for (const name of Object.keys(reply.getHeaders())) if (name === 'content-type' || name === 'content-length') reply.removeHeader(name);
  return null;
}

/**
 * Settles the leader's page when Fastify writes the headers: refused if by then a cookie was
 * added or the status changed.
 */
function settleOnWriteHead(res: ServerResponse, expected: number, page: LeadResult, settle: (result: LeadResult) => void): void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back on the response itself
  const writeHead = res.writeHead;
  res.writeHead = function hoardWriteHead(this: ServerResponse, status: number, ...rest: unknown[]): ServerResponse {
    res.writeHead = writeHead;
    const headers = rest.find((r): r is Record<string, unknown> => typeof r === 'object' && r !== null && !Array.isArray(r));
    const cookie = res.hasHeader('set-cookie') || (headers !== undefined && Object.keys(headers).some((k) => k.toLowerCase() === 'set-cookie'));
    if (cookie) settle({ type: 'refuse', reason: 'set-cookie', remember: true });
    else if (status !== expected) settle({ type: 'refuse', reason: `status ${status}`, remember: status < 500 });
    else settle(page);
    return (writeHead as (this: ServerResponse, ...args: unknown[]) => ServerResponse).call(res, status, ...rest);
  };
}

function headerPairs(reply: FastifyReply): [string, string | number | string[]][] {
  const out: [string, string | number | string[]][] = [];
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) out.push([name, value]);
  return out;
}

/** Answers with a stored page through `reply.send`, so the route's `onSend` hooks run as usual. */
function replay(reply: FastifyReply, entry: PageEntry, status: CacheStatus, view: RequestView, now: number, held = false): void {
  const nm = notModified(view, entry.etag, headerOf(entry.headers, 'last-modified'));
  void reply
    .code(nm ? 304 : entry.status)
    .headers(replayHeaders(entry, status, now, nm))
    .send(nm ? undefined : bodyToWrite(entry, held));
}

/**
 * The Fastify plugin: caches the GET routes of the context it is registered in (and its
 * children), under the same rules as `cacheResponse` (see docs/http.md). A route opts out with
 * `config: { cache: false }` or sets its own options with `config: { cache: { … } }`; with
 * `optIn: true` only routes with `config.cache` are cached. Register it before routes.
 * @throws ConfigError (at registration, or when a route is declared) naming a bad option.
 * @example
 * await app.register(fastifyResponseCache, { cache, ttl: '1m' });
 * app.get('/catalog', { config: { cache: { ttl: '1h', tags: () => ['catalog'] } } }, listCatalog);
 */
export const fastifyResponseCache: FastifyPluginCallback<FastifyResponseCacheOptions> = fp(plugin, {
  fastify: '5.x',
  name: 'hoard-response-cache',
});
