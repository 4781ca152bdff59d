/**
 * A Hono 4 middleware over the same core as the Node middleware. It works on the Response Hono
 * builds, so it runs wherever Hono does; on `@hono/node-server` it reads the request headers from
 * Node's `IncomingMessage` directly, which keeps a hit from building a `Headers` object.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { noteBuffered } from './buffered.js';
import { ResponseCacheEngine, type LeadResult } from './engine.js';
import { bodyToWrite, computeEtag, headerOf, isStale, notModified, replayHeaders, storedHeaders, type CacheStatus, type PageEntry } from './entry.js';
import type { RequestView } from './key.js';
import { NodeRequestView, VALIDATORS } from './node-view.js';
import { resolveOptions, type ResponseCacheOptions } from './options.js';
import { checkResponse, servedCacheControl, type HeaderReader } from './policy.js';

/** Options of {@link honoResponseCache}: callbacks get Hono's `Context` and the handler's `Response`. */
export type HonoResponseCacheOptions = ResponseCacheOptions<Context, Response>;

interface NodeBindings {
  incoming?: { url?: string; headers?: IncomingHttpHeaders; rawHeaders?: string[] };
  outgoing?: { setHeader?: (name: string, value: string) => unknown };
}

class FetchRequestView implements RequestView {
  readonly method: string;
  readonly url: string;
  readonly #headers: Headers;

  constructor(method: string, url: string, headers: Headers) {
    this.method = method;
    const parsed = new URL(url);
    this.url = parsed.pathname + parsed.search;
    this.#headers = headers;
  }

  header(name: string): string | undefined {
    return this.#headers.get(name) ?? undefined;
  }
}

function incomingOf(c: Context): NodeBindings['incoming'] {
  const env = c.env as unknown;
  if (typeof env !== 'object' || env === null) return undefined;
  const incoming = (env as NodeBindings).incoming;
  return typeof incoming === 'object' && incoming !== null && typeof incoming.headers === 'object' ? incoming : undefined;
}

function viewOf(c: Context): RequestView {
  const incoming = incomingOf(c);
  if (incoming?.headers !== undefined) return new NodeRequestView(c.req.method, incoming.url, incoming.headers);
  return new FetchRequestView(c.req.method, c.req.url, c.req.raw.headers);
}

/**
 * Caches whole responses of `GET` (and serves `HEAD` from them) under the same rules as
 * `cacheResponse` (see docs/http.md). Mount it with `app.use('*', …)` so that successful unsafe
 * requests pass through it and purge their URL. Callbacks (`condition`, `tags`, `identity`)
 * receive Hono's `Context` (and the handler's `Response`).
 * @throws ConfigError naming the option when an option is bad.
 * @example
 * const app = new Hono();
 * app.use('*', honoResponseCache({ cache, ttl: '1m' }));
 * app.get('/catalog', (c) => c.json(listCatalog()));
 * serve({ fetch: app.fetch, port: 3000 });
 */
export function honoResponseCache(options: HonoResponseCacheOptions = {}): MiddlewareHandler {
  const engine = new ResponseCacheEngine<Context, Response>(resolveOptions(options));

  return async function hoardResponseCache(c, next): Promise<Response | undefined> {
    const view = viewOf(c);
    const route = engine.route(view, c);
    switch (route.type) {
      case 'bypass':
        await next();
        setHeader(c, 'X-Cache', 'BYPASS');
        return undefined;
      case 'unsafe': {
        await next();
        const res = c.res;
        await engine.invalidate(view, res.status, res.headers.get('location') ?? undefined, res.headers.get('content-location') ?? undefined);
        setHeader(c, 'X-Cache', 'BYPASS');
        return undefined;
      }
      case 'head': {
        const entry = await engine.head(route.key);
        const now = engine.now();
        if (entry !== undefined && !isStale(entry, now)) return toResponse(entry, 'HIT', view, now, true);
        await next();
        setHeader(c, 'X-Cache', 'MISS');
        return undefined;
      }
      case 'get': {
        const now = engine.now();
        const page = engine.peek(route.key, now);
        if (page !== undefined) return toResponse(page, 'HIT', view, now, false, false, true);
        let led = false;
        const result = await engine
          .lookup(route.key, view, async (stale) => {
            led = true;
            const validators = stripValidators(c, view);
            await next();
            return capture(c, engine, stale, validators);
          })
          .catch(() => ({ type: led ? 'led' : 'pass' }) as const);
        if (result.type === 'led') return undefined;
        if (result.type === 'hit') return toResponse(result.entry, result.stale ? 'STALE' : 'HIT', view, engine.now(), false);
        await next();
        setHeader(c, 'X-Cache', 'MISS');
        return undefined;
      }
    }
  };
}

