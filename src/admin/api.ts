import { channel } from 'node:diagnostics_channel';
import { gzipSync } from 'node:zlib';
import type { Cache } from '../cache/cache.js';
import { CacheError } from '../errors/cache-error.js';
import { checkGlob } from '../util/glob.js';
import { RateLimiter, TOKEN_PARAMS, TokenCheck } from './auth.js';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './dashboard/assets.generated.js';
import { adminStats, coreOf, monitorsFor } from './figures.js';
import { dryRunCount, inspectKey, listKeys, validCursor } from './keys.js';
import type { AdminAction, AdminAuditEvent, AdminClientInfo, ResolvedAdminOptions } from './options.js';

/** A request as the adapters hand it to the routes. */
export interface AdminRequest {
  method: string;
  /** The path inside the admin routes, starting with `/`, without the query string. */
  path: string;
  query: URLSearchParams;
  /** A request header (lower-case name). */
  header(name: string): string | undefined;
  /**
   * The body: its text (undefined when empty), or what the framework already parsed. Rejects with
   * {@link BodyTooLargeError} past `maxBodyBytes`.
   */
  body(limit: number): Promise<unknown>;
  client: AdminClientInfo;
}

/** What the routes answer: a body, or a live stream of server-sent events. */
export type AdminResponse =
  | { status: number; headers: Record<string, string>; body: string | Buffer }
  | { status: number; headers: Record<string, string>; stream: ReadableStream<Uint8Array> };

