import type { Cache } from '../cache/cache.js';
import { parseDuration } from '../config/duration.js';
import type { Duration } from '../config/duration.js';
import { ConfigError } from '../errors/config-error.js';

/** What the admin routes know about the client of a request, to key its rate limit. */
export interface AdminClientInfo {
  /** The peer's address (the socket's; proxies are not trusted unless `clientKey` says so). */
  ip: string | undefined;
  /** A request header, lower-case name. */
  header(name: string): string | undefined;
}

/** Options of {@link adminRoutes}, {@link fastifyAdminRoutes} and {@link honoAdminRoutes}. */
export interface AdminRoutesOptions {
  /** The cache to administer. Give `cache` or `caches`. */
  cache?: Cache | undefined;
  /**
   * Several caches, told apart by `name` (unique); routes take `?cache=<name>` and default to the
   * first. The dashboard shows them all.
   */
  caches?: readonly Cache[] | undefined;
  /**
   * The bearer token clients must send (`Authorization: Bearer <token>`), compared in constant
   * time. Several tokens allow rotation. Required: mounting without one throws `ConfigError`.
   * @example process.env.HOARD_ADMIN_TOKEN
   */
  token: string | readonly string[];
  /**
   * Requests allowed per client (`max` per `window`), counted before authentication, so guessing
   * tokens is slow too; past it `429` with `Retry-After`. A dashboard costs a few requests when it
   * opens and one live stream, whatever the time it stays open. `false` turns it off (only behind
   * a limiter of your own).
   * @default { max: 100, window: '1m' }
   */
  rateLimit?: { max?: number | undefined; window?: Duration | undefined } | false | undefined;
  /**
   * Called with every admin request once answered: what was done, by which client, with what
   * outcome (never the token). Also published on the `node:diagnostics_channel` channel
   * `hoard:admin`. A listener that throws is ignored.
   * @example audit: (e) => logger.info({ admin: e }, `hoard admin ${e.action} ${e.outcome}`)
   */
  audit?: ((event: AdminAuditEvent) => void) | undefined;
  /**
   * The rate-limit key of a request. Behind a trusted proxy, read its header here.
   * @default the peer's address
   * @example clientKey: (c) => c.header('x-forwarded-for')?.split(',')[0]?.trim() ?? c.ip ?? 'unknown'
   */
  clientKey?: ((client: AdminClientInfo) => string) | undefined;
  /** How often the live stream (`GET /events`, the dashboard) pushes figures; 100 ms to 1 min. @default '1s' */
  streamInterval?: Duration | undefined;
  /** Most live streams open at once (over it: `503`). @default 32 */
  maxStreams?: number | undefined;
  /** Serve the dashboard at `GET /dashboard`. @default true */
  dashboard?: boolean | undefined;
  /**
   * Node `http` only: the path the routes answer under when the server hands them every request
   * (Express and the other frameworks strip their mount path themselves).
   * @default ''
   * @example '/admin/cache'
   */
  basePath?: string | undefined;
  /** Largest request body accepted (`413` past it). @default 65536 */
  maxBodyBytes?: number | undefined;
}

/** An admin request, as reported to `audit`. */
export interface AdminAuditEvent {
  /** What was asked for. */
  action: AdminAction;
  method: string;
  /** The path inside the admin routes (`/invalidate`), without the query string. */
  path: string;
  /** The cache it concerned, when it concerned one. */
  cache?: string;
  /** The rate-limit key of the client (its address by default). */
  client: string;
  status: number;
  outcome: 'ok' | 'unauthorized' | 'rate-limited' | 'bad-request' | 'not-found' | 'error';
  /** Epoch ms when the request arrived. */
  at: number;
  /** What the action did: keys, tags, pattern and count of an invalidation; the key inspected; ... */
  detail?: Record<string, unknown>;
}

export type AdminAction = 'stats' | 'caches' | 'clear' | 'invalidate' | 'keys' | 'inspect' | 'stream' | 'dashboard' | 'unknown';

/** Defaults of {@link AdminRoutesOptions}. */
export const ADMIN_DEFAULTS = {
  rateLimit: { max: 100, window: '1m' },
  streamInterval: '1s',
  maxStreams: 32,
  dashboard: true,
  basePath: '',
  maxBodyBytes: 64 * 1024,
} as const;

/** Options resolved and checked once, at mounting. */
export interface ResolvedAdminOptions {
  caches: readonly Cache[];
  tokens: readonly string[];
  rateLimit: { max: number; windowMs: number } | undefined;
  audit: ((event: AdminAuditEvent) => void) | undefined;
  clientKey: ((client: AdminClientInfo) => string) | undefined;
  streamInterval: number;
  maxStreams: number;
  dashboard: boolean;
  basePath: string;
  maxBodyBytes: number;
}

