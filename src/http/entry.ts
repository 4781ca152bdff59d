import { isUtf8 } from 'node:buffer';
import { sha256 } from './digest.js';
import type { RequestView } from './key.js';

/** Response header values as stored: one string, or one string per line of a repeated header. */
export type StoredHeaders = Record<string, string | string[]>;

/**
 * A stored page. Plain data (the body a `Buffer`), so it round-trips through hoard's codec to
 * Redis unchanged; headers keep the handler's spelling of names and every line of repeated ones.
 */
export interface PageEntry {
  readonly kind: 'page';
  readonly status: number;
  /** What the handler sent, minus hop-by-hop headers, `Content-Length`, `Date`, `Age`, `ETag`, `X-Cache`. */
  readonly headers: StoredHeaders;
  readonly body: Buffer;
  /** Strong unless the handler set a weak one. */
  readonly etag: string;
  /** Epoch ms when the handler produced it, for `Age`. */
  readonly storedAt: number;
  /** Fresh lifetime in ms. */
  readonly ttl: number;
  /** `must-revalidate` / `proxy-revalidate`: never served stale. */
  readonly mustRevalidate: boolean;
}

/**
 * What the requests waiting on a miss get when the response was refused: they run the handler
 * themselves. Never stored.
 */
export interface PassRecord {
  readonly kind: 'pass';
  readonly reason: string;
}

export function isPage(value: unknown): value is PageEntry {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'page' && (value as { body?: unknown }).body instanceof Uint8Array;
}

/** Bodies up to this size are replayed as text when they are valid UTF-8 (see {@link bodyToWrite}). */
const TEXT_REPLAY_MAX = 16 * 1024;
const textBodies = new WeakMap<PageEntry, string | Buffer>();

/**
 * The page's body in the form that is cheapest to write. For a page the memory tier holds (`held`:
 * the same object is replayed again and again) with a small body that is valid UTF-8 and a
 * Content-Type, a string with exactly the same bytes, because Node writes a string body in one
 * piece with the status line and headers (one chunk), where a `Buffer` goes out as a second chunk
 * of a `writev`. Computed once per page and kept beside it (never stored in the cache). A page
 * decoded from Redis for this one request goes out as its `Buffer`: remembering a string for an
 * object seen once costs more than it saves. The `Content-Length` is the byte length either way.
 */
export function bodyToWrite(entry: PageEntry, held: boolean): string | Buffer {
  const body = entry.body;
  if (!held || body.length > TEXT_REPLAY_MAX) return body;
  let form = textBodies.get(entry);
  if (form === undefined) {
    // Without a Content-Type, a framework would label a string body text/plain: keep the Buffer.
    form = isUtf8(body) && headerOf(entry.headers, 'content-type') !== undefined ? body.toString('utf8') : body;
    textBodies.set(entry, form);
  }
  return form;
}

/** Response headers never stored: per connection, recomputed on replay, or owned by the cache. */
const NOT_STORED: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'content-length',
  'date',
  'age',
  'etag',
  'x-cache',
  'set-cookie',
]);

/** Copies the headers worth storing from (name, value) pairs; names keep their spelling. */
export function storedHeaders(pairs: Iterable<readonly [string, string | number | readonly string[] | undefined]>): StoredHeaders {
  const out: StoredHeaders = {};
  for (const [name, value] of pairs) {
    if (value === undefined || NOT_STORED.has(name.toLowerCase())) continue;
    // A prototype-looking name must not reach an object's prototype (FAULTS.md I1).
    if (name === '__proto__' || name === 'constructor' || name === 'prototype') continue;
    out[name] = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : [...value];
  }
  return out;
}

/** A strong validator from the body bytes. */
export function computeEtag(body: Uint8Array): string {
  return `"${sha256(body).slice(0, 27)}"`;
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** Whether `If-None-Match` matches `etag`, compared weakly as RFC 9110 section 13.1.2 asks. */
export function matchesIfNoneMatch(header: string, etag: string): boolean {
  const want = opaque(etag);
  let i = 0;
  while (i < header.length) {
    const c = header.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x2c) {
      i++;
      continue;
    }
    if (c === 0x2a) return true; // *
    let start = i;
    if (header.startsWith('W/', i)) start = i += 2;
    if (header.charCodeAt(i) !== 0x22) return false; // malformed: no match
    const close = header.indexOf('"', i + 1);
    if (close === -1) return false;
    if (header.slice(start, close + 1) === want) return true;
    i = close + 1;
  }
  return false;
}

/**
 * Whether the request's validators match the page: `If-None-Match` when present, else
 * `If-Modified-Since` against the page's `Last-Modified`.
 */
export function notModified(view: RequestView, etag: string, lastModified: string | undefined): boolean {
  const inm = view.header('if-none-match');
  if (inm !== undefined) return matchesIfNoneMatch(inm, etag);
  const ims = view.header('if-modified-since');
  if (ims === undefined || lastModified === undefined) return false;
  const since = Date.parse(ims);
  const modified = Date.parse(lastModified);
  return Number.isFinite(since) && Number.isFinite(modified) && modified <= since;
}

/** Headers a 304 carries (RFC 9110 section 15.4.5), besides `ETag`, `Age` and `X-Cache`. */
const KEPT_ON_304: ReadonlySet<string> = new Set(['cache-control', 'content-location', 'expires', 'vary', 'last-modified']);

export function headerOf(headers: StoredHeaders, name: string): string | undefined {
  for (const key in headers) {
    if (key.length === name.length && key.toLowerCase() === name) {
      const value = headers[key]!;
      return typeof value === 'string' ? value : value.join(', ');
    }
  }
  return undefined;
}

export type CacheStatus = 'HIT' | 'STALE' | 'MISS' | 'BYPASS';

/** Age in whole seconds (RFC 9111 section 5.1). */
export function ageOf(entry: PageEntry, now: number): number {
  const ms = now - entry.storedAt;
  return ms <= 0 ? 0 : Math.floor(ms / 1000);
}

export function isStale(entry: PageEntry, now: number): boolean {
  return now >= entry.storedAt + entry.ttl;
}

/**
 * The headers of a replay as a fresh object (adapters may hand it to code that mutates it):
 * stored ones, then `ETag`, `Age`, `X-Cache`, and `Content-Length` unless `notModified`.
 */
export function replayHeaders(entry: PageEntry, status: CacheStatus, now: number, notModifiedReply: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const stored = entry.headers;
  if (notModifiedReply) {
    for (const name in stored) if (KEPT_ON_304.has(name.toLowerCase())) out[name] = stored[name]!;
  } else {
    for (const name in stored) out[name] = stored[name]!;
    out['Content-Length'] = String(entry.body.length);
  }
  out.ETag = entry.etag;
  out.Age = String(ageOf(entry, now));
  out['X-Cache'] = status;
  return out;
}
