import type { Cache } from '../cache/cache.js';
import { cache as defaultCache } from '../cache/default-cache.js';
import { parseDuration, type Duration } from '../config/duration.js';
import { ConfigError } from '../errors/config-error.js';
import type { Clock } from '../util/clock.js';

/**
 * Options of the response cache, shared by every adapter. `Req` and `Res` are what the adapter
 * hands to the callbacks: Node's `IncomingMessage` and `ServerResponse` (also Express' `Request`
 * and `Response`), Fastify's `FastifyRequest` and `FastifyReply`, Hono's `Context` and `Response`.
 */
export interface ResponseCacheOptions<Req, Res> {
  /**
   * The hoard cache the pages are stored in: a memory cache, two tiers, or a namespace view
   * (`cache.namespace('pages')`) so that `clear()` of that view drops the pages only.
   * @default the default `cache` of hoard, created from the environment at first use
   * @example cacheResponse({ cache: createCache({ l1: memoryStore(), l2: redisStore({ url }) }) })
   */
  cache?: Cache | undefined;
  /**
   * How long a stored page is served without running the handler. Without it, the response's own
   * `s-maxage`, `max-age` or `Expires` decides, and 5 minutes when it has none (a response with
   * `max-age=0` is then not stored). Must be > 0.
   * @default the response's freshness, else '5m'
   * @example cacheResponse({ ttl: '30s' })
   */
  ttl?: Duration | undefined;
  /**
   * How long past `ttl` a page is kept as a fallback: while one request refreshes it, the others
   * get the stale page at once (stale-while-revalidate), and when the handler answers 5xx or
   * fails, the stale page is served instead (stale-if-error). A response with `must-revalidate`
   * or `proxy-revalidate` is never served stale. Must be > 0.
   * @default none
   * @example cacheResponse({ ttl: '1m', grace: '1h' })
   */
  grace?: Duration | undefined;
  /**
   * Request headers that take part in the key, beyond those always in it (`Host`, a normalised
   * `Accept-Encoding`, and the forwarding headers such as `X-Forwarded-Host` when a request
   * carries them). A response whose `Vary` names a header outside the key is not stored.
   * `Cookie` and `Authorization` are refused here: use `identity` for per-user pages.
   * @default []
   * @example cacheResponse({ vary: ['accept-language', 'origin'] })
   */
  vary?: readonly string[] | undefined;
  /**
   * Prepended to every key, so two response caches on one hoard cache keep apart.
   * @default 'http:'
   * @example cacheResponse({ keyPrefix: 'api:' })
   */
  keyPrefix?: string | undefined;
  /**
   * Status codes that may be stored (whole numbers from 200 to 599; 206 and 304 are refused).
   * @default [200]
   * @example cacheResponse({ statuses: [200, 301, 404] })
   */
  statuses?: readonly number[] | undefined;
  /**
   * The largest body stored, in bytes. A larger body, or one written over more than one turn of
   * the event loop (a stream), passes through untouched and uncached, and no more than this many
   * bytes are ever buffered for a request.
   * @default 1_048_576 (1 MiB)
   * @example cacheResponse({ maxBodyBytes: 256 * 1024 })
   */
  maxBodyBytes?: number | undefined;
  /**
   * Called with the finished response of a miss (status and headers set, body not readable):
   * `false` keeps it out of the cache. It can only refuse; it never overrides the rules.
   * @default every response the rules allow is stored
   * @example cacheResponse({ condition: (req, res) => res.getHeader('x-partial') === undefined })
   */
  condition?: ((req: Req, res: Res) => boolean) | undefined;
  /**
   * Tags of a stored page, so `cache.invalidateTags([...])` purges it. Called on a miss with the
   * finished response. Tags follow the cache's rules (non-empty, no NUL).
   * @default no tags besides the page's own URL tag
   * @example cacheResponse({ tags: (req) => [`product:${new URL(req.url!, 'http://x').searchParams.get('id')}`] })
   */
  tags?: ((req: Req, res: Res) => readonly string[]) | undefined;
  /**
   * Makes the cache private: pages are keyed by this identity and never served to another one,
   * requests with `Authorization` or `Cookie` are no longer bypassed, and what is served carries
   * `Cache-Control: private`. A function returns the user's identity (`undefined`: bypass this
   * request); `'credentials'` keys by a hash of the `Authorization` and `Cookie` headers.
   * @default none (a shared cache)
   * @example cacheResponse({ identity: (req) => req.user?.id })
   */
  identity?: ((req: Req) => string | undefined) | 'credentials' | undefined;
  /**
   * The `Cache-Control` sent with stored pages (on the miss that stores them and on every hit).
   * `false` leaves the handler's value alone; a string replaces it. Without it, a response with
   * no `Cache-Control` gets `public, max-age=<ttl>` (`private, …` for a private cache). A private
   * cache always turns `public` into `private`. Responses that are not stored are never changed.
   * @default the handler's value, else `public, max-age=<ttl in seconds>`
   * @example cacheResponse({ cacheControl: 'no-cache' }) // clients revalidate with the ETag
   */
  cacheControl?: string | false | undefined;
  /**
   * How long a page whose response was refused (a `Set-Cookie`, `no-store`, a stream, …) is
   * remembered, so that later requests for it run the handler at once instead of waiting behind
   * one another. Remembered in the process (at most 10,000 pages), never stored in the cache; a
   * successful unsafe request to the URL forgets it. 5xx answers are not remembered. Must be > 0.
   * @default '30s'
   * @example cacheResponse({ uncacheableTtl: '5m' })
   */
  uncacheableTtl?: Duration | undefined;
  /**
   * The longest a request waits for another request's handler run of the same page (single
   * flight) before it runs the handler itself. Must be > 0.
   * @default '10s'
   * @example cacheResponse({ waitTimeout: '2s' })
   */
  waitTimeout?: Duration | undefined;
  /**
   * Source of time in milliseconds since the epoch, for `Age` and freshness. Give it the same
   * clock as the cache in tests.
   * @default Date
   * @example cacheResponse({ cache: createCache({ store: memoryStore({ clock }), clock }), clock })
   */
  clock?: Clock | undefined;
}

