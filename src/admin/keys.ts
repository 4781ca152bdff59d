import type { Cache } from '../cache/cache.js';
import type { CacheCore } from '../cache/core.js';
import { checkKey } from '../cache/validate.js';
import { estimateSize } from '../memory/size-of.js';
import type { RemoteStore } from '../stores/store.js';
import { UNAVAILABLE } from '../tiers/remote-tier.js';
import { checkGlob, compileGlob, escapeGlob } from '../util/glob.js';
import { coreOf } from './figures.js';

/** How one tier holds a key. Times in ms; `null` means no expiry. */
export interface TierHolding {
  /** Ms until the value turns stale; 0 once stale (served only by `getOrSet` inside its grace). */
  ttl: number | null;
  /** Ms the entry stays after that as a fallback (grace left). */
  grace: number | null;
  stale: boolean;
  /** Size in this tier: Redis' STRLEN, or the memory store's accounted (or estimated) bytes. */
  bytes: number | null;
  tags: string[];
}

/** What `GET /keys/:key` answers. */
export interface KeyReport {
  key: string;
  /** The tiers holding the key; `l2: { error }` when Redis could not say. */
  tiers: { l1?: TierHolding; l2?: TierHolding | { error: string } };
  /** From the authoritative tier (L2 when it holds the key, else L1). */
  ttl: number | null;
  grace: number | null;
  tags: string[];
  bytes: number | null;
  /** Only with `?value=1`. */
  value?: unknown;
}

interface InspectableStore {
  inspect(key: string, withValue: boolean): Promise<{ freshFor: number; lifeLeft: number; bytes: number; tags: string[] | undefined; value?: unknown } | undefined>;
}
interface ScannableStore {
  scan(glob: string, cursor: string, count: number): Promise<{ keys: string[]; cursor: string }>;
}
interface DescribableMemory {
  describe(key: string): { freshFor: number; lifeLeft: number; tags: readonly string[] | undefined; bytes: number | undefined } | undefined;
  peek(key: string): unknown;
}

const ms = (n: number): number | null => (n === Infinity ? null : Math.ceil(n));
/** A grace: the difference of two deadlines, rounded (not ceiled) so float error does not add a millisecond. */
const graceMs = (n: number): number | null => (n === Infinity || Number.isNaN(n) ? null : Math.round(n));

/** Tags as the view sees them (`t1:x` is `x` from namespace `t1`). */
function viewTags(tags: readonly string[] | undefined, path: string): string[] {
  if (tags === undefined) return [];
  return tags.filter((t) => t.startsWith(path)).map((t) => t.slice(path.length));
}

/**
 * Describes `key` (a key of the cache's view) across tiers: which hold it, TTL and grace left,
 * tags and size; the value only when asked. Undefined when no tier holds it. Invalid keys throw
 * `InvalidKeyError`. Reading L2 goes through the cache's deadline and breaker like any call.
 */
export async function inspectKey(cache: Cache, key: string, withValue: boolean): Promise<KeyReport | undefined> {
  checkKey(key);
  const core = coreOf(cache);
  const path = cache.path;
  const full = path + key;
  const report: KeyReport = { key, tiers: {}, ttl: null, grace: null, tags: [], bytes: null };
  let l1Value: { value: unknown } | undefined;
  const memory = core.l1 as Partial<DescribableMemory> & typeof core.l1;
  if (typeof memory.describe === 'function') {
    const d = memory.describe(full);
    if (d !== undefined) {
      const stale = d.freshFor === 0;
      const value = memory.peek?.(full) ?? memory.getStale(full)?.value;
      report.tiers.l1 = { ttl: ms(d.freshFor), grace: graceMs(d.lifeLeft - d.freshFor), stale, bytes: d.bytes ?? estimateSize(value, full), tags: viewTags(d.tags, path) };
      l1Value = { value };
    }
  } else {
    const entry = core.l1.getStale(full);
    if (entry !== undefined) {
      const ttl = core.l1.ttl(full);
      report.tiers.l1 = { ttl: ttl === undefined ? 0 : ms(ttl), grace: null, stale: entry.stale, bytes: estimateSize(entry.value, full), tags: [] };
      l1Value = { value: entry.value };
    }
  }
  let l2Value: { value: unknown } | undefined;
  if (core.remote !== undefined) {
    const found = await inspectRemote(core, full, withValue).catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }));
    if (found !== undefined) {
      if ('error' in found) {
        report.tiers.l2 = { error: found.error };
      } else {
        report.tiers.l2 = { ttl: ms(found.freshFor), grace: graceMs(found.lifeLeft - found.freshFor), stale: found.freshFor <= 0, bytes: found.bytes, tags: viewTags(found.tags, path) };
        if ('value' in found) l2Value = { value: found.value };
      }
    }
  }
  const l2 = report.tiers.l2;
  const main = l2 !== undefined && !('error' in l2) ? l2 : report.tiers.l1;
  if (main === undefined) return undefined;
  report.ttl = main.ttl;
  report.grace = main.grace;
  report.tags = main.tags;
  report.bytes = main.bytes;
  if (withValue) report.value = main === report.tiers.l1 ? l1Value?.value : l2Value?.value;
  return report;
}

type RemoteFinding = { freshFor: number; lifeLeft: number; bytes: number; tags: string[] | undefined; value?: unknown } | { error: string } | undefined;

