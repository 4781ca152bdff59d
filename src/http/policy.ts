/**
 * The rules of a shared cache (RFC 9111), decided by the server: what may be looked up, what may
 * be stored, and what is sent with a stored page. The request's own `Cache-Control` and `Pragma`
 * are never read: a client can neither unlock a response the rules refused, nor reach another
 * user's page, nor force the handler to run (FAULTS.md rule 6; STYLE.md "decided by the server").
 */
import { FORWARDING_HEADERS, type RequestView } from './key.js';

/** Why a request is passed to the handler without looking at the cache. */
export type BypassReason =
  | 'method'
  | 'credentials'
  | 'range'
  | 'precondition'
  | 'request-body'
  | 'method-override'
  | 'no-identity'
  | 'no-cache-route';

export type RequestDecision = { type: 'get' } | { type: 'head' } | { type: 'unsafe' } | { type: 'bypass'; reason: BypassReason };

const GET: RequestDecision = { type: 'get' };
const HEAD: RequestDecision = { type: 'head' };
const UNSAFE: RequestDecision = { type: 'unsafe' };
const bypass = (reason: BypassReason): RequestDecision => ({ type: 'bypass', reason });

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const METHOD_OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override'];

/**
 * What to do with a request:
 * - `GET` and `HEAD` are looked up, except a request with `Range` (partial content is never
 *   stored or served), `If-Match` / `If-Unmodified-Since` (preconditions the handler must judge),
 *   a body (a GET whose body could change the page is unkeyed input), a method-override header,
 *   or `Authorization` / `Cookie` in a shared cache (RFC 9111 section 3.5; FAULTS.md H3);
 * - other safe methods pass through;
 * - unsafe methods pass through and, when they succeed, invalidate the URL's pages.
 */
export function classifyRequest(view: RequestView, privateCache: boolean): RequestDecision {
  const method = view.method;
  if (method !== 'GET' && method !== 'HEAD') return SAFE_METHODS.has(method) ? bypass('method') : UNSAFE;
  if (view.header('range') !== undefined) return bypass('range');
  if (!privateCache && (view.header('authorization') !== undefined || view.header('cookie') !== undefined)) return bypass('credentials');
  if (view.header('if-match') !== undefined || view.header('if-unmodified-since') !== undefined) return bypass('precondition');
  const length = view.header('content-length');
  if ((length !== undefined && length !== '0') || view.header('transfer-encoding') !== undefined) return bypass('request-body');
  for (const name of METHOD_OVERRIDES) if (view.header(name) !== undefined) return bypass('method-override');
  return method === 'GET' ? GET : HEAD;
}

/** A response header by lower-case name, as the framework holds it. */
export type HeaderReader = (name: string) => string | number | readonly string[] | undefined;

export interface ResponseRules {
  readonly statuses: ReadonlySet<number>;
  /** Request headers in the key: a `Vary` naming any other one is refused. */
  readonly keyed: ReadonlySet<string>;
  readonly privateCache: boolean;
  /** Fixed TTL in ms, or undefined to take the response's own freshness. */
  readonly ttl: number | undefined;
  readonly defaultTtl: number;
}

export type ResponseVerdict =
  | { ok: true; ttl: number; mustRevalidate: boolean }
  | { ok: false; reason: string; /** Remember the URL as uncacheable (not for 5xx, which are transient). */ remember: boolean };

/**
 * Whether a finished response may be stored. Refused: a status outside `statuses`, `Set-Cookie`
 * (FAULTS.md H1), `Cache-Control` `no-store`, `no-cache` or (in a shared cache) `private`
 * (H2), `Vary: *` or a `Vary` naming a header outside the key (H4), `Content-Range`, server-sent
 * events, and a freshness of 0 when the TTL comes from the response.
 */