/** Options checked and turned into numbers once, when a middleware or plugin is created. */
export interface ResolvedOptions<Req, Res> {
  readonly cache: Cache;
  readonly ttl: number | undefined;
  readonly grace: number | undefined;
  /** Lower-case header names of `vary`, sorted. */
  readonly vary: readonly string[];
  readonly keyPrefix: string;
  readonly statuses: ReadonlySet<number>;
  readonly maxBodyBytes: number;
  readonly condition: ((req: Req, res: Res) => boolean) | undefined;
  readonly tags: ((req: Req, res: Res) => readonly string[]) | undefined;
  readonly identity: ((req: Req) => string | undefined) | 'credentials' | undefined;
  readonly cacheControl: string | false | undefined;
  readonly uncacheableTtl: number;
  readonly waitTimeout: number;
  readonly clock: Clock;
}

/** The defaults, in one place. */
export const DEFAULTS = {
  defaultTtl: 300_000,
  keyPrefix: 'http:',
  statuses: [200] as readonly number[],
  maxBodyBytes: 1_048_576,
  uncacheableTtl: 30_000,
  waitTimeout: 10_000,
} as const;

const OPTION_NAMES: ReadonlySet<string> = new Set<keyof ResponseCacheOptions<unknown, unknown>>([
  'cache',
  'ttl',
  'grace',
  'vary',
  'keyPrefix',
  'statuses',
  'maxBodyBytes',
  'condition',
  'tags',
  'identity',
  'cacheControl',
  'uncacheableTtl',
  'waitTimeout',
  'clock',
]);

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const epochClock: Clock = { now: () => Date.now() };

/**
 * Checks every option once and fills the defaults. A bad option throws `ConfigError` naming it.
 * `extra` lists option names an adapter adds (Fastify's `optIn`), accepted and ignored here.
 */
