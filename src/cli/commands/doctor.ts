import type { Redis } from 'ioredis';
import { parseDuration } from '../../config/duration.js';
import { isCluster } from '../../redis/connect.js';
import type { Context } from '../context.js';
import { OperationError } from '../errors.js';
import { bytes, count, latency } from '../format.js';
import type { Colors } from '../output.js';
import { compareVersions, infoOf, nodeLabel, nodesOf } from '../redis/info.js';
import { openTarget } from '../target.js';
import type { AdminStats } from '../target.js';
import type { RedisTarget } from '../targets/redis-target.js';

export type Status = 'pass' | 'warn' | 'fail' | 'info';

export interface Check {
  name: string;
  status: Status;
  detail: string;
  /** What to do about a warning or failure. */
  fix?: string;
}

export interface DoctorOptions {
  l2Timeout?: string | undefined;
  sample: number;
}

const PINGS = 20;
/** Redis from which `CLIENT NO-TOUCH` exists. */
const NO_TOUCH_VERSION = '7.2';
const POLICY_FIX = 'set maxmemory-policy to allkeys-lru (or allkeys-lfu): CONFIG SET maxmemory-policy allkeys-lru, or the eviction policy setting of your provider';

/**
 * `doctor`: checks that the Redis behind the cache is set up for caching, from INFO only
 * (managed services refuse CONFIG GET). Exits with 1 when a check fails.
 */
export async function doctor(ctx: Context, options: DoctorOptions): Promise<number> {
  const checks: Check[] = [];
  let label = ctx.options.admin ?? 'Redis';
  try {
    const target = await openTarget(ctx.options, { noTouch: true }, ctx.env);
    label = target.label;
    try {
      if (target.kind === 'redis') await redisChecks(target as RedisTarget, options, checks);
      else await adminChecks((await target.stats()).cache!, checks);
    } finally {
      await target.close();
    }
  } catch (error) {
    if (!(error instanceof OperationError) || checks.length !== 0) throw error;
    checks.push({ name: 'reachable', status: 'fail', detail: error.message, ...(error.hint === undefined ? {} : { fix: error.hint }) });
  }
  const failures = checks.filter((c) => c.status === 'fail').length;
  const warningCount = checks.filter((c) => c.status === 'warn').length;
  const { out } = ctx;
  if (out.json) {
    out.data({ target: label, ok: failures === 0, failures, warnings: warningCount, checks });
  } else {
    out.line(out.c.bold(`hoard doctor: ${label}`));
    out.line(render(checks, out.c));
    const summary = `${failures} ${failures === 1 ? 'failure' : 'failures'}, ${warningCount} ${warningCount === 1 ? 'warning' : 'warnings'}`;
    out.line(failures !== 0 ? out.c.red(summary) : warningCount !== 0 ? out.c.yellow(summary) : out.c.green('all checks passed'));
  }
  return failures === 0 ? 0 : 1;
}

function render(checks: readonly Check[], c: Colors): string {
  const mark: Record<Status, string> = { pass: c.green('✓'), warn: c.yellow('!'), fail: c.red('✗'), info: c.dim('·') };
  const width = Math.max(...checks.map((k) => k.name.length));
  return checks
    .map((k) => `  ${mark[k.status]} ${k.name.padEnd(width)}  ${k.status === 'fail' ? c.red(k.detail) : k.detail}${k.fix === undefined ? '' : `\n${' '.repeat(width + 6)}${c.cyan('fix:')} ${k.fix}`}`)
    .join('\n');
}

