import type { Cache } from '../cache/cache.js';
import { PEEK_MEMORY } from '../cache/peek.js';
import type { FactoryContext, GetOrSetOptions } from '../cache/types.js';
import { isPage, isStale, type PageEntry, type PassRecord } from './entry.js';
import { credentialsIdentity, FORWARDING_HEADERS, hashIdentity, pageKey, urlTag, type RequestView } from './key.js';
import { DEFAULTS, type ResolvedOptions } from './options.js';
import { classifyRequest, keyedHeaders, type RequestDecision, type ResponseRules } from './policy.js';

/** What the request that ran the handler on a miss reports back, once it knows. */
export type LeadResult =
  /** Store this page (its response is on its way to the client already). */
  | { type: 'store'; entry: PageEntry; tags: readonly string[] }
  /** Not storable; `remember` stores a pass record for `uncacheableTtl`. */
  | { type: 'refuse'; reason: string; remember: boolean }
  /** The handler failed (5xx) and the stale page was sent instead (stale-if-error). */
  | { type: 'failed'; status: number }
  /** The client went away before the response was complete. */
  | { type: 'aborted' };

/** Runs the handler for the request that leads a miss; `stale` is the page it may fall back on. */
export type Lead = (stale: PageEntry | undefined) => Promise<LeadResult>;

export type LookupResult =
  /** A stored page for this request (`stale`: past its TTL, inside its grace). */
  | { type: 'hit'; entry: PageEntry; stale: boolean }
  /** This request ran the handler itself; its response is already handled. */
  | { type: 'led' }
  /** Run the handler without storing anything (a refused URL, or no result in time). */
  | { type: 'pass' };

/** A request's place in the cache, computed once per request. */
export type Route =
  | { type: 'bypass'; decision: RequestDecision }
  | { type: 'unsafe' }
  | { type: 'get' | 'head'; key: string };

const PASS_ABORTED: PassRecord = { kind: 'pass', reason: 'aborted' };
/** Most refused keys remembered per middleware. */
const MAX_PASSES = 10_000;

/**
 * The framework-free core: request rules, keys, single flight through the cache's `getOrSet`,
 * stale pages while one request refreshes, and invalidation after unsafe requests. Adapters give
 * it a view of each request and, on a miss, a `Lead` that runs the handler and records the result.
 */
export class ResponseCacheEngine<Req, Res> {
  readonly options: ResolvedOptions<Req, Res>;
  readonly rules: ResponseRules;
  readonly privateCache: boolean;
  readonly #cache: Cache;
  /** Headers in the key besides Host and Accept-Encoding, sorted. */
  readonly #keyed: readonly string[];
  readonly #lookupOptions: GetOrSetOptions;
  /**
   * Pages being refreshed in this process, by key, with the stale page to serve meanwhile: the
   * request that refreshes waits for the handler, the others get the stale page at once
   * (stale-while-revalidate, as nginx's `proxy_cache_use_stale updating`). Bounded by the number
   * of refreshes in flight.
   */
  readonly #refreshing = new Map<string, PageEntry>();
  /**
   * Keys whose response was refused, with when to forget them and their URL tag (hit-for-miss, as
   * Varnish calls it): requests for them skip single flight and run the handler at once. Kept in
   * this process, not in the cache, so that a refused response never adds an entry to the store
   * (FAULTS.md H2); at most {@link MAX_PASSES} keys, the oldest forgotten first.
   */
  readonly #passes = new Map<string, { until: number; tag: string }>();

  constructor(options: ResolvedOptions<Req, Res>) {
    this.options = options;
    this.#cache = options.cache;
    this.privateCache = options.identity !== undefined;
    const keyed = keyedHeaders(options.vary, this.privateCache);
    this.#keyed = [...new Set([...FORWARDING_HEADERS, ...options.vary])].sort();
    this.rules = { statuses: options.statuses, keyed, privateCache: this.privateCache, ttl: options.ttl, defaultTtl: DEFAULTS.defaultTtl };
    const lookup: GetOrSetOptions = { ttl: options.ttl ?? DEFAULTS.defaultTtl, timeout: { hard: options.waitTimeout } };
    if (options.grace !== undefined) lookup.grace = options.grace;
    this.#lookupOptions = lookup;
  }

  /** The current time in epoch ms. */
  now(): number {
    return this.options.clock.now();
  }

