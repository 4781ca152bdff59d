import { sha256 } from './digest.js';

/** What the core reads of a request, whatever the framework. */
export interface RequestView {
  /** Upper-case method, as received. */
  readonly method: string;
  /** The request target as received: path and query (`/a?b=1`). */
  readonly url: string;
  /** A request header by lower-case name; repeated headers joined as the platform joins them. */
  header(name: string): string | undefined;
}

/**
 * Request headers put in the key whenever a request carries them, because applications and
 * frameworks commonly build absolute URLs, redirects or links from them: an unkeyed one would let
 * one client poison the page served to every other (`X-Forwarded-Host: evil.test`, FAULTS.md H5).
 * Behind a proxy that always sets them, they are the same on every request and cost nothing.
 */
export const FORWARDING_HEADERS: readonly string[] = [
  'forwarded',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-proto',
  'x-forwarded-scheme',
  'x-host',
  'x-original-url',
  'x-rewrite-url',
];

/** Keys and tags longer than this many UTF-8 bytes are hashed (the cache takes at most 1024). */
const MAX_READABLE_BYTES = 900;

/**
 * The request target with its query parameters sorted by name, so `?a=1&b=2` and `?b=2&a=1` are
 * one page. Names and values are kept exactly as sent (no decoding), repeated names keep their
 * relative order (`?a=2&a=1` is not `?a=1&a=2`), empty parameters (`&&`) are dropped, and an empty
 * query is no query (`/a?` is `/a`). The path is kept as sent.
 */
export function normaliseUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const path = url.slice(0, q);
  const query = url.slice(q + 1);
  if (query === '') return path;
  if (!query.includes('&')) return url;
  const parts = query.split('&');
  const named: { name: string; part: string }[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    named.push({ name: eq === -1 ? part : part.slice(0, eq), part });
  }
  if (named.length === 0) return path;
  // Array.prototype.sort is stable: parameters of the same name keep their order.
  named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let out = `${path}?${named[0]!.part}`;
  for (let i = 1; i < named.length; i++) out += `&${named[i]!.part}`;
  return out;
}

/**
 * `Accept-Encoding` as it takes part in the key: lower case, without blanks. Order and weights are
 * kept, since content negotiation may depend on them.
 */
export function normaliseAcceptEncoding(value: string | undefined): string {
  if (value === undefined) return '';
  return /[\sA-Z]/.test(value) ? value.replace(/\s+/g, '').toLowerCase() : value;
}

/**
 * Escapes `%` and `|` so that components joined by `|` can never be confused: a header value or
 * URL cannot smuggle a separator into the key of another page.
 */
function esc(value: string): string {
  return value.includes('%') || value.includes('|') ? value.replace(/[%|]/g, (c) => (c === '%' ? '%25' : '%7C')) : value;
}

function bounded(readable: string, hashedPrefix: string): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no byte count.
  if (readable.length * 3 <= MAX_READABLE_BYTES || Buffer.byteLength(readable) <= MAX_READABLE_BYTES) return readable;
  return hashedPrefix + sha256(readable);
}

/**
 * The key of a page: `<keyPrefix>GET|<scope>|<host>|<accept-encoding>|<name>=<value>…|<url>`,
 * where scope is `pub` or `prv=<hash of the identity>` and the named headers are those of `keyed`
 * the request carries. Keys over 900 bytes become `<keyPrefix>GET#<sha256>`.
 */
export function pageKey(prefix: string, view: RequestView, keyed: readonly string[], identityHash: string | undefined): string {
  let key = `${prefix}GET|${identityHash === undefined ? 'pub' : `prv=${identityHash}`}|${esc((view.header('host') ?? '').toLowerCase())}|${esc(normaliseAcceptEncoding(view.header('accept-encoding')))}`;
  for (const name of keyed) {
    const value = view.header(name);
    if (value !== undefined) key += `|${name}=${esc(value)}`;
  }
  key += `|${esc(normaliseUrl(view.url))}`;
  return bounded(key, `${prefix}GET#`);
}

/**
 * The tag every page of a URL carries, whatever its variant or identity, so that a successful
 * unsafe request to the URL purges them all (RFC 9111 section 4.4).
 */
export function urlTag(host: string | undefined, url: string): string {
  return bounded(`http:url:${esc((host ?? '').toLowerCase())}|${esc(normaliseUrl(url))}`, 'http:url#');
}

/** An identity as it appears in keys: hashed, so keys hold no user id or token. */
export function hashIdentity(identity: string): string {
  return sha256(identity);
}

/** The identity of `identity: 'credentials'`: the `Authorization` and `Cookie` headers, hashed. */
export function credentialsIdentity(view: RequestView): string {
  const authorization = view.header('authorization');
  const cookie = view.header('cookie');
  if (authorization === undefined && cookie === undefined) return 'anonymous';
  return `credentials:${sha256(`${authorization ?? ''}\n${cookie ?? ''}`)}`;
}
