import { Cache } from '../../cache/cache.js';
import { createCache } from '../../cache/create-cache.js';
import { checkKey, normalisePrefix } from '../../cache/validate.js';
import { parseDuration } from '../../config/duration.js';
import { checkRedisUrl, readEnv } from '../../config/env.js';
import type { EnvConfig } from '../../config/env.js';
import { redisTarget } from '../../config/redis-env.js';
import type { RedisTarget as Where } from '../../config/redis-env.js';
import { RedisBus } from '../../redis/redis-bus.js';
import { RedisStore } from '../../redis/redis-store.js';
import type { MarkedWrite } from '../../redis/redis-store.js';
import { checkGlob } from '../../util/glob.js';
import { OperationError, UsageError } from '../errors.js';
import { readReport } from '../redis/info.js';
import { enableNoTouch } from '../redis/no-touch.js';
import { DEFAULT_TIMEOUT } from '../target.js';
import type { InvalidateRequest, InvalidateResult, KeyReport, OpenOptions, StatsReport, Target, TargetOptions } from '../target.js';

/** Longest wait for the first connection before the CLI gives up. */
const CONNECT_WAIT = 2_000;
/** Below this, the gap between Redis' TTL and the entry's own expiry is clock noise, not grace. */
const GRACE_NOISE = 100;
/** Keys `clear` without `--yes` counts before it says "more than". */
const PREVIEW_LIMIT = 100_000;
/** Bus operations: their failures leave other instances' memory tiers stale, they do not fail the command. */
const BUS_OPERATIONS = new Set(['bus', 'bus:message', 'publish']);

/**
 * A Redis reached directly: hoard's own `RedisStore` behind a `Cache` (Redis-only), so keys,
 * tags, patterns and `clear()` mean exactly what they mean to the services using that Redis.
 * Mutating commands also publish on the invalidation bus (unless `CACHE_BUS=false` or
 * `--no-bus`), so services running two tiers drop their memory copies.
 *
 * The cache's own resilience (an unreachable Redis served from memory) would hide failures from
 * an operator: every `error` event of the Redis tier is collected, and a command that saw one
 * fails with it.
 */
export class RedisTarget implements Target {
  readonly kind = 'redis' as const;
  readonly label: string;
  readonly where: Where;
  readonly prefix: string;
  readonly config: EnvConfig;
  readonly store: RedisStore;
  readonly cache: Cache;
  /** Whether the server reads without touching keys (`CLIENT NO-TOUCH`); undefined when not asked for. */
  noTouch: boolean | undefined;
  /** Bus trouble: other instances may keep memory copies of what this command changed. */
  readonly warnings: string[] = [];
  readonly #errors: Error[] = [];

  private constructor(where: Where, prefix: string, config: EnvConfig, store: RedisStore, cache: Cache) {
    this.where = where;
    this.prefix = prefix;
    this.config = config;
    this.store = store;
    this.cache = cache;
    this.label = `${describeWhere(where)} prefix ${JSON.stringify(prefix)}`;
    cache.on('error', ({ error, operation }) => {
      if (!BUS_OPERATIONS.has(operation)) this.#errors.push(error);
      else if (operation === 'publish' && this.warnings.length === 0) {
        this.warnings.push(`the invalidation bus could not publish (${error.message}): services running two tiers keep their memory copies until their TTL`);
      }
    });
  }