async function redisChecks(target: RedisTarget, options: DoctorOptions, checks: Check[]): Promise<void> {
  const client = target.store.client;
  const nodes = nodesOf(client);
  const l2Timeout = options.l2Timeout === undefined ? target.serviceL2Timeout : parseDuration(options.l2Timeout, '--l2-timeout');

  // Reachable, and how far: PINGs one at a time, as a service's lone call would pay.
  const rtts: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const started = performance.now();
    await Promise.all(nodes.map((n) => n.ping()));
    rtts.push(performance.now() - started);
  }
  rtts.sort((a, b) => a - b);
  const p50 = rtts[Math.floor(rtts.length / 2)]!;
  const max = rtts[rtts.length - 1]!;
  checks.push({ name: 'reachable', status: 'pass', detail: `${nodes.length === 1 ? nodeLabel(nodes[0]!) : `${nodes.length} masters`} answered PING` });
  const rtt = `round trip p50 ${latency(p50)}, max ${latency(max)} over ${PINGS} PINGs; l2Timeout ${latency(l2Timeout)}`;
  if (p50 >= l2Timeout) {
    checks.push({ name: 'latency', status: 'fail', detail: `${rtt}: most calls would time out and count as Redis failures`, fix: 'run the services closer to Redis, or raise l2Timeout (CACHE_L2_TIMEOUT_MS) above the round trip' });
  } else if (max >= l2Timeout / 2) {
    checks.push({ name: 'latency', status: 'warn', detail: `${rtt}: the slowest calls come close to the deadline`, fix: 'raise l2Timeout (CACHE_L2_TIMEOUT_MS) to a few times the slowest round trip' });
  } else {
    checks.push({ name: 'latency', status: 'pass', detail: rtt });
  }

  let infos: Map<string, string>[];
  try {
    infos = await infoOf(nodes);
  } catch (error) {
    checks.push({ name: 'info', status: 'fail', detail: `INFO refused: ${(error as Error).message}; the settings cannot be checked`, fix: 'allow INFO to this user (ACL SETUSER <user> +info), or run the doctor as a user that has it' });
    await permissionCheck(target, nodes[0]!, checks);
    return;
  }
  const version = infos.map((f) => f.get('redis_version') ?? '0').sort(compareVersions)[0] ?? '0';
  if (compareVersions(version, '6.0.0') < 0) {
    checks.push({ name: 'version', status: 'warn', detail: `Redis ${version}: hoard is tested on 6.2 and later`, fix: 'upgrade Redis (7.2 or later reads without touching keys)' });
  } else {
    checks.push({ name: 'version', status: 'pass', detail: `Redis ${version}${infos[0]?.get('redis_mode') === 'cluster' ? ' (cluster)' : ''}` });
  }
  checks.push(
    target.noTouch === true
      ? { name: 'no-touch', status: 'info', detail: 'CLIENT NO-TOUCH is on: this CLI reads keys without changing their LRU/LFU figures' }
      : {
          name: 'no-touch',
          status: 'info',
          detail: `CLIENT NO-TOUCH needs Redis ${NO_TOUCH_VERSION}${compareVersions(version, NO_TOUCH_VERSION) < 0 ? '' : ' and was refused'}: get, ttl and doctor update the LRU/LFU figures of the keys they read`,
        },
  );

  const unlimited = nodes.filter((_n, i) => Number(infos[i]!.get('maxmemory') ?? '0') === 0);
  if (unlimited.length !== 0) {
    checks.push({
      name: 'maxmemory',
      status: 'warn',
      detail: `0 (no limit)${nodes.length > 1 ? ` on ${unlimited.map(nodeLabel).join(', ')}` : ''}: Redis grows until the machine runs out of memory instead of evicting`,
      fix: 'set maxmemory to what Redis may use (e.g. CONFIG SET maxmemory 2gb, or your provider\'s memory setting), with an allkeys-* policy',
    });
  } else {
    const limits = infos.map((f) => Number(f.get('maxmemory') ?? '0'));
    const used = infos.map((f) => Number(f.get('used_memory') ?? '0'));
    checks.push({ name: 'maxmemory', status: 'pass', detail: `${bytes(limits.reduce((a, b) => a + b, 0))} (${bytes(used.reduce((a, b) => a + b, 0))} used)` });
  }

  const policies = [...new Set(infos.map((f) => f.get('maxmemory_policy') ?? 'unknown'))];
  if (policies.includes('noeviction')) {
    checks.push({ name: 'maxmemory-policy', status: 'fail', detail: 'noeviction: once Redis is full every write fails with OOM, and the cache stops caching', fix: POLICY_FIX });
  } else if (policies.some((p) => p.startsWith('volatile-'))) {
    checks.push({
      name: 'maxmemory-policy',
      status: 'warn',
      detail: `${policies.join(', ')}: only keys with a TTL are evicted; entries cached without one (ttl: Infinity) never are, and writes fail with OOM once they fill Redis`,
      fix: POLICY_FIX,
    });
  } else {
    checks.push({ name: 'maxmemory-policy', status: 'pass', detail: policies.join(', ') });
  }

  await clusterCheck(target, nodes, infos, checks);
  await permissionCheck(target, nodes[0]!, checks);
  await foreignCheck(target, options.sample, checks);
  const evicted = infos.reduce((n, f) => n + Number(f.get('evicted_keys') ?? '0'), 0);
  if (evicted > 0) checks.push({ name: 'evictions', status: 'info', detail: `${count(evicted)} keys evicted since Redis started: it is full, and evicts as a cache should` });
}