export function resolveOptions<Req, Res>(
  options: ResponseCacheOptions<Req, Res> | undefined,
  extra: readonly string[] = [],
): ResolvedOptions<Req, Res> {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ConfigError('options', 'expected an object of response cache options');
  for (const name of Object.keys(o)) {
    if (!OPTION_NAMES.has(name) && !extra.includes(name)) throw new ConfigError(name, 'is not an option of the response cache');
  }
  // The default cache is a lazy proxy: it is not touched here, so the environment is read at first use.
  const cache = o.cache ?? defaultCache;
  if (o.cache !== undefined && (typeof o.cache !== 'object' || o.cache === null || typeof (o.cache as Partial<Cache>).getOrSet !== 'function')) {
    throw new ConfigError('cache', 'expected a hoard Cache (createCache())');
  }
  return {
    cache,
    ttl: o.ttl === undefined ? undefined : positive(o.ttl, 'ttl'),
    grace: o.grace === undefined ? undefined : positive(o.grace, 'grace'),
    vary: varyList(o.vary),
    keyPrefix: keyPrefix(o.keyPrefix),
    statuses: statusList(o.statuses),
    maxBodyBytes: byteLimit(o.maxBodyBytes),
    condition: callback(o.condition, 'condition'),
    tags: callback(o.tags, 'tags'),
    identity: o.identity === 'credentials' ? 'credentials' : callback(o.identity, 'identity'),
    cacheControl: cacheControl(o.cacheControl),
    uncacheableTtl: o.uncacheableTtl === undefined ? DEFAULTS.uncacheableTtl : positive(o.uncacheableTtl, 'uncacheableTtl'),
    waitTimeout: o.waitTimeout === undefined ? DEFAULTS.waitTimeout : positive(o.waitTimeout, 'waitTimeout'),
    clock: clockOption(o.clock),
  };
}

/** Route-level options over resolved ones (Fastify's per-route `config.cache`). */
export function mergeOptions<Req, Res>(
  base: ResponseCacheOptions<Req, Res>,
  route: ResponseCacheOptions<Req, Res>,
  extra: readonly string[] = [],
): ResolvedOptions<Req, Res> {
  if (typeof route !== 'object' || route === null) throw new ConfigError('config.cache', 'expected false or an object of response cache options');
  return resolveOptions({ ...base, ...route }, extra);
}

function positive(value: unknown, option: string): number {
  return parseDuration(value, option);
}

function varyList(value: unknown): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigError('vary', 'expected an array of request header names');
  const names = new Set<string>();
  for (const item of value as unknown[]) {
    if (typeof item !== 'string' || !TOKEN.test(item.toLowerCase())) {
      throw new ConfigError('vary', `expected header names, got ${JSON.stringify(item) ?? typeof item}`);
    }
    const name = item.toLowerCase();
    if (name === 'cookie' || name === 'authorization') {
      throw new ConfigError('vary', `${name} cannot be part of a shared key; use the identity option (cachePrivate) for per-user pages`);
    }
    names.add(name);
  }
  return [...names].sort();
}

function keyPrefix(value: unknown): string {
  if (value === undefined) return DEFAULTS.keyPrefix;
  if (typeof value !== 'string' || value.includes('|') || value.length > 256) {
    throw new ConfigError('keyPrefix', 'expected a string of at most 256 characters without "|"');
  }
  return value;
}

function statusList(value: unknown): ReadonlySet<number> {
  if (value === undefined) return new Set(DEFAULTS.statuses);
  if (!Array.isArray(value) || value.length === 0) throw new ConfigError('statuses', 'expected a non-empty array of status codes');
  for (const status of value as unknown[]) {
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599 || status === 206 || status === 304) {
      throw new ConfigError('statuses', `expected status codes from 200 to 599 other than 206 and 304, got ${String(status)}`);
    }
  }
  return new Set(value as number[]);
}

function byteLimit(value: unknown): number {
  if (value === undefined) return DEFAULTS.maxBodyBytes;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError('maxBodyBytes', `expected a whole number of bytes >= 1, got ${typeof value === 'number' ? value : typeof value}`);
  }
  return value;
}

function callback<F>(value: F | undefined, option: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new ConfigError(option, 'expected a function');
  return value;
}

function cacheControl(value: unknown): string | false | undefined {
  if (value === undefined || value === false) return value;
  // eslint-disable-next-line no-control-regex -- a header value must not carry control characters
  if (typeof value !== 'string' || value.trim() === '' || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new ConfigError('cacheControl', 'expected false or a Cache-Control header value such as "public, max-age=60"');
  }
  return value.trim();
}

function clockOption(value: unknown): Clock {
  if (value === undefined) return epochClock;
  if (typeof value !== 'object' || value === null || typeof (value as Partial<Clock>).now !== 'function') {
    throw new ConfigError('clock', 'expected an object with a now() method');
  }
  return value as Clock;
}