  static async open(options: TargetOptions, open: OpenOptions, env: NodeJS.ProcessEnv): Promise<RedisTarget> {
    const config = readEnv(env);
    const where = whereFrom(options, config, env);
    const prefix = normalisePrefix(options.prefix ?? config.keyPrefix ?? 'hoard:', options.prefix === undefined ? 'CACHE_KEY_PREFIX' : '--prefix');
    const timeout = parseDuration(options.timeout ?? DEFAULT_TIMEOUT, '--timeout');
    const store = new RedisStore(where);
    let firstError: Error | undefined;
    let failed: (error: Error) => void = () => {};
    const offError = store.onError((error) => {
      firstError ??= error;
      failed(error);
    });
    const withBus = open.mutates === true && options.bus !== false && config.bus !== false;
    const cache = createCache(
      {
        store,
        ...(withBus ? { bus: new RedisBus(where) } : {}),
        namespace: prefix,
        name: 'hoard-cli',
        enabled: true,
        l2Timeout: timeout,
        connectTimeout: CONNECT_WAIT,
        closeTimeout: '2s',
        // The CLI reports failures instead of riding them out.
        circuitBreaker: { failureThreshold: 1_000_000 },
      },
      env,
    );
    const target = new RedisTarget(where, prefix, config, store, cache);
    try {
      // 1. Connected and answering, or the first connection error (refused, bad password) at once.
      await Promise.race([
        store.ping(),
        new Promise<never>((_resolve, reject) => {
          failed = reject;
          if (firstError !== undefined) reject(firstError);
        }),
      ]);
      // 2. Before any command of this run: reads leave LRU/LFU figures alone where the server can.
      if (open.noTouch === true) target.noTouch = await enableNoTouch(store.client);
      // 3. The bus connected (or given up on after CONNECT_WAIT), so its first publish is not lost.
      if (withBus) await cache.ready();
      // Trouble before the connection came up (a cluster node refusing at first) is behind us.
      target.#errors.length = 0;
    } catch (error) {
      await cache.close().catch(() => undefined);
      throw unreachable(target.label, config, error);
    } finally {
      offError();
    }
    return target;
  }

  async stats(): Promise<StatsReport> {
    return { target: this.label, redis: await readReport(this.store.client) };
  }

  async inspect(key: string): Promise<KeyReport | undefined> {
    checkKey(key);
    const info = await this.store.inspect(key, true);
    if (info === undefined) return undefined;
    const ttl = info.freshFor === Infinity ? null : Math.ceil(info.freshFor);
    // Redis' PTTL and the header's freshUntil come from two clocks a few ms apart: a difference
    // that small is no grace.
    const left = info.lifeLeft - info.freshFor;
    const grace = info.lifeLeft === Infinity ? (info.freshFor === Infinity ? 0 : null) : left < GRACE_NOISE ? 0 : Math.ceil(left);
    const tags = info.tags ?? [];
    const report: KeyReport = { key, tiers: { l2: { ttl, grace, stale: info.freshFor <= 0, bytes: info.bytes, tags } }, ttl, grace, tags, bytes: info.bytes };
    if ('value' in info) report.value = info.value;
    return report;
  }

  /**
   * Why a key `inspect` found nothing is absent for hoard although Redis holds something there:
   * a value hoard did not write (`foreign`), or an entry one of whose tags was invalidated
   * (`invalidated`: tags are invalidated lazily, the entry goes when next read).
   */
  async absence(key: string): Promise<'foreign' | 'invalidated' | undefined> {
    const full = this.prefix + key;
    const type = await this.store.client.type(full);
    if (type === 'none') return undefined;
    if (type !== 'string') return 'foreign';
    return (await this.store.client.getrange(full, 0, 0)) === '\u0001' ? 'invalidated' : 'foreign';
  }

  async ttl(key: string): Promise<number | undefined> {
    return this.#checked(await this.cache.ttl(key));
  }

  async scan(glob: string, cursor: string, count: number): Promise<{ keys: string[]; cursor: string }> {
    checkGlob(glob, 'keys');
    return this.store.scan(glob, cursor, count);
  }

  async delete(keys: readonly string[]): Promise<number> {
    return this.#checked(await this.cache.deleteMany(keys));
  }