async function clusterCheck(target: RedisTarget, nodes: readonly Redis[], infos: readonly Map<string, string>[], checks: Check[]): Promise<void> {
  const enabled = infos.some((f) => f.get('cluster_enabled') === '1');
  if (!isCluster(target.store.client)) {
    if (enabled) {
      checks.push({ name: 'cluster', status: 'fail', detail: 'this node belongs to a Redis Cluster, but it is used as a single node: keys of other slots answer MOVED', fix: 'connect with --cluster host:port,... (CACHE_REDIS_CLUSTER_NODES)' });
    } else {
      checks.push({ name: 'cluster', status: 'info', detail: 'standalone (no cluster)' });
    }
    return;
  }
  const states = await Promise.all(nodes.map(async (n) => /cluster_state:(\w+)/.exec(String(await n.call('CLUSTER', 'INFO')))?.[1] ?? 'unknown'));
  const bad = nodes.filter((_n, i) => states[i] !== 'ok');
  if (bad.length !== 0) {
    checks.push({ name: 'cluster', status: 'fail', detail: `cluster_state is not ok on ${bad.map(nodeLabel).join(', ')}: calls to its slots fail`, fix: 'check CLUSTER INFO / CLUSTER NODES: a master is down or slots are not covered' });
  } else {
    checks.push({ name: 'cluster', status: 'pass', detail: `state ok on all ${nodes.length} masters` });
  }
}