const KNOWN = ['cache', 'caches', 'token', 'rateLimit', 'audit', 'clientKey', 'streamInterval', 'maxStreams', 'dashboard', 'basePath', 'maxBodyBytes'];
/** Options frameworks pass along to their plugins, which the routes ignore. */
const FRAMEWORK = ['prefix', 'logLevel', 'logSerializers'];

export function resolveAdminOptions(options: AdminRoutesOptions): ResolvedAdminOptions {
  if (typeof options !== 'object' || options === null) throw new ConfigError('token', 'admin routes need options: { cache, token }');
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key) && !FRAMEWORK.includes(key)) throw new ConfigError(key, `the admin routes have no option "${key}"; they take ${KNOWN.join(', ')}`);
  }
  const caches = resolveCaches(options);
  const tokens = typeof options.token === 'string' ? [options.token] : options.token;
  if (tokens === undefined || tokens === null) throw new ConfigError('token', 'the admin routes need a token (Authorization: Bearer <token>); mounting them open is refused');
  if (!Array.isArray(tokens) || tokens.length === 0) throw new ConfigError('token', 'expected a non-empty string or an array of them');
  for (const t of tokens as readonly unknown[]) {
    if (typeof t !== 'string' || t.length === 0) throw new ConfigError('token', 'expected a non-empty string (an unset environment variable?)');
    if (!/^[\x21-\x7e]+$/.test(t)) throw new ConfigError('token', 'a token must be printable ASCII without spaces, to travel in an Authorization header');
  }
  let rateLimit: ResolvedAdminOptions['rateLimit'];
  if (options.rateLimit !== false) {
    const given = options.rateLimit ?? {};
    if (typeof given !== 'object' || given === null) throw new ConfigError('rateLimit', 'expected { max, window } or false');
    const max = given.max ?? ADMIN_DEFAULTS.rateLimit.max;
    if (!Number.isInteger(max) || max < 1) throw new ConfigError('rateLimit.max', `expected a whole number >= 1, got ${String(max)}`);
    rateLimit = { max, windowMs: parseDuration(given.window ?? ADMIN_DEFAULTS.rateLimit.window, 'rateLimit.window') };
  }
  if (options.audit !== undefined && typeof options.audit !== 'function') throw new ConfigError('audit', 'expected a function (event) => void');
  if (options.clientKey !== undefined && typeof options.clientKey !== 'function') throw new ConfigError('clientKey', 'expected a function (client) => string');
  const streamInterval = parseDuration(options.streamInterval ?? ADMIN_DEFAULTS.streamInterval, 'streamInterval');
  if (streamInterval < 100 || streamInterval > 60_000) throw new ConfigError('streamInterval', `expected 100 ms to 1 min, got ${streamInterval} ms`);
  const maxStreams = options.maxStreams ?? ADMIN_DEFAULTS.maxStreams;
  if (!Number.isInteger(maxStreams) || maxStreams < 1) throw new ConfigError('maxStreams', `expected a whole number >= 1, got ${String(maxStreams)}`);
  const dashboard = options.dashboard ?? ADMIN_DEFAULTS.dashboard;
  if (typeof dashboard !== 'boolean') throw new ConfigError('dashboard', 'expected true or false');
  let basePath = options.basePath ?? ADMIN_DEFAULTS.basePath;
  if (typeof basePath !== 'string' || (basePath !== '' && !basePath.startsWith('/'))) throw new ConfigError('basePath', `expected a path starting with "/", got ${JSON.stringify(basePath)}`);
  basePath = basePath.replace(/\/+$/, '');
  const maxBodyBytes = options.maxBodyBytes ?? ADMIN_DEFAULTS.maxBodyBytes;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 2) throw new ConfigError('maxBodyBytes', `expected a whole number of bytes >= 2, got ${String(maxBodyBytes)}`);
  return { caches, tokens, rateLimit, audit: options.audit, clientKey: options.clientKey, streamInterval, maxStreams, dashboard, basePath, maxBodyBytes };
}

function resolveCaches(options: AdminRoutesOptions): readonly Cache[] {
  if (options.cache !== undefined && options.caches !== undefined) throw new ConfigError('cache', 'give cache or caches, not both');
  const list = options.caches ?? (options.cache === undefined ? undefined : [options.cache]);
  const option = options.caches === undefined ? 'cache' : 'caches';
  if (list === undefined) throw new ConfigError('cache', 'the admin routes need the cache to administer: { cache } or { caches: [...] }');
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError(option, 'expected a non-empty array of caches');
  const names = new Set<string>();
  for (const cache of list as readonly unknown[]) {
    if (typeof cache !== 'object' || cache === null || typeof (cache as Partial<Cache>).stats !== 'function' || typeof (cache as Partial<Cache>).metrics !== 'function') {
      throw new ConfigError(option, 'expected a cache made by createCache()');
    }
    const name = (cache as Cache).name;
    if (names.has(name)) throw new ConfigError(option, `two caches are named "${name}"; give each createCache({ name })`);
    names.add(name);
  }
  return list as readonly Cache[];
}
