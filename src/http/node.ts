/**
 * Connect-style middleware for Node's `http` and Express: `cacheResponse`, `cachePublic`,
 * `cachePrivate`, `noCache`. Only `node:http` types are used, so Express stays an optional peer.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { parseDuration, type Duration } from '../config/duration.js';
import { ResponseCacheEngine, type LeadResult, type LookupResult } from './engine.js';
import {
  bodyToWrite,
  computeEtag,
  headerOf,
  isStale,
  notModified,
  replayHeaders,
  storedHeaders,
  type CacheStatus,
  type PageEntry,
} from './entry.js';
import type { RequestView } from './key.js';
import { resolveOptions, type ResponseCacheOptions } from './options.js';
import { checkResponse, servedCacheControl } from './policy.js';
import { recordResponse, type Completion, type Originals, type RecorderHooks } from './node-recorder.js';
import { NodeRequestView, stripValidators } from './node-view.js';

/** Express' and connect's `next`: call it to go on, with an error to fail the request. */
export type NextFunction = (error?: unknown) => void;

/** A connect-style middleware, usable with `app.use` in Express and with plain `node:http`. */
export type Middleware<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> = (
  req: Req,
  res: Res,
  next: NextFunction,
) => void;

/** Options of {@link cacheResponse}: callbacks get Node's (or Express') request and response. */
export type CacheResponseOptions<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> = ResponseCacheOptions<
  Req,
  Res
>;

/** Options of {@link cachePublic} and {@link cachePrivate} besides the TTL they take first. */
export type CacheRouteOptions<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse> = Omit<
  CacheResponseOptions<Req, Res>,
  'ttl'
>;

/**
 * What the response-cache middlewares have noted on a request, under a symbol of this module (a
 * property, not a WeakSet: cheaper to set on every request, and gone with the request):
 * - {@link HANDLED}: a cache middleware has taken it (looked it up, or an unsafe request it purges
 *   after), so a second one further down the chain stays out of the way. A request one cache
 *   bypassed (credentials in a shared cache) is not taken, so a private cache on the route can
 *   still serve it.
 * - {@link NO_CACHE}: marked by `noCache()`.
 */
const MARKS: unique symbol = Symbol('hoard.responseCache');
const HANDLED = 1;
const NO_CACHE = 2;
type Marked = { [MARKS]?: number };

function marked(req: IncomingMessage, flag: number): boolean {
  const marks = (req as Marked)[MARKS];
  return marks !== undefined && (marks & flag) !== 0;
}

function mark(req: IncomingMessage, flag: number): void {
  const r = req as Marked;
  r[MARKS] = (r[MARKS] ?? 0) | flag;
}

/**
 * Caches whole responses of `GET` (and serves `HEAD` from them) in a hoard cache, following the
 * rules of a shared cache decided by the server (see docs/http.md): only 200 by default, never a
 * response with `Set-Cookie`, `private`, `no-store` or `Vary: *`, never for requests with
 * `Authorization` or `Cookie` unless `identity` makes it a private cache; concurrent misses run
 * the handler once; successful unsafe requests purge the URL. Sets `ETag`, `Age`, `Cache-Control`
 * and `X-Cache: HIT | MISS | STALE | BYPASS`, and answers `If-None-Match` with 304.
 * Mount it app-wide, on a router or per route. Of two on one request path, the inner one defers
 * to the outer, unless the outer bypassed the request: `cachePrivate` on a route still caches the
 * credentialed requests an app-wide shared cache passes by. Unsafe requests must pass through it
 * for their invalidation to happen.
 * @throws ConfigError naming the option when an option is bad.
 * @example
 * app.use(cacheResponse({ ttl: '1m', grace: '10m', tags: (req) => ['catalog'] }));
 * http.createServer((req, res) => mw(req, res, () => handler(req, res)));
 */
