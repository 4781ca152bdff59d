import type { Env, EnvConfig } from './env.js';
import { checkRedisUrl } from './env.js';
import { ConfigError } from '../errors/config-error.js';
import type { ClusterNode } from '../redis/connect.js';

/**
 * Where Redis is, from the environment: `CACHE_REDIS_CLUSTER_NODES` (replaces the URL), else
 * `CACHE_REDIS_URL` / `REDIS_URL`, else a URL built from `REDIS_HOST`, `REDIS_PORT`, `REDIS_DB`,
 * `REDIS_USERNAME`, `REDIS_PASSWORD`, else `redis://localhost:6379`. The `REDIS_*` variables are
 * checked only here, when a Redis backend uses them.
 */
/** Where a Redis backend connects: a URL or the seed nodes of a cluster. */
export type RedisTarget = { url: string } | { cluster: ClusterNode[] };

export function redisTarget(config: EnvConfig, env: Env): RedisTarget {
  if (config.clusterNodes !== undefined) return { cluster: config.clusterNodes };
  if (config.redisUrl !== undefined) return { url: config.redisUrl };
  const redisUrl = value(env, 'REDIS_URL');
  if (redisUrl !== undefined) return { url: checkRedisUrl('REDIS_URL', redisUrl) };
  const host = value(env, 'REDIS_HOST') ?? 'localhost';
  const port = value(env, 'REDIS_PORT') ?? '6379';
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new ConfigError('REDIS_PORT', `expected a port number from 1 to 65535, got ${JSON.stringify(port)}`);
  }
  const db = value(env, 'REDIS_DB') ?? '0';
  if (!/^\d+$/.test(db)) throw new ConfigError('REDIS_DB', `expected a database number, got ${JSON.stringify(db)}`);
  const url = new URL(`redis://${host.includes(':') ? `[${host}]` : host}:${port}/${db}`);
  const username = value(env, 'REDIS_USERNAME');
  const password = value(env, 'REDIS_PASSWORD');
  if (username !== undefined) url.username = username;
  if (password !== undefined) url.password = password;
  return { url: url.toString() };
}

function value(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}