/** Takes the validators off the request (the handler must not answer 304 to what is stored). */
function stripValidators(c: Context, view: RequestView): RequestView {
  const present: string[] = VALIDATORS.filter((name) => view.header(name) !== undefined);
  if (present.length === 0) return view;
  const saved = new Map(present.map((name) => [name, view.header(name)!]));
  const original: RequestView = { method: view.method, url: view.url, header: (name) => saved.get(name) ?? view.header(name) };
  const incoming = incomingOf(c);
  if (incoming?.headers !== undefined) {
    for (const name of present) delete incoming.headers[name];
    const raw = incoming.rawHeaders;
    if (raw !== undefined) {
      for (let i = raw.length - 2; i >= 0; i -= 2) if ((VALIDATORS as readonly string[]).includes(raw[i]!.toLowerCase())) raw.splice(i, 2);
    }
  }
  try {
    for (const name of present) c.req.raw.headers.delete(name);
  } catch {
    // Immutable request headers (some runtimes): continue with a copy without them.
    const headers = new Headers(c.req.raw.headers);
    for (const name of present) headers.delete(name);
    c.req.raw = new Request(c.req.raw, { headers });
  }
  return original;
}

/**
 * Adds `X-Cache` to the response the handler made. On @hono/node-server it goes on Node's response,
 * under whatever Response is sent (Hono rebuilds the Response of a HEAD request from its init).
 */
function setHeader(c: Context, name: string, value: string): void {
  const env = c.env as unknown;
  const outgoing = typeof env === 'object' && env !== null ? (env as NodeBindings).outgoing : undefined;
  if (outgoing !== undefined && typeof outgoing.setHeader === 'function') {
    outgoing.setHeader(name, value);
    return;
  }
  try {
    c.res.headers.set(name, value);
  } catch {
    // A response with immutable headers (straight from fetch()) goes out as it is.
  }
}

function readerOf(headers: Headers): HeaderReader {
  return (name) => {
    if (name === 'set-cookie') {
      const cookies = headers.getSetCookie();
      return cookies.length === 0 ? undefined : cookies;
    }
    return headers.get(name) ?? undefined;
  };
}

/** Replaces the context's response without merging the old one's headers into it. */
function replace(c: Context, res: Response): void {
  c.res = undefined;
  c.res = res;
}

/** Judges the handler's response of a miss; the page to store, or why not. */
async function capture(c: Context, engine: ResponseCacheEngine<Context, Response>, stale: PageEntry | undefined, validators: RequestView): Promise<LeadResult> {
  const res = c.res;
  const status = res.status;
  const now = engine.now();
  const options = engine.options;
  const verdict = checkResponse(status, readerOf(res.headers), engine.rules, now);
  if (!verdict.ok) {
    if (stale !== undefined && status >= 500) {
      // stale-if-error: the client gets the stale page, not the error.
      await res.body?.cancel().catch(() => undefined);
      replace(c, toResponse(stale, 'STALE', validators, now, false));
      return { type: 'failed', status };
    }
    setHeader(c, 'X-Cache', 'MISS');
    return { type: 'refuse', reason: verdict.reason, remember: verdict.remember };
  }
  const direct = bodyHeld(res);
  const read: Read =
    direct !== undefined && direct.byteLength <= options.maxBodyBytes ? { type: 'complete', body: direct } : await readBody(res.body, options.maxBodyBytes);
  // Reading statusText makes @hono/node-server build a full Response (and a stream) for a body
  // read directly; Node writes the standard reason phrase for the status anyway.
  const statusText = direct === undefined ? res.statusText : undefined;
  const init = (headers: Headers): ResponseInit => (statusText === undefined ? { status, headers } : { status, statusText, headers });
  if (read.type === 'stream') {
    const headers = new Headers(res.headers);
    headers.set('X-Cache', 'MISS');
    replace(c, new Response(read.body, init(headers)));
    return { type: 'refuse', reason: 'streamed', remember: true };
  }
  const body = read.body;
  const headers = new Headers(res.headers);
  headers.set('X-Cache', 'MISS');
  let tags: readonly string[] = [];
  const refuse = (reason: string, remember: boolean): LeadResult => {
    replace(c, new Response(body.length === 0 ? null : body, init(headers)));
    return { type: 'refuse', reason, remember };
  };
  try {
    if (options.condition !== undefined && !options.condition(c, res)) return refuse('condition', true);
    if (options.tags !== undefined) tags = [...options.tags(c, res)];
  } catch (error) {
    refuse('callback', false);
    throw error;
  }
  const etag = headers.get('etag') || computeEtag(body);
  headers.set('ETag', etag);
  const cc = servedCacheControl(options.cacheControl, headers.get('cache-control') ?? undefined, verdict.ttl, engine.privateCache);
  if (cc !== undefined) headers.set('Cache-Control', cc);
  const entry: PageEntry = {
    kind: 'page',
    status,
    headers: storedHeaders(headers.entries()),
    body,
    etag,
    storedAt: now,
    ttl: verdict.ttl,
    mustRevalidate: verdict.mustRevalidate,
  };
  if (notModified(validators, etag, headerOf(entry.headers, 'last-modified'))) {
    replace(c, toResponse(entry, 'MISS', validators, now, false, true));
  } else {
    replace(c, new Response(body.length === 0 ? null : body, init(headers)));
  }
  return { type: 'store', entry, tags };
}

