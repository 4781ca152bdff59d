import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { checkRedisUrl } from '../config/env.js';
import { ConfigError } from '../errors/config-error.js';

export type RedisClient = Redis | Cluster;
export interface ClusterNode {
  host: string;
  port: number;
}

/**
 * Client settings for cache traffic (FAULTS.md items 1-4): no offline queue, so a command issued
 * while Redis is away fails at once instead of waiting or piling up in memory; no resend of
 * commands that were in flight when a connection dropped, so a write that missed its deadline can
 * never land after a newer one; auto-pipelining for throughput; reconnection forever with a capped
 * backoff. Deadlines are imposed per call by the cache (`l2Timeout`), not by the client.
 *
 * Batching is hoard's own ({@link adaptivePipelining}), not ioredis' auto-pipelining: that one
 * holds every command until the end of the event loop turn and builds a `Pipeline` object per
 * batch, which at one call in flight costs more than the round trip it saves.
 */
export const CLIENT_DEFAULTS = {
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  enableAutoPipelining: false,
  connectTimeout: 2_000,
  keepAlive: 10_000,
  retryStrategy: (times: number): number => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
} as const satisfies RedisOptions;

/** Where Redis is, as ioredis users write it: a URL, or its parts. */
export interface ConnectOptions {
  url?: string | undefined;
  client?: RedisClient | undefined;
  cluster?: readonly ClusterNode[] | undefined;
  /** Instead of `url`: the host. @default 'localhost' */
  host?: string | undefined;
  /** Instead of `url`: the port. @default 6379 */
  port?: number | undefined;
  /** Instead of `url`: the database number. @default 0 */
  db?: number | undefined;
  /** Instead of `url`: the ACL user name. */
  username?: string | undefined;
  /** Instead of `url`: the password. */
  password?: string | undefined;
  /** Instead of `url`: `true` connects with TLS (`rediss://`). */
  tls?: boolean | undefined;
}

const PARTS = ['host', 'port', 'db', 'username', 'password', 'tls'] as const;

/**
 * Refuses options a constructor does not know (`ConfigError` naming the first one), so a typo such
 * as `{ hots: 'redis.internal' }` never silently connects to localhost instead.
 */
export function checkKnownOptions(options: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new ConfigError(key, `${what} has no option "${key}"; it takes ${known.join(', ')}`);
  }
}

export const CONNECT_OPTIONS = ['url', 'client', 'cluster', ...PARTS] as const;

/** `{ host, port, db, username, password, tls }` as a URL, checked; undefined when none is given. */
function urlFromParts(options: ConnectOptions): string | undefined {
  if (PARTS.every((p) => options[p] === undefined)) return undefined;
  const { host = 'localhost', port = 6379, db = 0, username, password, tls } = options;
  if (typeof host !== 'string' || host.length === 0) throw new ConfigError('host', `expected a host name, got ${String(host)}`);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new ConfigError('port', `expected a port number from 1 to 65535, got ${String(port)}`);
  if (!Number.isInteger(db) || db < 0) throw new ConfigError('db', `expected a database number >= 0, got ${String(db)}`);
  if (tls !== undefined && typeof tls !== 'boolean') throw new ConfigError('tls', 'expected true or false');
  const url = new URL(`${tls === true ? 'rediss' : 'redis'}://${host.includes(':') ? `[${host}]` : host}:${port}/${db}`);
  if (username !== undefined) url.username = encodeURIComponent(username);
  if (password !== undefined) url.password = encodeURIComponent(password);
  return url.toString();
}

/**
 * The client of a store or bus: the user's (never closed by hoard), or a new one. Every client
 * hoard creates gets an `error` listener before anything else, so a Redis error can never crash
 * the process as an unhandled `error` event.
 */
