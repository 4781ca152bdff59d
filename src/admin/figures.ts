import { Cache } from '../cache/cache.js';
import { underlying } from './keys.js';
import type { CacheCore } from '../cache/core.js';
import type { CacheStats } from '../cache/types.js';
import { TIMED_OUT, withDeadline } from '../resilience/deadline.js';
import { monitorsOf, unattachedMonitors } from '../metrics/monitor.js';
import type { Monitor } from '../metrics/monitor.js';

/** Redis' own figures, from INFO (summed over the masters of a cluster). */
export interface RedisFigures {
  usedMemory: number;
  /** 0: no limit. */
  maxmemory: number;
  maxmemoryPolicy: string;
  keyspaceHits: number;
  keyspaceMisses: number;
  evictedKeys: number;
  connectedClients: number;
}

/** State of the Redis tier: taking calls, refused by the open circuit breaker, or not connected. */
export type L2State = 'up' | 'breaker-open' | 'disconnected';

/** What `GET /stats` answers: the cache's `CacheStats`, with its name, per-tier counts, and Redis' figures. */
export interface AdminStats extends CacheStats {
  name: string;
  tiers: { l1: TierCounts; l2?: TierCounts };
  /** Only on Redis-backed caches. */
  l2?: { state: L2State; bus?: boolean };
  /** Entries in memory by first key segment (up to the first `:`), largest first. */
  namespaces: { prefix: string; entries: number }[];
  /** Only on Redis-backed caches; `{ error }` when Redis cannot say. */
  redis?: RedisFigures | { error: string };
}

export interface TierCounts {
  hits: number;
  misses: number;
  evictions: number;
  errors: number;
}

/** Figures refreshed at most this often, however many streams and requests ask. */
const FRESH_MS = 900;
/** Longest wait for Redis' INFO. */
const INFO_TIMEOUT = 1_000;
/** Most memory keys looked at to count entries by prefix. */
const NAMESPACE_SCAN = 50_000;
const NAMESPACE_ROWS = 20;

const infoMemo = new WeakMap<CacheCore, { at: number; value: Promise<RedisFigures | { error: string }> }>();
const namespaceMemo = new WeakMap<CacheCore, { at: number; value: { prefix: string; entries: number }[] }>();

/** The shared state of a cache, for what the public API does not tell (tiers, stores). */
export function coreOf(cache: Cache): CacheCore {
  return Cache.coreOf(cache);
}

/** Everything `GET /stats` and the live stream tell about a cache. */
export async function adminStats(cache: Cache): Promise<AdminStats> {
  const core = coreOf(cache);
  const stats = cache.stats();
  const m = cache.metrics();
  const counts = (t: { hits: number; misses: number; evictions: number; errors: number }): TierCounts => ({ hits: t.hits, misses: t.misses, evictions: t.evictions, errors: t.errors });
  const out: AdminStats = { name: cache.name, ...stats, tiers: { l1: counts(m.tiers.l1) }, namespaces: namespaces(core) };
  if (m.tiers.l2 !== undefined) out.tiers.l2 = counts(m.tiers.l2);
  const remote = core.remote;
  if (remote !== undefined) {
    const state: L2State = remote.available ? 'up' : remote.store.ready ? 'breaker-open' : 'disconnected';
    out.l2 = core.bus === undefined ? { state } : { state, bus: core.bus.healthy };
    out.redis = await redisFigures(core);
  }
  return out;
}

/** Monitors shown with these caches: those attached to them and those attached to none. */
export function monitorsFor(caches: readonly Cache[]): Monitor[] {
  const seen = new Set<Monitor>();
  for (const cache of caches) for (const m of monitorsOf(cache)) seen.add(m);
  for (const m of unattachedMonitors()) seen.add(m);
  return [...seen];
}

function namespaces(core: CacheCore): { prefix: string; entries: number }[] {
  const now = Date.now();
  const memo = namespaceMemo.get(core);
  if (memo !== undefined && now - memo.at < FRESH_MS) return memo.value;
  const counts = new Map<string, number>();
  const keys = (core.l1 as { keys?: () => Iterable<string> }).keys;
  if (typeof keys === 'function') {
    let seen = 0;
    for (const key of keys.call(core.l1)) {
      if (++seen > NAMESPACE_SCAN) break;
      const at = key.indexOf(':');
      const prefix = at === -1 ? '(no prefix)' : key.slice(0, at + 1);
      counts.set(prefix, (counts.get(prefix) ?? 0) + 1);
    }
  }
  const rows = [...counts].sort((a, b) => b[1] - a[1]);
  const value = rows.slice(0, NAMESPACE_ROWS).map(([prefix, entries]) => ({ prefix, entries }));
  const rest = rows.slice(NAMESPACE_ROWS).reduce((sum, [, n]) => sum + n, 0);
  if (rest > 0) value.push({ prefix: '(other)', entries: rest });
  namespaceMemo.set(core, { at: now, value });
  return value;
}

interface InfoClient {
  info(): Promise<string>;
  nodes?: (role: 'master') => InfoClient[];
}

function redisFigures(core: CacheCore): Promise<RedisFigures | { error: string }> {
  const now = Date.now();
  const memo = infoMemo.get(core);
  if (memo !== undefined && now - memo.at < FRESH_MS) return memo.value;
  const value = readInfo(core);
  infoMemo.set(core, { at: now, value });
  return value;
}

async function readInfo(core: CacheCore): Promise<RedisFigures | { error: string }> {
  const remote = core.remote!;
  if (!remote.available) return { error: `Redis is unavailable${core.lastL2Error === undefined ? '' : `: ${core.lastL2Error}`}` };
  const client = (underlying(remote.store) as { client?: unknown }).client as InfoClient | undefined;
  if (client === undefined || typeof client.info !== 'function') return { error: 'this store does not expose Redis INFO' };
  const nodes = typeof client.nodes === 'function' && (client as { isCluster?: boolean }).isCluster === true ? client.nodes('master') : [client];
  try {
    const texts = await withDeadline(Promise.all(nodes.map((n) => n.info())), INFO_TIMEOUT);
    if (texts === TIMED_OUT) return { error: `INFO did not answer within ${INFO_TIMEOUT} ms` };
    const figures: RedisFigures = { usedMemory: 0, maxmemory: 0, maxmemoryPolicy: '', keyspaceHits: 0, keyspaceMisses: 0, evictedKeys: 0, connectedClients: 0 };
    for (const text of texts) {
      const info = parseInfo(text);
      figures.usedMemory += num(info.used_memory);
      figures.maxmemory += num(info.maxmemory);
      figures.maxmemoryPolicy ||= info.maxmemory_policy ?? '';
      figures.keyspaceHits += num(info.keyspace_hits);
      figures.keyspaceMisses += num(info.keyspace_misses);
      figures.evictedKeys += num(info.evicted_keys);
      figures.connectedClients += num(info.connected_clients);
    }
    return figures;
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** `INFO`'s `field:value` lines. */
export function parseInfo(text: string): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf(':');
    if (at <= 0 || line.startsWith('#')) continue;
    out[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return out;
}

function num(value: string | undefined): number {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}
