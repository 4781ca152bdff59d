import type { Redis } from 'ioredis';
import { isCluster, mastersOf } from '../../redis/connect.js';
import type { RedisClient } from '../../redis/connect.js';

/** Redis' own figures, from INFO (summed over the masters of a cluster). */
export interface RedisReport {
  /** `redis_version` (the lowest of a cluster's masters). */
  version: string;
  /** `standalone`, `cluster` or `sentinel` (INFO `redis_mode`). */
  mode: string;
  /** Masters answering (1 for a single node). */
  nodes: number;
  usedMemory: number;
  /** 0: no limit (summed: 0 if any master has none). */
  maxmemory: number;
  maxmemoryPolicy: string;
  keyspaceHits: number;
  keyspaceMisses: number;
  /** keyspaceHits / (hits + misses); 0 when nothing was asked. */
  hitRate: number;
  evictedKeys: number;
  expiredKeys: number;
  connectedClients: number;
  opsPerSec: number;
  /** Keys in the database (all of it, not only the prefix). */
  keys: number;
}

/** INFO text as fields. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** The connections a command must visit: every master of a cluster, or the one node. */
export function nodesOf(client: RedisClient): Redis[] {
  return isCluster(client) ? mastersOf(client) : [client];
}

/** `host:port` of a node. */
export function nodeLabel(node: Redis): string {
  return `${node.options.host ?? 'localhost'}:${node.options.port ?? 6379}`;
}

const num = (fields: Map<string, string>, name: string): number => {
  const v = Number(fields.get(name) ?? '0');
  return Number.isFinite(v) ? v : 0;
};

/** Keys in the selected database: `db0:keys=12,expires=3,...`. */
function dbKeys(fields: Map<string, string>, db: number): number {
  const match = /(?:^|,)keys=(\d+)/.exec(fields.get(`db${db}`) ?? '');
  return match === null ? 0 : Number(match[1]);
}

/** Compares dotted versions: negative when `a` is older. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** INFO of every node, parsed. */
export async function infoOf(nodes: readonly Redis[]): Promise<Map<string, string>[]> {
  return Promise.all(nodes.map(async (node) => parseInfo(await node.info())));
}

/** The figures of a Redis, from INFO on every master. */
export async function readReport(client: RedisClient): Promise<RedisReport> {
  const nodes = nodesOf(client);
  const infos = await infoOf(nodes);
  const sum = (name: string): number => infos.reduce((total, f) => total + num(f, name), 0);
  const versions = infos.map((f) => f.get('redis_version') ?? '?').sort(compareVersions);
  const policies = [...new Set(infos.map((f) => f.get('maxmemory_policy') ?? '?'))];
  const hits = sum('keyspace_hits');
  const misses = sum('keyspace_misses');
  return {
    version: versions[0] ?? '?',
    mode: infos[0]?.get('redis_mode') ?? 'standalone',
    nodes: nodes.length,
    usedMemory: sum('used_memory'),
    maxmemory: infos.some((f) => num(f, 'maxmemory') === 0) ? 0 : sum('maxmemory'),
    maxmemoryPolicy: policies.join(','),
    keyspaceHits: hits,
    keyspaceMisses: misses,
    hitRate: hits + misses === 0 ? 0 : hits / (hits + misses),
    evictedKeys: sum('evicted_keys'),
    expiredKeys: sum('expired_keys'),
    connectedClients: sum('connected_clients'),
    opsPerSec: sum('instantaneous_ops_per_sec'),
    keys: infos.reduce((total, f, i) => total + dbKeys(f, nodes[i]!.options.db ?? 0), 0),
  };
}