export function connect(options: ConnectOptions, onError: (error: Error) => void): { client: RedisClient; owned: boolean } {
  const fromParts = urlFromParts(options);
  const given = [options.url, options.client, options.cluster, fromParts].filter((o) => o !== undefined).length;
  if (given > 1) throw new ConfigError('url', 'give one of url, client, cluster or host/port');
  if (options.client !== undefined) {
    const client = options.client;
    if (!(client instanceof Redis) && !(client instanceof Cluster)) throw new ConfigError('client', 'expected an ioredis Redis or Cluster instance');
    const keyPrefix = isCluster(client) ? client.options.redisOptions?.keyPrefix : client.options.keyPrefix;
    if (keyPrefix !== undefined && keyPrefix !== '') {
      throw new ConfigError(
        'client',
        `the client has keyPrefix "${keyPrefix}": hoard applies its own prefix (and SCAN patterns ignore keyPrefix); create the client without keyPrefix and pass prefix to hoard instead`,
      );
    }
    client.on('error', onError);
    return { client, owned: false };
  }
  if (options.cluster !== undefined) return { client: createCluster(options.cluster, onError), owned: true };
  const url = fromParts ?? checkRedisUrl('url', options.url ?? 'redis://localhost:6379');
  const client = new Redis(url, { ...CLIENT_DEFAULTS, lazyConnect: true });
  client.on('error', onError);
  adaptivePipelining(client);
  client.connect().catch(() => {
    // Reported through the error listener; the client keeps reconnecting by itself.
  });
  return { client, owned: true };
}

export function createCluster(nodes: readonly ClusterNode[], onError: (error: Error) => void): Cluster {
  if (!(nodes instanceof Array) || nodes.length === 0) throw new ConfigError('cluster', 'expected at least one { host, port } seed node');
  const { retryStrategy, enableOfflineQueue, ...redisOptions } = CLIENT_DEFAULTS;
  const options: ClusterOptions = {
    // Set here, at the top level: nested in redisOptions, Cluster ignores it (FAULTS.md item 1).
    enableOfflineQueue,
    enableAutoPipelining: false,
    clusterRetryStrategy: retryStrategy,
    lazyConnect: true,
    redisOptions,
  };
  const cluster = new Cluster(
    nodes.map((n) => ({ host: n.host, port: n.port })),
    options,
  );
  cluster.on('error', onError);
  cluster.on('node error', (error: Error) => onError(error));
  cluster.on('+node', (node: Redis) => adaptivePipelining(node));
  cluster.connect().catch(() => {
    // Reported through the error listener; the cluster keeps reconnecting by itself.
  });
  return cluster;
}

const PIPELINED: unique symbol = Symbol('hoard.adaptivePipelining');

/**
 * Adaptive pipelining for a connection hoard owns: a command sent while nothing is outstanding
 * goes to the socket at once, so a lone call (a request handler awaiting its cache) pays one
 * round trip and nothing more; a command sent while others await their replies is held until the
 * current tick's work is done (the socket is corked until `process.nextTick`), so the commands
 * issued by one burst of replies leave together in one write. Order is the order of the calls,
 * QUIT included.
 */
export function adaptivePipelining(redis: Redis): void {
  const marked = redis as Redis & { [PIPELINED]?: true };
  if (marked[PIPELINED] === true) return;
  marked[PIPELINED] = true;
  const send = redis.sendCommand.bind(redis);
  let corked: Redis['stream'] | undefined;
  const uncork = (): void => {
    const stream = corked;
    corked = undefined;
    stream?.uncork();
  };
  redis.sendCommand = (command, stream) => {
    if (corked === undefined && stream === undefined && redis.commandQueue.length !== 0 && redis.status === 'ready') {
      const socket = redis.stream;
      if (socket.writable) {
        socket.cork();
        corked = socket;
        process.nextTick(uncork);
      }
    }
    return send(command, stream);
  };
}

/**
 * Calls `onData` whenever a connection of `client` receives bytes (every node of a cluster,
 * including nodes discovered later), so the cache can tell a busy link from a dead one.
 */
export function trackActivity(client: RedisClient, onData: () => void): void {
  const watch = (redis: Redis): void => {
    redis.on('connect', () => redis.stream.on('data', onData));
    // A client passed in may be connected already.
    if (redis.status === 'connect' || redis.status === 'ready') redis.stream.on('data', onData);
  };
  if (isCluster(client)) {
    client.on('+node', watch);
    for (const node of client.nodes()) watch(node);
  } else {
    watch(client);
  }
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

export function mastersOf(cluster: Cluster): Redis[] {
  return cluster.nodes('master');
}

/** Indexes of `keys` grouped by hash slot, so no multi-key command spans slots. */
export function slotGroups(keys: readonly string[]): number[][] {
  const groups = new Map<number, number[]>();
  keys.forEach((key, i) => {
    const slot = calculateSlot(key);
    let group = groups.get(slot);
    if (group === undefined) groups.set(slot, (group = []));
    group.push(i);
  });
  return [...groups.values()];
}