/**
 * @hono/node-server's own `Response` keeps a string or byte body as it was given, under a symbol
 * described `cache` (`[status, body, headers]`), until something reads `body`. Reading it there
 * saves building a web stream and reading it back, which costs more than the rest of a miss. Any
 * other Response (another runtime, a stream body, a changed layout) goes through `readBody`.
 */
let heldKey: symbol | undefined;

function bodyHeld(res: Response): Buffer | undefined {
  if (heldKey === undefined) {
    heldKey = Object.getOwnPropertySymbols(res).find((symbol) => symbol.description === 'cache');
    if (heldKey === undefined) return undefined;
  }
  const held = (res as unknown as Record<symbol, unknown>)[heldKey];
  if (!Array.isArray(held) || held.length !== 3) return undefined;
  const body: unknown = held[1];
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return toBuffer(body);
  return undefined;
}

type Read = { type: 'complete'; body: Buffer } | { type: 'stream'; body: ReadableStream<Uint8Array> };
const TURN = Symbol('turn');
const EMPTY = Buffer.alloc(0);

/**
 * Reads a body that is complete within this turn of the event loop and within `limit` bytes. A
 * body still open when the turn ends, or larger, is returned as a stream that replays what was
 * read and goes on with the rest: it passes through, and no more than `limit` bytes are held.
 */
async function readBody(stream: ReadableStream<Uint8Array> | null, limit: number): Promise<Read> {
  if (stream === null) return { type: 'complete', body: EMPTY };
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let immediate: NodeJS.Immediate | undefined;
  const turn = new Promise<typeof TURN>((resolve) => {
    immediate = setImmediate(resolve, TURN);
  });
  try {
    for (;;) {
      const pending = reader.read();
      const r = await Promise.race([pending, turn]);
      if (r === TURN) return { type: 'stream', body: resume(chunks, pending, reader) };
      if (r.done) return { type: 'complete', body: chunks.length === 1 ? toBuffer(chunks[0]!) : Buffer.concat(chunks, size) };
      if (size + r.value.byteLength > limit) {
        chunks.push(r.value);
        return { type: 'stream', body: resume(chunks, undefined, reader) };
      }
      chunks.push(r.value);
      size += r.value.byteLength;
      noteBuffered(size);
    }
  } finally {
    clearImmediate(immediate);
  }
}

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

type ReadableStreamReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;

function resume(
  read: Uint8Array[],
  pending: Promise<ReadableStreamReadResult> | undefined,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStream<Uint8Array> {
  let next = pending;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const first = read.shift();
      if (first !== undefined) {
        controller.enqueue(first);
        return;
      }
      const r = await (next ?? reader.read());
      next = undefined;
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** A stored page as a Response (a 304 when the request's validators match it). */
function toResponse(entry: PageEntry, status: CacheStatus, view: RequestView, now: number, head: boolean, forceNotModified = false, held = false): Response {
  const nm = forceNotModified || notModified(view, entry.etag, headerOf(entry.headers, 'last-modified'));
  const headers = replayHeaders(entry, status, now, nm);
  if (status === 'MISS') delete headers.Age;
  const init = headersInit(headers);
  // Without a Content-Type the server adds its own default (on @hono/node-server, to a Headers
  // object only), as it did for the response that was stored: give it the same chance.
  const typed = headerOf(entry.headers, 'content-type') !== undefined;
  return new Response(nm || head || entry.body.length === 0 ? null : bodyToWrite(entry, held), { status: nm ? 304 : entry.status, headers: typed ? init : new Headers(init) });
}

/** Web `HeadersInit`: a record when every header has one line, pairs otherwise. */
function headersInit(headers: Record<string, string | string[]>): Record<string, string> | [string, string][] {
  let multi = false;
  for (const name in headers) if (typeof headers[name] !== 'string') multi = true;
  if (!multi) return headers as Record<string, string>;
  const pairs: [string, string][] = [];
  for (const name in headers) {
    const value = headers[name]!;
    if (typeof value === 'string') pairs.push([name, value]);
    else for (const line of value) pairs.push([name, line]);
  }
  return pairs;
}
