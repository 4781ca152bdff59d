/**
 * What a command acts on: a Redis (hoard's `RedisStore` behind a `Cache`), or a running service's
 * admin routes. Both answer in the admin API's shapes, so every command prints one way whatever
 * the target. Implementations are loaded lazily: `hoard --help` never loads a Redis client.
 */
import type { AdminStats, KeyPage, KeyReport } from '../admin/index.js';
import { UsageError } from './errors.js';
import type { RedisReport } from './redis/info.js';
import type { RedisTarget } from './targets/redis-target.js';

export type { AdminStats, KeyPage, KeyReport };

/** What `stats` shows: the service's cache figures (admin target) and Redis' own (both, when known). */
export interface StatsReport {
  target: string;
  /** The cache's `CacheStats` and per-tier figures, as the admin routes report them. */
  cache?: AdminStats;
  /** Redis' figures from INFO (summed over the masters of a cluster). */
  redis?: RedisReport;
}

export interface InvalidateRequest {
  keys?: readonly string[] | undefined;
  tags?: readonly string[] | undefined;
  pattern?: string | undefined;
  /** Count what would be removed, removing nothing. */
  dryRun?: boolean | undefined;
}

export interface InvalidateResult {
  /** Entries removed (or, in a dry run, that would be). Tagged entries in Redis are not counted: see `tagsCounted`. */
  removed: number;
  /** Whether `removed` includes the entries of the tags (false on Redis: they are removed lazily, when next read). */
  tagsCounted: boolean;
  dryRun: boolean;
}

export interface Target {
  readonly kind: 'redis' | 'admin';
  /** Where it points, without credentials. */
  readonly label: string;
  stats(): Promise<StatsReport>;
  /** A key across tiers, with its value; undefined when absent. */
  inspect(key: string): Promise<KeyReport | undefined>;
  /** Ms until the value turns stale, `Infinity` without expiry, undefined when absent (or stale). */
  ttl(key: string): Promise<number | undefined>;
  /** One page of keys matching `glob` (relative to the prefix); cursor `'0'` starts and, returned, ends. */
  scan(glob: string, cursor: string, count: number): Promise<{ keys: string[]; cursor: string }>;
  delete(keys: readonly string[]): Promise<number>;
  invalidate(request: InvalidateRequest): Promise<InvalidateResult>;
  clear(): Promise<void>;
  /** What `clear` would remove, in a sentence. */
  clearPreview(): Promise<string>;
  /**
   * Why a key `inspect` did not find is absent although the store holds something there: a
   * value hoard did not write, or an entry invalidated by a tag and not yet removed.
   */
  absence?(key: string): Promise<'foreign' | 'invalidated' | undefined>;
  /** Trouble that did not fail the command (the bus could not publish). */
  readonly warnings?: readonly string[];
  close(): Promise<void>;
}

/** The global options that choose and reach a target. */
export interface TargetOptions {
  redisUrl?: string | undefined;
  cluster?: string | undefined;
  prefix?: string | undefined;
  admin?: string | undefined;
  token?: string | undefined;
  cache?: string | undefined;
  timeout?: string | undefined;
  bus?: boolean | undefined;
}

/** How a command uses its target. */
export interface OpenOptions {
  /** The command changes the cache: other instances' memory tiers are told through the bus. */
  mutates?: boolean;
  /** Read without updating Redis' LRU/LFU figures (`CLIENT NO-TOUCH`, where the server has it). */
  noTouch?: boolean;
}

/** Default deadline of each Redis or admin call made by the CLI (long: it runs bulk operations). */
export const DEFAULT_TIMEOUT = '30s';

/** Opens the target the options name: `--admin` for a service's admin routes, else Redis. */
export async function openTarget(options: TargetOptions, open: OpenOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<Target> {
  if (options.admin !== undefined) {
    const conflicting = [options.redisUrl === undefined ? undefined : '--redis-url', options.cluster === undefined ? undefined : '--cluster', options.prefix === undefined ? undefined : '--prefix'].filter(
      (o) => o !== undefined,
    );
    if (conflicting.length !== 0) throw new UsageError(`--admin cannot be combined with ${conflicting.join(', ')}: the service's admin routes reach its own cache`);
    const { AdminTarget } = await import('./targets/admin-target.js');
    return AdminTarget.open(options, env);
  }
  if (options.token !== undefined || options.cache !== undefined) {
    throw new UsageError(`${options.token === undefined ? '--cache' : '--token'} applies to an --admin target only`);
  }
  const { RedisTarget } = await import('./targets/redis-target.js');
  return RedisTarget.open(options, open, env);
}

/** The target as a Redis one, or a usage error naming the command that needs it. */
export async function openRedisTarget(command: string, options: TargetOptions, open: OpenOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<RedisTarget> {
  if (options.admin !== undefined) {
    throw new UsageError(`${command} needs a Redis target: the admin routes cannot ${command === 'warm' ? 'write entries' : command === 'bench' ? 'run a benchmark' : 'read Redis settings'}`, {
      hint: 'give --redis-url URL or --cluster host:port,... (or set CACHE_REDIS_URL / CACHE_REDIS_CLUSTER_NODES)',
    });
  }
  if (options.token !== undefined || options.cache !== undefined) {
    throw new UsageError(`${options.token === undefined ? '--cache' : '--token'} applies to an --admin target only`);
  }
  const { RedisTarget } = await import('./targets/redis-target.js');
  return RedisTarget.open(options, open, env);
}