export function cacheResponse<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(
  options: CacheResponseOptions<Req, Res> = {},
): Middleware<Req, Res> {
  const engine = new ResponseCacheEngine<Req, Res>(resolveOptions(options));

  return function hoardCacheResponse(req: Req, res: Res, next: NextFunction): void {
    if (marked(req, HANDLED)) {
      next();
      return;
    }
    if (marked(req, NO_CACHE)) {
      res.setHeader('X-Cache', 'BYPASS');
      next();
      return;
    }
    // Express rewrites req.url inside a mounted router; originalUrl is what the client asked for.
    const view = new NodeRequestView(req.method, (req as { originalUrl?: string }).originalUrl ?? req.url, req.headers);
    let route;
    try {
      route = engine.route(view, req);
    } catch (error) {
      next(error); // a throwing `identity` fails the request, as the app's own code would
      return;
    }
    switch (route.type) {
      case 'bypass':
        // Not taken: a cache further down (cachePrivate on the route) may still take it.
        res.setHeader('X-Cache', 'BYPASS');
        next();
        return;
      case 'unsafe':
        mark(req, HANDLED);
        res.setHeader('X-Cache', 'BYPASS');
        invalidateAfter(engine, view, res);
        next();
        return;
      case 'head':
        mark(req, HANDLED);
        void serveHead(engine, view, res, next, route.key);
        return;
      case 'get':
        mark(req, HANDLED);
        serveGet(engine, view, req, res, next, route.key);
        return;
    }
  };
}

/**
 * {@link cacheResponse} with a fixed TTL, sending `Cache-Control: public, max-age=<ttl>` with the
 * pages it stores, so browsers and CDNs may keep them too.
 * @param ttl how long pages are served from the cache (> 0). @default '1h'
 * @throws ConfigError naming the option when an option is bad.
 * @example app.get('/catalog', cachePublic('1h'), listCatalog);
 */
export function cachePublic<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(
  ttl: Duration = '1h',
  options: CacheRouteOptions<Req, Res> = {},
): Middleware<Req, Res> {
  const ms = parseDuration(ttl, 'ttl');
  return cacheResponse<Req, Res>({ ...options, ttl: ms, cacheControl: options.cacheControl ?? `public, max-age=${maxAge(ms)}` });
}

/**
 * {@link cacheResponse} as a private cache: pages are keyed by the user's identity and never
 * served to anyone else; requests with `Authorization` or `Cookie` are cached per identity; pages
 * are sent with `Cache-Control: private, max-age=<ttl>`. The identity is `options.identity`, by
 * default a hash of the `Authorization` and `Cookie` headers (`'credentials'`).
 * @param ttl how long pages are served from the cache (> 0). @default '5m'
 * @throws ConfigError naming the option when an option is bad.
 * @example app.get('/me/orders', cachePrivate('5m', { identity: (req) => req.user?.id }), listOrders);
 */
export function cachePrivate<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(
  ttl: Duration = '5m',
  options: CacheRouteOptions<Req, Res> = {},
): Middleware<Req, Res> {
  const ms = parseDuration(ttl, 'ttl');
  return cacheResponse<Req, Res>({
    ...options,
    ttl: ms,
    identity: options.identity ?? 'credentials',
    cacheControl: options.cacheControl ?? `private, max-age=${maxAge(ms)}`,
  });
}

/**
 * Marks a route as never cached: sends `Cache-Control: no-store` (the handler may still set its
 * own). A response cache that runs after it (`app.get(path, noCache(), cacheResponse(), …)`)
 * passes the request through (`X-Cache: BYPASS`); one that runs before it (app-wide) sees
 * `no-store` and does not store the response.
 * @example app.get('/me', noCache(), currentUser);
 */
export function noCache<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(): Middleware<Req, Res> {
  return function hoardNoCache(req: Req, res: Res, next: NextFunction): void {
    mark(req, NO_CACHE);
    res.setHeader('Cache-Control', 'no-store');
    if (marked(req, HANDLED) && !res.headersSent) res.setHeader('X-Cache', 'BYPASS');
    next();
  };
}

function maxAge(ms: number): number {
  return Math.floor(Math.min(ms / 1000, 31_536_000));
}

async function serveHead<Req, Res>(engine: ResponseCacheEngine<Req, Res>, view: RequestView, res: ServerResponse, next: NextFunction, key: string): Promise<void> {
  const entry = await engine.head(key);
  const now = engine.now();
  if (entry !== undefined && !isStale(entry, now)) {
    replay(res, entry, 'HIT', view, now);
    return;
  }
  res.setHeader('X-Cache', 'MISS');
  next();
}