/** What hoard sends, and what breaks without it. */
const NEEDED: readonly { command: string; args: (prefix: string) => string[]; needed: string; fatal: boolean }[] = [
  { command: 'GET', args: (p) => [`${p}doctor`], needed: 'reads', fatal: true },
  { command: 'SET', args: (p) => [`${p}doctor`, 'x'], needed: 'writes', fatal: true },
  { command: 'MGET', args: (p) => [`${p}doctor`], needed: 'getMany and tags', fatal: true },
  { command: 'UNLINK', args: (p) => [`${p}doctor`], needed: 'deletes', fatal: true },
  { command: 'SCAN', args: () => ['0'], needed: 'deletePattern, clear and keys', fatal: true },
  { command: 'EVAL', args: (p) => ['return 1', '1', `${p}doctor`], needed: 'tagged writes, incr and tag invalidation', fatal: true },
  { command: 'EVALSHA', args: (p) => ['e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '1', `${p}doctor`], needed: 'has, ttl and locks', fatal: true },
  { command: 'PUBLISH', args: (p) => [`${p}bus`, 'x'], needed: 'the invalidation bus of two-tier caches', fatal: true },
  { command: 'SUBSCRIBE', args: (p) => [`${p}bus`], needed: 'the invalidation bus of two-tier caches', fatal: true },
  { command: 'TIME', args: () => [], needed: 'tag invalidation', fatal: true },
  { command: 'INFO', args: () => [], needed: 'the admin API\'s Redis figures and this doctor', fatal: false },
];

/**
 * The commands hoard sends, with keys and channels under the prefix: `ACL DRYRUN` as the connected
 * user where allowed (Redis 7), else by trying the harmless ones.
 */
async function permissionCheck(target: RedisTarget, node: Redis, checks: Check[]): Promise<void> {
  const prefix = target.prefix;
  let user: string | undefined;
  let denied: { command: string; needed: string; fatal: boolean }[] | undefined;
  try {
    user = String(await node.call('ACL', 'WHOAMI'));
    const answers = await Promise.all(NEEDED.map((n) => node.call('ACL', 'DRYRUN', user!, n.command, ...n.args(prefix)).then(String)));
    denied = NEEDED.filter((_n, i) => answers[i] !== 'OK');
  } catch {
    denied = await probe(target, node);
  }
  const how = user === undefined ? 'by trying them' : `ACL DRYRUN as user ${JSON.stringify(user)}`;
  if (denied.length === 0) {
    checks.push({ name: 'permissions', status: 'pass', detail: `GET, SET, MGET, UNLINK, SCAN, EVAL, EVALSHA, PUBLISH, SUBSCRIBE, TIME, INFO allowed (${how})` });
    return;
  }
  const fatal = denied.filter((d) => d.fatal);
  const listed = denied.map((d) => `${d.command} (${d.needed})`).join(', ');
  checks.push({
    name: 'permissions',
    status: fatal.length === 0 ? 'warn' : 'fail',
    detail: `the user cannot run ${listed} (${how})`,
    fix: `ACL SETUSER ${user ?? '<user>'} ${denied.map((d) => `+${d.command.toLowerCase()}`).join(' ')} ~${escapeAcl(prefix)}* &${escapeAcl(prefix)}* (or the equivalent in your provider's console)`,
  });
}

function escapeAcl(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, '\\$&');
}

/** Without ACL DRYRUN: the commands that are harmless to send. NOPERM means denied. */
async function probe(target: RedisTarget, node: Redis): Promise<{ command: string; needed: string; fatal: boolean }[]> {
  const prefix = target.prefix;
  const deniedBy = async (run: () => Promise<unknown>): Promise<boolean> => {
    try {
      await run();
      return false;
    } catch (error) {
      return /NOPERM|no permissions/i.test((error as Error).message);
    }
  };
  const tries: Record<string, () => Promise<unknown>> = {
    GET: () => node.call('GET', `${prefix}\u0000doctor`),
    MGET: () => node.call('MGET', `${prefix}\u0000doctor`),
    UNLINK: () => node.call('UNLINK', `${prefix}\u0000doctor`),
    SCAN: () => node.call('SCAN', '0', 'MATCH', `${prefix}\u0000doctor`, 'COUNT', '1'),
    EVAL: () => node.call('EVAL', 'return 1', '0'),
    // NOSCRIPT (allowed) or NOPERM (denied): nothing runs either way.
    EVALSHA: () => node.call('EVALSHA', 'ffffffffffffffffffffffffffffffffffffffff', '0'),
    // A heartbeat in the bus's own form, which every instance ignores.
    PUBLISH: () => node.call('PUBLISH', `${prefix}bus`, JSON.stringify({ o: 'hoard-doctor', s: 0 })),
    SUBSCRIBE: async () => {
      const sub = node.duplicate({ lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
      sub.on('error', () => undefined);
      try {
        await sub.connect();
        await sub.subscribe(`${prefix}bus`);
      } finally {
        sub.disconnect();
      }
    },
    TIME: () => node.call('TIME'),
    INFO: () => node.call('INFO', 'server'),
  };
  const denied: { command: string; needed: string; fatal: boolean }[] = [];
  for (const n of NEEDED) {
    const run = tries[n.command];
    if (run !== undefined && (await deniedBy(run))) denied.push(n);
  }
  return denied;
}

/** A sample of the keys under the prefix: values hoard did not write start without its marker byte. */
async function foreignCheck(target: RedisTarget, sample: number, checks: Check[]): Promise<void> {
  if (sample === 0) return;
  const client = target.store.client;
  const prefix = target.prefix;
  const foreign: string[] = [];
  let looked = 0;
  let cursor = '0';
  try {
    do {
      const page = await target.store.scan('*', cursor, 500);
      cursor = page.cursor;
      const keys = page.keys.slice(0, sample - looked);
      looked += keys.length;
      const types = await Promise.all(keys.map((k) => client.type(prefix + k)));
      const heads = await Promise.all(keys.map((k, i) => (types[i] === 'string' ? client.getrange(prefix + k, 0, 0) : Promise.resolve(''))));
      keys.forEach((k, i) => {
        if (types[i] !== 'none' && heads[i] !== '\u0001') foreign.push(k);
      });
    } while (cursor !== '0' && looked < sample);
  } catch (error) {
    checks.push({ name: 'foreign keys', status: 'warn', detail: `could not look under the prefix: ${(error as Error).message}` });
    return;
  }
  const scope = `${count(looked)} ${cursor === '0' ? '' : 'sampled '}${looked === 1 ? 'key' : 'keys'} under ${JSON.stringify(prefix)}`;
  if (foreign.length === 0) {
    checks.push({ name: 'foreign keys', status: 'pass', detail: `${scope}: all written by hoard` });
    return;
  }
  const examples = foreign.slice(0, 5).map((k) => JSON.stringify(k)).join(', ');
  checks.push({
    name: 'foreign keys',
    status: 'warn',
    detail: `${count(foreign.length)} of ${scope} were not written by hoard (${examples}${foreign.length > 5 ? ', ...' : ''}): hoard reads them as misses, and clear() and deletePattern() remove them`,
    fix: 'give the cache a prefix of its own (--prefix, CACHE_KEY_PREFIX), or move those keys elsewhere',
  });
}

/** Through the admin routes: what the service's own figures say. */
async function adminChecks(stats: AdminStats, checks: Check[]): Promise<void> {
  checks.push({ name: 'reachable', status: 'pass', detail: `the admin routes answered for cache ${JSON.stringify(stats.name)}` });
  if (stats.l2 === undefined) {
    checks.push({ name: 'redis tier', status: 'info', detail: 'memory-only cache: no Redis behind it' });
    return;
  }
  if (stats.l2.state !== 'up') {
    checks.push({ name: 'redis tier', status: 'fail', detail: `${stats.l2.state}${stats.l2Error === undefined ? '' : `: ${stats.l2Error}`}: the service serves from memory only`, fix: 'check that the service reaches Redis (URL, password, network); run hoard doctor against that Redis' });
  } else {
    checks.push({ name: 'redis tier', status: 'pass', detail: 'up' });
  }
  if (stats.l2.bus === false) checks.push({ name: 'bus', status: 'warn', detail: 'the invalidation bus is down: the memory tier is bypassed until it is back', fix: 'check PUBLISH / SUBSCRIBE permissions and the connection to Redis' });
  const redis = stats.redis;
  if (redis === undefined || 'error' in redis) {
    if (redis !== undefined) checks.push({ name: 'redis figures', status: 'warn', detail: redis.error });
    return;
  }
  if (redis.maxmemory === 0) checks.push({ name: 'maxmemory', status: 'warn', detail: '0 (no limit): Redis grows until the machine runs out of memory instead of evicting', fix: 'set maxmemory, with an allkeys-* policy' });
  else checks.push({ name: 'maxmemory', status: 'pass', detail: `${bytes(redis.maxmemory)} (${bytes(redis.usedMemory)} used)` });
  if (redis.maxmemoryPolicy === 'noeviction') checks.push({ name: 'maxmemory-policy', status: 'fail', detail: 'noeviction: once Redis is full every write fails with OOM', fix: POLICY_FIX });
  else if (redis.maxmemoryPolicy.startsWith('volatile-')) checks.push({ name: 'maxmemory-policy', status: 'warn', detail: `${redis.maxmemoryPolicy}: only keys with a TTL are evicted`, fix: POLICY_FIX });
  else checks.push({ name: 'maxmemory-policy', status: 'pass', detail: redis.maxmemoryPolicy });
}