/** The body is larger than `maxBodyBytes`. */
export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`the request body is over ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** A request the routes refuse with 400: the message says why. */
class BadRequest extends Error {}

/** Strict, and enough for the dashboard: every asset comes from hoard itself, nothing inline. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Headers of every admin response. */
const BASE_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': CONTENT_SECURITY_POLICY,
};

const JSON_TYPE = 'application/json; charset=utf-8';
/** Keys or tags one invalidation may name. */
const MAX_ITEMS = 1_000;
/** Largest value `GET /keys/:key?value=1` returns as JSON. */
const MAX_VALUE_JSON = 1024 * 1024;

/** The audit channel of `node:diagnostics_channel`. */
export const AUDIT_CHANNEL = 'hoard:admin';
const auditChannel = channel(AUDIT_CHANNEL);

interface Asset {
  type: string;
  text: string;
  gzip?: Buffer;
}
const ASSETS: Record<string, Asset> = {
  '/dashboard': { type: 'text/html; charset=utf-8', text: DASHBOARD_HTML },
  '/dashboard/app.js': { type: 'text/javascript; charset=utf-8', text: DASHBOARD_JS },
  '/dashboard/app.css': { type: 'text/css; charset=utf-8', text: DASHBOARD_CSS },
};

type Handler = (req: AdminRequest, cache: Cache, detail: Record<string, unknown>) => Promise<AdminResponse>;
interface Route {
  action: AdminAction;
  /** Methods answered; others get 405. */
  methods: readonly string[];
  /** Served without the token (the dashboard's page and assets: the page asks for the token). */
  public?: boolean;
  handler: Handler;
}

/** A live stream's end of the connection. */
interface Stream {
  controller: ReadableStreamDefaultController<Uint8Array>;
  closed: boolean;
}

const encoder = new TextEncoder();

/**
 * The framework-free admin routes: rate limit, token, routing, handlers and the live stream.
 * Adapters (Node `http` and Express, Fastify, Hono) turn their requests into {@link AdminRequest}
 * and write the {@link AdminResponse} back.
 *
 * Order of checks, for every request: the rate limit (before the token, so guessing tokens is as
 * slow as anything else), a token in the query string (refused: URLs end up in logs), the public
 * dashboard assets, the bearer token, the method, then the handler.
 */
export class AdminApi {
  readonly options: ResolvedAdminOptions;
  readonly #tokens: TokenCheck;
  readonly #limiter: RateLimiter | undefined;
  readonly #streams = new Set<Stream>();
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;

  constructor(options: ResolvedAdminOptions) {
    this.options = options;
    this.#tokens = new TokenCheck(options.tokens);
    this.#limiter = options.rateLimit === undefined ? undefined : new RateLimiter(options.rateLimit.max, options.rateLimit.windowMs);
  }

  /** Live streams open now. */
  get streams(): number {
    return this.#streams.size;
  }

  /** Answers a request, or undefined when the path is not an admin route (the adapter goes on). */
  async handle(req: AdminRequest): Promise<AdminResponse | undefined> {
    const route = this.#route(req.path);
    if (route === undefined) return undefined;
    const at = Date.now();
    const client = this.#clientOf(req.client);
    const detail: Record<string, unknown> = {};
    const about: { cache?: string } = {};
    const done = (response: AdminResponse, outcome: AdminAuditEvent['outcome']): AdminResponse => {
      this.#audit({ action: route.action, method: req.method, path: req.path, client, status: response.status, outcome, at, ...about, ...(Object.keys(detail).length === 0 ? {} : { detail }) });
      return response;
    };
    if (this.#limiter !== undefined) {
      const wait = this.#limiter.take(client);
      if (wait > 0) return done(json(429, { error: `rate limit: at most ${this.options.rateLimit!.max} requests per ${this.options.rateLimit!.windowMs / 1000} s per client; retry after ${wait} s` }, { 'retry-after': String(wait) }), 'rate-limited');
    }
    for (const name of TOKEN_PARAMS) {
      if (req.query.has(name)) return done(json(400, { error: `a token in the URL (?${name}=) is refused: URLs end up in logs and histories; send "Authorization: Bearer <token>"` }), 'bad-request');
    }
    if (!route.methods.includes(req.method)) {
      return done(json(405, { error: `${req.method} is not allowed here` }, { allow: route.methods.join(', ') }), 'bad-request');
    }
    if (route.public === true) return done(this.#asset(req), 'ok');
    if (!this.#tokens.verify(req.header('authorization'))) {
      return done(json(401, { error: 'missing or wrong bearer token' }, { 'www-authenticate': 'Bearer realm="hoard admin"' }), 'unauthorized');
    }
    const cache = this.#select(req.query.get('cache'));
    if (cache === undefined) return done(json(404, { error: `no cache named ${JSON.stringify(req.query.get('cache'))}` }), 'not-found');
    about.cache = cache.name;
    try {
      const response = await route.handler(req, cache, detail);
      return done(response, response.status === 404 ? 'not-found' : 'ok');
    } catch (error) {
      if (error instanceof BodyTooLargeError) return done(json(413, { error: error.message }), 'bad-request');
      if (error instanceof BadRequest || isInputError(error)) return done(json(400, { error: (error as Error).message }), 'bad-request');
      return done(json(500, { error: error instanceof Error ? error.message : String(error) }), 'error');
    }
  }

  /** Ends every live stream (the server can then close). */
  close(): void {
    for (const stream of this.#streams) this.#end(stream);
    this.#streams.clear();
    this.#stopTimer();
  }

  #route(path: string): Route | undefined {
    if (path.startsWith('/keys/') && path.length > '/keys/'.length) return { action: 'inspect', methods: ['GET'], handler: (req, cache, detail) => this.#inspect(req, cache, detail) };
    switch (path) {
      case '/stats':
        return { action: 'stats', methods: ['GET'], handler: async (_req, cache) => json(200, await adminStats(cache)) };
      case '/caches':
        return { action: 'caches', methods: ['GET'], handler: async () => json(200, { caches: this.options.caches.map((c) => ({ name: c.name, path: c.path })) }) };
      case '/clear':
        return { action: 'clear', methods: ['POST'], handler: async (_req, cache) => (await cache.clear(), json(200, { cleared: true })) };
      case '/invalidate':
        return { action: 'invalidate', methods: ['POST'], handler: (req, cache, detail) => this.#invalidate(req, cache, detail) };
      case '/keys':
        return { action: 'keys', methods: ['GET'], handler: (req, cache, detail) => this.#keys(req, cache, detail) };
      case '/events':
        return { action: 'stream', methods: ['GET'], handler: () => this.#openStream() };
    }
    if (!this.options.dashboard) return undefined;
    if (path === '/dashboard/') return { action: 'dashboard', methods: ['GET'], public: true, handler: () => Promise.resolve(json(200, {})) };
    if (ASSETS[path] !== undefined) return { action: 'dashboard', methods: ['GET'], public: true, handler: () => Promise.resolve(json(200, {})) };
    return undefined;
  }

  #asset(req: AdminRequest): AdminResponse {
    // `/dashboard/` would resolve the page's relative URLs one level too deep.
    if (req.path === '/dashboard/') return { status: 308, headers: { ...BASE_HEADERS, location: '../dashboard', 'content-type': 'text/plain; charset=utf-8' }, body: 'see ../dashboard' };
    const asset = ASSETS[req.path]!;
    const headers: Record<string, string> = { ...BASE_HEADERS, 'content-type': asset.type, vary: 'accept-encoding' };
    if (/\bgzip\b/.test(req.header('accept-encoding') ?? '')) {
      asset.gzip ??= gzipSync(asset.text);
      return { status: 200, headers: { ...headers, 'content-encoding': 'gzip' }, body: asset.gzip };
    }
    return { status: 200, headers, body: asset.text };
  }

  #clientOf(info: AdminClientInfo): string {
    const key = this.options.clientKey;
    if (key === undefined) return info.ip ?? 'unknown';
    try {
      const value = key(info);
      return typeof value === 'string' && value !== '' ? value : (info.ip ?? 'unknown');
    } catch {
      return info.ip ?? 'unknown';
    }
  }

  #select(name: string | null): Cache | undefined {
    const caches = this.options.caches;
    if (name === null || name === '') return caches[0];
    return caches.find((c) => c.name === name);
  }

  #audit(event: AdminAuditEvent): void {
    if (auditChannel.hasSubscribers) auditChannel.publish(event);
    const audit = this.options.audit;
    if (audit === undefined) return;
    try {
      audit(event);
    } catch {
      // An audit listener that throws never breaks the admin routes.
    }
  }

  async #inspect(req: AdminRequest, cache: Cache, detail: Record<string, unknown>): Promise<AdminResponse> {
    let key: string;
    try {
      key = decodeURIComponent(req.path.slice('/keys/'.length));
    } catch {
      throw new BadRequest('the key is not a valid URL-encoded string');
    }
    const withValue = flag(req.query.get('value'), 'value');
    detail.key = key;
    detail.value = withValue;
    const report = await inspectKey(cache, key, withValue);
    if (report === undefined) return json(404, { error: 'no tier holds this key', key, tiers: {} });
    if (!withValue) return json(200, report);
    const text = safeJson(report);
    return text.length <= MAX_VALUE_JSON ? { status: 200, headers: { ...BASE_HEADERS, 'content-type': JSON_TYPE }, body: text } : json(200, { ...report, value: undefined, valueTooLarge: text.length });
  }

  async #keys(req: AdminRequest, cache: Cache, detail: Record<string, unknown>): Promise<AdminResponse> {
    const pattern = req.query.get('pattern') ?? '*';
    const cursor = req.query.get('cursor') ?? '0';
    const countText = req.query.get('count') ?? '100';
    if (pattern === '') throw new BadRequest('pattern: expected a glob such as user:*');
    checkGlob(pattern, 'keys');
    if (!validCursor(cursor)) throw new BadRequest(`cursor: "${cursor}" is not a cursor this listing handed out; start with 0`);
    const count = Number(countText);
    if (!Number.isInteger(count) || count < 1 || count > 1000) throw new BadRequest(`count: expected a whole number from 1 to 1000, got ${JSON.stringify(countText)}`);
    detail.pattern = pattern;
    detail.cursor = cursor;
    return json(200, await listKeys(cache, pattern, cursor, count));
  }

  async #invalidate(req: AdminRequest, cache: Cache, detail: Record<string, unknown>): Promise<AdminResponse> {
    const body = await parseBody(req, this.options.maxBodyBytes);
    const request = checkInvalidation(body);
    Object.assign(detail, {
      ...(request.keys === undefined ? {} : { keys: request.keys.length }),
      ...(request.tags === undefined ? {} : { tags: request.tags }),
      ...(request.pattern === undefined ? {} : { pattern: request.pattern }),
      dryRun: request.dryRun,
    });
    if (request.dryRun) {
      const removed = await dryRunCount(cache, request);
      detail.removed = removed;
      return json(200, { removed, dryRun: true });
    }
    let removed = 0;
    if (request.keys !== undefined && request.keys.length !== 0) removed += await cache.deleteMany(request.keys);
    if (request.tags !== undefined && request.tags.length !== 0) removed += await cache.invalidateTags(request.tags);
    if (request.pattern !== undefined) removed += await cache.deletePattern(request.pattern);
    detail.removed = removed;
    return json(200, { removed });
  }

  async #openStream(): Promise<AdminResponse> {
    if (this.#streams.size >= this.options.maxStreams) {
      return json(503, { error: `too many live streams open (${this.options.maxStreams}); close a dashboard` }, { 'retry-after': '10' });
    }
    const first = await this.#snapshot();
    let stream!: Stream;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        stream = { controller, closed: false };
        this.#streams.add(stream);
        controller.enqueue(encoder.encode(`retry: 2000\n\n${first}`));
        this.#startTimer();
      },
      cancel: () => {
        stream.closed = true;
        this.#streams.delete(stream);
        if (this.#streams.size === 0) this.#stopTimer();
      },
    });
    return {
      status: 200,
      headers: { ...BASE_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no', connection: 'keep-alive' },
      stream: body,
    };
  }

  /** One timer for every stream: each tick reads the figures once and sends them to all. */
  #startTimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.#tick(), this.options.streamInterval);
    this.#timer.unref();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return; // the previous tick still waits for Redis: skip this one
    this.#ticking = true;
    try {
      // Every cache closed: the application is shutting down, and open streams would hold its server.
      if (this.options.caches.every((c) => coreOf(c).closed)) return this.close();
      const frame = encoder.encode(await this.#snapshot());
      for (const stream of this.#streams) {
        if (stream.closed) continue;
        // A client that does not read gets no more frames queued for it than one.
        if ((stream.controller.desiredSize ?? 1) <= 0) continue;
        try {
          stream.controller.enqueue(frame);
        } catch {
          stream.closed = true;
          this.#streams.delete(stream);
        }
      }
    } finally {
      this.#ticking = false;
    }
  }

  #end(stream: Stream): void {
    if (stream.closed) return;
    stream.closed = true;
    try {
      stream.controller.close();
    } catch {
      // already errored or cancelled
    }
  }

  async #snapshot(): Promise<string> {
    const caches = await Promise.all(this.options.caches.map((c) => adminStats(c)));
    const monitors = monitorsFor(this.options.caches).map((m) => {
      const f = m.metrics();
      return { name: f.name, calls: f.calls, errors: f.errors, slow: f.slow, p50: f.percentiles.p50, p99: f.percentiles.p99 };
    });
    return `event: snapshot\ndata: ${JSON.stringify({ at: Date.now(), caches, monitors })}\n\n`;
  }
}

function json(status: number, value: unknown, extra: Record<string, string> = {}): AdminResponse {
  return { status, headers: { ...BASE_HEADERS, 'content-type': JSON_TYPE, ...extra }, body: JSON.stringify(value) };
}

/** Errors that mean the request itself is wrong: a bad key or glob, a bad argument. */
function isInputError(error: unknown): boolean {
  return (error instanceof CacheError && (error.code === 'HOARD_INVALID_KEY' || error.code === 'HOARD_CONFIG')) || error instanceof TypeError;
}

function flag(value: string | null, name: string): boolean {
  if (value === null || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true' || value === '') return true;
  throw new BadRequest(`${name}: expected 1 or 0`);
}

async function parseBody(req: AdminRequest, limit: number): Promise<unknown> {
  const raw = await req.body(limit);
  if (raw === undefined || raw === '') throw new BadRequest('expected a JSON body');
  if (typeof raw !== 'string') return raw; // parsed by the framework already
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new BadRequest('the body is not valid JSON');
  }
}

interface Invalidation {
  keys: string[] | undefined;
  tags: string[] | undefined;
  pattern: string | undefined;
  dryRun: boolean;
}

function checkInvalidation(body: unknown): Invalidation {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('expected a JSON object { keys?, tags?, pattern?, dryRun? }');
  const record = body as Record<string, unknown>;
  for (const field of Object.keys(record)) {
    if (!['keys', 'tags', 'pattern', 'dryRun'].includes(field)) throw new BadRequest(`unknown field "${field}": expected keys, tags, pattern, dryRun`);
  }
  const list = (field: 'keys' | 'tags'): string[] | undefined => {
    const value = record[field];
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new BadRequest(`${field}: expected an array of strings`);
    if (value.length > MAX_ITEMS) throw new BadRequest(`${field}: at most ${MAX_ITEMS} per request`);
    return value as string[];
  };
  const keys = list('keys');
  const tags = list('tags');
  const pattern = record.pattern;
  if (pattern !== undefined && (typeof pattern !== 'string' || pattern === '')) throw new BadRequest('pattern: expected a non-empty glob string');
  if (pattern !== undefined) checkGlob(pattern, 'invalidate');
  const dryRun = record.dryRun ?? false;
  if (typeof dryRun !== 'boolean') throw new BadRequest('dryRun: expected true or false');
  if ((keys === undefined || keys.length === 0) && (tags === undefined || tags.length === 0) && pattern === undefined) {
    throw new BadRequest('nothing to invalidate: give keys, tags or a pattern');
  }
  return { keys, tags, pattern, dryRun };
}

/** JSON of a cached value, whatever it holds: BigInt, Map, Set, bytes, functions and cycles included. */
function safeJson(value: unknown): string {
  return JSON.stringify(jsonSafe(value, new Set<object>(), 0));
}

/**
 * `value` as something JSON can print: BigInt, functions, symbols, Map, Set and bytes spelled out,
 * and a reference to an object that contains it (a real cycle) printed as `[circular]`. An object
 * reached twice along different paths (a shared array) is printed both times.
 */
function jsonSafe(value: unknown, ancestors: Set<object>, depth: number): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function' || typeof value === 'symbol') return `[${typeof value}]`;
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value)) return '[circular]';
  if (depth > 64) return '[too deep]';
  if (value instanceof Uint8Array) return { '[bytes]': Buffer.from(value).toString('base64') };
  const toJson = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJson === 'function') return jsonSafe((toJson as () => unknown).call(value), ancestors, depth + 1);
  ancestors.add(value);
  try {
    if (value instanceof Map) return { '[Map]': [...(value as Map<unknown, unknown>)].map((pair) => jsonSafe(pair, ancestors, depth + 1)) };
    if (value instanceof Set) return { '[Set]': [...(value as Set<unknown>)].map((item) => jsonSafe(item, ancestors, depth + 1)) };
    if (Array.isArray(value)) return value.map((item: unknown) => jsonSafe(item, ancestors, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      out[k] = jsonSafe(v, ancestors, depth + 1);
    }
    return out;
  } finally {
    ancestors.delete(value);
  }
}