function serveGet<Req extends IncomingMessage, Res extends ServerResponse>(
  engine: ResponseCacheEngine<Req, Res>,
  view: NodeRequestView,
  req: Req,
  res: Res,
  next: NextFunction,
  key: string,
): void {
  const now = engine.now();
  const page = engine.peek(key, now);
  if (page !== undefined) {
    replay(res, page, 'HIT', view, now, true);
    return;
  }
  let led = false;
  engine
    .lookup(key, view, (stale) => {
      led = true;
      return lead(engine, view, req, res, next, stale);
    })
    .then(
      (result) => answer(engine, view, res, next, result),
      () => answer(engine, view, res, next, { type: led ? 'led' : 'pass' }),
    )
    .catch((error: unknown) => {
      // Writing the answer failed (a bug, or a response closed under us): the request fails.
      if (!res.headersSent) next(error);
    });
}

function answer<Req, Res>(engine: ResponseCacheEngine<Req, Res>, view: RequestView, res: ServerResponse, next: NextFunction, result: LookupResult): void {
  switch (result.type) {
    case 'led':
      return;
    case 'hit':
      replay(res, result.entry, result.stale ? 'STALE' : 'HIT', view, engine.now());
      return;
    case 'pass':
      res.setHeader('X-Cache', 'MISS');
      next();
      return;
  }
}

/**
 * Runs the handler for the request leading a miss and records its response. Validators are taken
 * off the request first, so the handler (or Express' freshness check) never answers 304 to what
 * would be stored; the leader still gets its 304 when its validators match the new page.
 */
function lead<Req extends IncomingMessage, Res extends ServerResponse>(
  engine: ResponseCacheEngine<Req, Res>,
  view: NodeRequestView,
  req: Req,
  res: Res,
  next: NextFunction,
  stale: PageEntry | undefined,
): Promise<LeadResult> {
  return new Promise<LeadResult>((resolve) => {
    recordResponse(res, engine.options.maxBodyBytes, new Leader(engine, req, res, stale, stripValidators(view, req.headers), resolve));
    try {
      next();
    } catch (error) {
      // Without the cache this error would reach the server's request listener: let it.
      resolve({ type: 'aborted' });
      process.nextTick(() => {
        throw error;
      });
    }
  });
}

/** Judges the recorded response of the request leading a miss (one object per miss, no closures). */
class Leader<Req extends IncomingMessage, Res extends ServerResponse> implements RecorderHooks {
  #result: LeadResult | undefined;
  /** Headers set before the handler ran (by middleware mounted earlier), restored under a stale page. */
  readonly #base: [string, OutgoingHttpHeaders[string]][] | undefined;

  constructor(
    readonly engine: ResponseCacheEngine<Req, Res>,
    readonly req: Req,
    readonly res: Res,
    readonly stale: PageEntry | undefined,
    /** The leader's own validators, kept for its answer. */
    readonly validators: RequestView,
    readonly resolve: (result: LeadResult) => void,
  ) {
    this.#base = stale === undefined ? undefined : headerPairs(res);
  }

  complete(body: Buffer): Completion {
    const { engine, req, res, stale } = this;
    const options = engine.options;
    const now = engine.now();
    const status = res.statusCode;
    const verdict = checkResponse(status, (name) => res.getHeader(name), engine.rules, now);
    if (!verdict.ok) {
      if (stale !== undefined && status >= 500) {
        // stale-if-error: the client gets the stale page, not the error.
        this.#result = { type: 'failed', status };
        const base = this.#base ?? [];
        return { type: 'replace', write: (originals) => writeStale(res, originals, base, stale, this.validators, now) };
      }
      return this.#refuse(verdict.reason, verdict.remember);
    }
    let tags: readonly string[] = [];
    try {
      if (options.condition !== undefined && !options.condition(req, res)) return this.#refuse('condition', true);
      if (options.tags !== undefined) tags = [...options.tags(req, res)];
    } catch {
      // A throwing callback must not break a response already on its way: not stored.
      return this.#refuse('callback', false);
    }
    const given = res.getHeader('etag');
    const etag = typeof given === 'string' && given !== '' ? given : computeEtag(body);
    res.setHeader('ETag', etag);
    const handlerCc = res.getHeader('cache-control');
    const cc = servedCacheControl(options.cacheControl, handlerCc === undefined ? undefined : String(handlerCc), verdict.ttl, engine.privateCache);
    if (cc !== undefined) res.setHeader('Cache-Control', cc);
    const entry: PageEntry = {
      kind: 'page',
      status,
      headers: storedHeaders(headerPairs(res)),
      body,
      etag,
      storedAt: now,
      ttl: verdict.ttl,
      mustRevalidate: verdict.mustRevalidate,
    };
    this.#result = { type: 'store', entry, tags };
    res.setHeader('X-Cache', 'MISS');
    if (notModified(this.validators, etag, headerOf(entry.headers, 'last-modified'))) {
      toNotModified(res, entry, now);
      return { type: 'not-modified' };
    }
    return SEND;
  }