async function inspectRemote(core: CacheCore, full: string, withValue: boolean): Promise<RemoteFinding> {
  const remote = core.remote!;
  const store = underlying(remote.store) as RemoteStore & Partial<InspectableStore>;
  if (typeof store.inspect === 'function') {
    const r = await remote.run('inspect', full, () => (store as RemoteStore & InspectableStore).inspect(full, withValue));
    return r === UNAVAILABLE ? { error: 'Redis is unavailable' } : r;
  }
  // A store without inspect(): its entry, sized by encoding the value again.
  const r = await remote.run('inspect', full, (s) => s.getEntry(full));
  if (r === UNAVAILABLE) return { error: 'Redis is unavailable' };
  if (r === undefined) return undefined;
  const freshFor = r.freshFor === undefined ? Infinity : Math.max(0, r.freshFor);
  const found: RemoteFinding = { freshFor, lifeLeft: freshFor, bytes: Buffer.byteLength(store.serializer.encode(r.value)), tags: r.tags === undefined ? undefined : [...r.tags] };
  if (withValue) found.value = r.value;
  return found;
}

/** One page of `GET /keys`. */
export interface KeyPage {
  keys: string[];
  /** Pass it back for the next page; `'0'` once the listing is complete. */
  cursor: string;
  done: boolean;
  /** `l2` (Redis, SCAN) or `l1` (memory; also while Redis is unavailable). */
  source: 'l1' | 'l2';
}

/** Cursor shapes: `r<redis cursor>` pages Redis, `m<offset>` pages memory; `0` starts. */
const CURSOR = /^(?:0|r\d+(?::\d+)?|m\d+)$/;

/** Whether `cursor` is one `listKeys` hands out. */
export function validCursor(cursor: string): boolean {
  return CURSOR.test(cursor);
}

/**
 * One page of the view's keys matching `pattern`: SCAN on Redis when the cache has a Redis tier
 * that answers (never KEYS; every master of a cluster), else the memory tier. Like SCAN, a page
 * may be empty before the end, and keys changed meanwhile may show or not.
 */
export async function listKeys(cache: Cache, pattern: string, cursor: string, count: number): Promise<KeyPage> {
  checkGlob(pattern, 'keys');
  const core = coreOf(cache);
  const path = cache.path;
  const glob = escapeGlob(path) + pattern;
  const store = (core.remote === undefined ? undefined : underlying(core.remote.store)) as (RemoteStore & Partial<ScannableStore>) | undefined;
  const useRemote = cursor.startsWith('r') || (cursor === '0' && core.remote?.available === true && typeof store?.scan === 'function');
  if (useRemote && core.remote !== undefined && typeof store?.scan === 'function') {
    const r = await core.remote.run('scan', undefined, () => (store as RemoteStore & ScannableStore).scan(glob, cursor === '0' ? '0' : cursor.slice(1), count));
    if (r === UNAVAILABLE) throw new Error('Redis is unavailable: retry, or start over (cursor=0) to list the memory tier');
    const keys = r.keys.filter((k) => k.startsWith(path)).map((k) => k.slice(path.length));
    const done = r.cursor === '0';
    return { keys, cursor: done ? '0' : `r${r.cursor}`, done, source: 'l2' };
  }
  const all = (core.l1 as { keys?: () => Iterable<string> }).keys;
  if (typeof all !== 'function') return { keys: [], cursor: '0', done: true, source: 'l1' };
  const offset = cursor.startsWith('m') ? Number(cursor.slice(1)) : 0;
  const matches = compileGlob(glob);
  const keys: string[] = [];
  let i = 0;
  let more = false;
  for (const key of all.call(core.l1)) {
    if (i++ < offset) continue;
    if (i > offset + count) {
      more = true;
      break;
    }
    if (matches(key)) keys.push(key.slice(path.length));
  }
  return { keys, cursor: more ? `m${offset + count}` : '0', done: !more, source: 'l1' };
}

/** Most keys a dry run looks at. */
const DRY_RUN_SCAN = 100_000;

/**
 * How many entries an invalidation would remove, removing nothing: keys that exist, keys matching
 * the pattern (Redis when available, else memory), and memory entries carrying the tags (on Redis
 * tags are invalidated lazily, so that count is a lower bound).
 */
export async function dryRunCount(cache: Cache, request: { keys?: readonly string[] | undefined; tags?: readonly string[] | undefined; pattern?: string | undefined }): Promise<number> {
  let count = 0;
  if (request.keys !== undefined) {
    const present = await Promise.all(request.keys.map((k) => cache.has(k)));
    count += present.filter(Boolean).length;
  }
  if (request.pattern !== undefined) {
    let cursor = '0';
    let seen = 0;
    do {
      const page = await listKeys(cache, request.pattern, cursor, 1000);
      count += page.keys.length;
      seen += 1000;
      cursor = page.cursor;
    } while (cursor !== '0' && seen < DRY_RUN_SCAN);
  }
  if (request.tags !== undefined && request.tags.length !== 0) {
    const core = coreOf(cache);
    const memory = core.l1 as Partial<DescribableMemory> & { keys?: () => Iterable<string> };
    const wanted = new Set(request.tags.map((t) => cache.path + t));
    if (typeof memory.keys === 'function' && typeof memory.describe === 'function') {
      let seen = 0;
      for (const key of memory.keys.call(core.l1)) {
        if (++seen > DRY_RUN_SCAN) break;
        const tags = memory.describe.call(core.l1, key)?.tags;
        if (tags?.some((t) => wanted.has(t)) === true) count++;
      }
    }
  }
  return count;
}

/**
 * The store itself behind a cache's shared tier: a store still loading (`CACHE_BACKEND=redis`
 * without importing `hoard/redis`) hands over the Redis store once it is built.
 */
export function underlying(store: RemoteStore): RemoteStore {
  return (store as { loaded?: RemoteStore }).loaded ?? store;
}