  /**
   * Where a request goes. `req` is handed to the `identity` option; a private cache whose
   * identity is undefined for this request bypasses it.
   */
  route(view: RequestView, req: Req): Route {
    const decision = classifyRequest(view, this.privateCache);
    if (decision.type === 'bypass') return { type: 'bypass', decision };
    if (decision.type === 'unsafe') return { type: 'unsafe' };
    let identity: string | undefined;
    const option = this.options.identity;
    if (option === 'credentials') identity = credentialsIdentity(view);
    else if (option !== undefined) {
      const id = option(req);
      if (typeof id !== 'string' || id === '') return { type: 'bypass', decision: { type: 'bypass', reason: 'no-identity' } };
      identity = id;
    }
    const key = pageKey(this.options.keyPrefix, view, this.#keyed, identity === undefined ? undefined : hashIdentity(identity));
    return { type: decision.type, key };
  }

  /**
   * A fresh page of `key` that the memory tier holds at `now` (epoch ms, {@link now}), found without
   * waiting (the hit path); undefined sends the request through {@link lookup}. Counted as a hit
   * only when it returns a page.
   */
  peek(key: string, now: number): PageEntry | undefined {
    if ((this.#refreshing.size !== 0 && this.#refreshing.has(key)) || (this.#passes.size !== 0 && this.#passes.has(key))) return undefined;
    const cache = this.#cache;
    if (typeof cache[PEEK_MEMORY] !== 'function') return undefined; // a cache from another copy of hoard
    return cache[PEEK_MEMORY](key, isFreshPage, now);
  }

  /**
   * Looks a GET up. On a miss, exactly one request per key in this process (and, with the cache's
   * `distributedLock`, across instances) runs `lead`; the others wait for its page, and get it only
   * if it was stored: a refused response (a `Set-Cookie`, `private`, an error) never reaches them,
   * they run the handler themselves (FAULTS.md H1). While a page is refreshed, the others get the
   * stale page at once.
   */
  async lookup(key: string, view: RequestView, lead: Lead): Promise<LookupResult> {
    const refreshing = this.#refreshing.get(key);
    if (refreshing !== undefined) return { type: 'hit', entry: refreshing, stale: true };
    if (this.#passes.size !== 0) {
      const pass = this.#passes.get(key);
      if (pass !== undefined) {
        if (pass.until > this.now()) return { type: 'pass' };
        this.#passes.delete(key);
      }
    }
    let led = false;
    let value: unknown;
    try {
      value = await this.#cache.getOrSet<PageEntry | PassRecord>(
        key,
        async (ctx) => {
          led = true;
          return this.#lead(key, urlTag(view.header('host'), view.url), ctx, lead);
        },
        this.#lookupOptions,
      );
    } catch {
      // The leader's response is handled already. A follower that waited past `waitTimeout`, or
      // a cache that cannot answer (closed, invalid key), runs the handler: fail open.
      return led ? { type: 'led' } : { type: 'pass' };
    }
    if (led) return { type: 'led' };
    if (isPage(value)) {
      const stale = isStale(value, this.now());
      // A page that must be revalidated is never served stale (RFC 9111 section 4.2.4).
      if (stale && value.mustRevalidate) return { type: 'pass' };
      return { type: 'hit', entry: value, stale };
    }
    return { type: 'pass' };
  }

  async #lead(key: string, tag: string, ctx: FactoryContext<PageEntry | PassRecord>, lead: Lead): Promise<PageEntry | PassRecord> {
    const previous = ctx.stale;
    const stale = isPage(previous) && !previous.mustRevalidate ? previous : undefined;
    if (stale !== undefined) this.#refreshing.set(key, stale);
    try {
      const result = await lead(stale);
      switch (result.type) {
        case 'store': {
          ctx.setOptions({ ttl: result.entry.ttl, tags: [tag, ...result.tags] });
          return result.entry;
        }
        case 'refuse': {
          // The waiting requests get this record and run the handler themselves; nothing is stored.
          ctx.skip();
          if (result.remember) this.#rememberPass(key, tag);
          return { kind: 'pass', reason: result.reason };
        }
        case 'failed':
          // Thrown so the cache keeps the stale page, serves it to the waiting requests, and backs
          // off before the next refresh (graceBackoff); reported as an `error` event.
          throw new Error(`GET ${key}: the handler answered ${result.status}; the stale page was served`);
        case 'aborted':
          ctx.skip();
          return PASS_ABORTED;
      }
      // Unreachable while LeadResult has these four types (checked by the compiler).
      return result satisfies never;
    } finally {
      if (stale !== undefined) this.#refreshing.delete(key);
    }
  }

  #rememberPass(key: string, tag: string): void {
    const passes = this.#passes;
    passes.delete(key);
    passes.set(key, { until: this.now() + this.options.uncacheableTtl, tag });
    if (passes.size > MAX_PASSES) passes.delete(passes.keys().next().value!);
  }

  /** A HEAD is served from the GET page when it is fresh; a HEAD miss is never stored. */
  async head(key: string): Promise<PageEntry | undefined> {
    try {
      const value = await this.#cache.get<unknown>(key);
      return isPage(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * After a successful unsafe request: purges every page of the URL (all variants and
   * identities), and of its `Location` / `Content-Location` when they name this host (RFC 9111
   * section 4.4). The memory tier is purged before this returns a promise; the promise settles
   * once the shared tier has it too. Never rejects.
   */
  async invalidate(view: RequestView, status: number, location?: string, contentLocation?: string): Promise<void> {
    if (status < 200 || status >= 400) return;
    const host = view.header('host');
    const tags = [urlTag(host, view.url)];
    for (const target of [location, contentLocation]) {
      const path = sameOriginPath(target, host);
      if (path !== undefined) tags.push(urlTag(host, path));
    }
    if (this.#passes.size !== 0) {
      for (const [key, pass] of this.#passes) if (tags.includes(pass.tag)) this.#passes.delete(key);
    }
    try {
      await this.#cache.invalidateTags(tags);
    } catch {
      // A cache that cannot invalidate (closed, Redis refusing) must not fail the request.
    }
  }
}

/** The memory-tier peek's test: a page still fresh at `now` (a static function: no closure per request). */
function isFreshPage(value: unknown, now: number): value is PageEntry {
  return isPage(value) && !isStale(value, now);
}

/** The path and query of `target` when it is relative or on `host`; undefined otherwise. */
function sameOriginPath(target: string | undefined, host: string | undefined): string | undefined {
  if (target === undefined || target === '') return undefined;
  if (target.startsWith('/') && !target.startsWith('//')) return target;
  try {
    const url = new URL(target);
    if (host !== undefined && url.host.toLowerCase() === host.toLowerCase()) return url.pathname + url.search;
  } catch {
    // Not a URL: nothing to purge.
  }
  return undefined;
}