  #refuse(reason: string, remember: boolean): Completion {
    this.#result = { type: 'refuse', reason, remember };
    this.res.setHeader('X-Cache', 'MISS');
    return SEND;
  }

  streaming(): void {
    this.res.setHeader('X-Cache', 'MISS');
    this.resolve({ type: 'refuse', reason: 'streamed', remember: true });
  }

  sent(): void {
    // A layer mounted outside the cache may add a cookie while the headers are written
    // (express-session does): the page is then refused after all.
    let result = this.#result;
    if (result?.type === 'store' && this.res.hasHeader('set-cookie')) result = { type: 'refuse', reason: 'set-cookie', remember: true };
    this.resolve(result ?? { type: 'aborted' });
  }

  aborted(): void {
    this.resolve({ type: 'aborted' });
  }
}

const SEND: Completion = { type: 'send' };

/** The response's headers with the names as the handler spelled them (Node >= 15.13 keeps them). */
function headerPairs(res: ServerResponse): [string, OutgoingHttpHeaders[string]][] {
  const raw = (res as { getRawHeaderNames?: () => string[] }).getRawHeaderNames;
  const names = typeof raw === 'function' ? raw.call(res) : res.getHeaderNames();
  return names.map((name) => [name, res.getHeader(name)]);
}

/** Turns the leader's response into a 304 for its matching validators (the page is stored whole). */
function toNotModified(res: ServerResponse, entry: PageEntry, now: number): void {
  const headers = replayHeaders(entry, 'MISS', now, true);
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  for (const name of Object.keys(headers)) if (name !== 'Age') res.setHeader(name, headers[name]!);
  res.statusCode = 304;
  res.statusMessage = STATUS_CODES[304]!;
}

function writeStale(
  res: ServerResponse,
  originals: Originals,
  base: readonly [string, OutgoingHttpHeaders[string]][],
  entry: PageEntry,
  view: RequestView,
  now: number,
): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  for (const [name, value] of base) if (value !== undefined) res.setHeader(name, value);
  const nm = notModified(view, entry.etag, headerOf(entry.headers, 'last-modified'));
  const headers = replayHeaders(entry, 'STALE', now, nm);
  for (const name of Object.keys(headers)) res.setHeader(name, headers[name]!);
  const status = nm ? 304 : entry.status;
  res.statusCode = status;
  res.statusMessage = STATUS_CODES[status] ?? '';
  originals.end(nm ? undefined : entry.body);
}

/** Writes a stored page (a 304 when the request's validators match it). */
function replay(res: ServerResponse, entry: PageEntry, status: CacheStatus, view: RequestView, now: number, held = false): void {
  const nm = notModified(view, entry.etag, headerOf(entry.headers, 'last-modified'));
  res.writeHead(nm ? 304 : entry.status, replayHeaders(entry, status, now, nm));
  // Node sends no body for HEAD and 304 whatever is passed; skip the copy anyway.
  if (nm || view.method === 'HEAD') res.end();
  else res.end(bodyToWrite(entry, held));
}

/**
 * A successful unsafe request purges its URL before its response ends, so a client that sends a
 * GET after its POST completed never gets the page from before (RFC 9111 section 4.4; FAULTS.md
 * H6). The end waits for the purge to reach the shared tier too.
 */
function invalidateAfter<Req, Res>(engine: ResponseCacheEngine<Req, Res>, view: RequestView, res: ServerResponse): void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back on the response itself
  const origEnd = res.end;
  res.end = function end(this: ServerResponse, ...args: unknown[]): ServerResponse {
    res.end = origEnd;
    const status = res.statusCode;
    const call = (): ServerResponse => (origEnd as (...a: unknown[]) => ServerResponse).apply(res, args);
    if (status < 200 || status >= 400) return call();
    const location = res.getHeader('location');
    const contentLocation = res.getHeader('content-location');
    void engine
      .invalidate(view, status, typeof location === 'string' ? location : undefined, typeof contentLocation === 'string' ? contentLocation : undefined)
      .then(call);
    return res;
  } as ServerResponse['end'];
}