export function checkResponse(status: number, header: HeaderReader, rules: ResponseRules, now: number): ResponseVerdict {
  if (!rules.statuses.has(status)) return { ok: false, reason: `status ${status}`, remember: status < 500 };
  if (header('set-cookie') !== undefined) return refuse('set-cookie');
  const cc = parseCacheControl(header('cache-control'));
  if (cc.has('no-store')) return refuse('no-store');
  if (cc.has('no-cache')) return refuse('no-cache');
  if (cc.has('private') && !rules.privateCache) return refuse('private');
  const vary = header('vary');
  if (vary !== undefined) {
    for (const name of listTokens(vary)) {
      if (name === '*') return refuse('vary: *');
      if (!rules.keyed.has(name)) return refuse(`vary: ${name}`);
    }
  }
  if (header('content-range') !== undefined) return refuse('content-range');
  const type = header('content-type');
  if (typeof type === 'string' && type.toLowerCase().startsWith('text/event-stream')) return refuse('event-stream');
  let ttl = rules.ttl;
  if (ttl === undefined) {
    const fresh = freshness(cc, header('expires'), now);
    if (fresh === 0) return refuse('max-age=0');
    ttl = fresh ?? rules.defaultTtl;
  }
  return { ok: true, ttl, mustRevalidate: cc.has('must-revalidate') || cc.has('proxy-revalidate') };
}

function refuse(reason: string): ResponseVerdict {
  return { ok: false, reason, remember: true };
}

/** The request headers a page may vary on: those in its key. */
export function keyedHeaders(vary: readonly string[], privateCache: boolean): ReadonlySet<string> {
  const keyed = new Set(['host', 'accept-encoding', ...FORWARDING_HEADERS, ...vary]);
  // A private page is keyed by the identity, which stands for the credentials.
  if (privateCache) {
    keyed.add('cookie');
    keyed.add('authorization');
  }
  return keyed;
}

/** The response's freshness in ms from `s-maxage`, `max-age` or `Expires`; undefined if none. */
function freshness(cc: ReadonlyMap<string, string | undefined>, expires: ReturnType<HeaderReader>, now: number): number | undefined {
  for (const directive of ['s-maxage', 'max-age']) {
    if (!cc.has(directive)) continue;
    const seconds = Number(cc.get(directive));
    return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 31_536_000) * 1000 : 0;
  }
  if (typeof expires === 'string') {
    const at = Date.parse(expires);
    // An invalid Expires means already expired (RFC 9111 section 5.3).
    return Number.isFinite(at) && at > now ? at - now : 0;
  }
  return undefined;
}

/** Lower-case tokens of a comma-separated header (`Vary`), arrays joined. */
export function listTokens(value: string | number | readonly string[]): string[] {
  const text = typeof value === 'string' ? value : Array.isArray(value) ? value.join(',') : String(value);
  const out: string[] = [];
  for (const part of text.split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '') out.push(token);
  }
  return out;
}

const DIRECTIVE = /[\s,]*([^\s=,]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,]*))?\s*(?:,|$)/gy;

/** `Cache-Control` directives by lower-case name, quoted values unquoted. */
export function parseCacheControl(value: string | number | readonly string[] | undefined): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  if (value === undefined) return out;
  const text = typeof value === 'string' ? value : Array.isArray(value) ? value.join(',') : String(value);
  DIRECTIVE.lastIndex = 0;
  while (DIRECTIVE.lastIndex < text.length) {
    const start = DIRECTIVE.lastIndex;
    const match = DIRECTIVE.exec(text);
    if (match === null || DIRECTIVE.lastIndex === start) break;
    const raw = match[2]?.trim();
    out.set(match[1]!.toLowerCase(), raw === undefined ? undefined : raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw);
  }
  return out;
}

const ONE_YEAR_S = 31_536_000;

/**
 * The `Cache-Control` sent with a stored page: the option's value, else the handler's, else
 * `public, max-age=<ttl>`. In a private cache `public` becomes `private`, whatever the source,
 * so that no shared cache downstream keeps a per-user page.
 */
export function servedCacheControl(
  option: string | false | undefined,
  handler: string | undefined,
  ttl: number,
  privateCache: boolean,
): string | undefined {
  const maxAge = Math.floor(Math.min(ttl / 1000, ONE_YEAR_S));
  const value = typeof option === 'string' ? option : option === false ? handler : (handler ?? `${privateCache ? 'private' : 'public'}, max-age=${maxAge}`);
  if (!privateCache) return value;
  if (value === undefined) return `private, max-age=${maxAge}`;
  const directives = value
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '' && d.toLowerCase() !== 'public');
  if (!directives.some((d) => d.toLowerCase() === 'private' || d.toLowerCase().startsWith('private='))) directives.unshift('private');
  return directives.join(', ');
}