  async invalidate(request: InvalidateRequest): Promise<InvalidateResult> {
    const tagsCounted = request.tags === undefined || request.tags.length === 0;
    if (request.pattern !== undefined) checkGlob(request.pattern, 'invalidate');
    if (request.dryRun === true) {
      let removed = 0;
      if (request.keys !== undefined && request.keys.length !== 0) {
        for (const key of request.keys) checkKey(key);
        const present = await Promise.all([...new Set(request.keys)].map((k) => this.cache.has(k)));
        removed += present.filter(Boolean).length;
      }
      if (request.pattern !== undefined) removed += await this.countKeys(request.pattern, Infinity);
      return { removed: this.#checked(removed), tagsCounted, dryRun: true };
    }
    let removed = 0;
    if (request.keys !== undefined && request.keys.length !== 0) removed += await this.cache.deleteMany(request.keys);
    if (request.pattern !== undefined) removed += await this.cache.deletePattern(request.pattern);
    if (request.tags !== undefined && request.tags.length !== 0) removed += await this.cache.invalidateTags(request.tags);
    return { removed: this.#checked(removed), tagsCounted, dryRun: false };
  }

  async clear(): Promise<void> {
    await this.cache.clear();
    this.#checked(undefined);
  }

  async clearPreview(): Promise<string> {
    const n = await this.countKeys('*', PREVIEW_LIMIT);
    const entries = n > PREVIEW_LIMIT ? `more than ${PREVIEW_LIMIT.toLocaleString('en-US')} entries` : `${n.toLocaleString('en-US')} ${n === 1 ? 'entry' : 'entries'}`;
    return `every key under the prefix ${JSON.stringify(this.prefix)} on ${describeWhere(this.where)}: ${entries}, and hoard's tag records and locks there (nothing outside the prefix)`;
  }

  /** Keys under the prefix matching `glob`, counted by SCAN; stops once past `limit`. */
  async countKeys(glob: string, limit: number): Promise<number> {
    let n = 0;
    let cursor = '0';
    do {
      const page = await this.store.scan(glob, cursor, 1000);
      n += page.keys.length;
      cursor = page.cursor;
    } while (cursor !== '0' && n <= limit);
    return n;
  }

  /** Writes a batch with its marker (see `RedisStore.writeMarked`) and tells other instances. */
  async writeMarked(entries: readonly MarkedWrite[], mark: string, markTtl: number): Promise<void> {
    await this.store.writeMarked(entries, mark, markTtl);
    Cache.coreOf(this.cache).publish({ type: 'keys', keys: entries.map((e) => e.key) });
  }

  /** The `l2Timeout` the services configured from this environment use (`CACHE_L2_TIMEOUT_MS`, default 50 ms). */
  get serviceL2Timeout(): number {
    return this.config.l2TimeoutMs ?? 50;
  }

  async close(): Promise<void> {
    await this.cache.close();
  }

  /** The result, unless the Redis tier reported an error meanwhile (the facade would have hidden it). */
  #checked<T>(value: T): T {
    const error = this.#errors.shift();
    if (error === undefined) return value;
    this.#errors.length = 0;
    throw new OperationError(`Redis failed: ${error.message}`, { cause: error });
  }
}

function whereFrom(options: TargetOptions, config: EnvConfig, env: NodeJS.ProcessEnv): Where {
  if (options.redisUrl !== undefined && options.cluster !== undefined) throw new UsageError('give --redis-url or --cluster, not both');
  if (options.redisUrl !== undefined) return { url: checkRedisUrl('--redis-url', options.redisUrl) };
  if (options.cluster !== undefined) {
    let nodes: EnvConfig['clusterNodes'];
    try {
      nodes = readEnv({ CACHE_REDIS_CLUSTER_NODES: options.cluster }).clusterNodes;
    } catch (cause) {
      throw new UsageError(`--cluster: expected host:port,host:port, got ${JSON.stringify(options.cluster)}`, { cause });
    }
    if (nodes === undefined) throw new UsageError('--cluster: expected host:port,host:port');
    return { cluster: nodes };
  }
  return redisTarget(config, env);
}

/** Where a target points, with any password hidden. */
export function describeWhere(where: Where): string {
  if ('cluster' in where) return `cluster ${where.cluster.map((n) => `${n.host}:${n.port}`).join(',')}`;
  try {
    const url = new URL(where.url);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return where.url;
  }
}

function unreachable(label: string, config: EnvConfig, error: unknown): OperationError {
  const reason = error instanceof Error ? (error.name === 'TimeoutError' || error.name === 'AbortError' ? `no answer within ${CONNECT_WAIT / 1000} s` : error.message) : String(error);
  const memoryOnly = config.backend === 'memory' || config.backend === 'none';
  const hint = memoryOnly
    ? `CACHE_BACKEND=${config.backend}: that cache lives inside its service; reach it with --admin URL --token TOKEN`
    : /WRONGPASS|NOAUTH|NOPERM/i.test(reason)
      ? 'check the user name and password in the URL (or REDIS_USERNAME / REDIS_PASSWORD)'
      : 'check --redis-url / --cluster (or CACHE_REDIS_URL / CACHE_REDIS_CLUSTER_NODES) and that Redis is running';
  return new OperationError(`cannot reach Redis at ${label}: ${reason}`, { hint, cause: error });
}
