import { ConfigError } from '../errors/config-error.js';
import { decimalTimes } from './duration.js';

export type Backend = 'memory' | 'redis' | 'tiered' | 'none';
export type Env = Readonly<Record<string, string | undefined>>;

/** What the environment says, validated. Unset variables are `undefined`. */
export interface EnvConfig {
  enabled: boolean | undefined;
  backend: Backend | undefined;
  maxEntries: number | undefined;
  maxBytes: number | undefined;
  /** Default TTL in ms; `Infinity` for never (`CACHE_DEFAULT_TIMEOUT=0`). */
  ttl: number | undefined;
  keyPrefix: string | undefined;
  l2TimeoutMs: number | undefined;
  bus: boolean | undefined;
  redisUrl: string | undefined;
  clusterNodes: { host: string; port: number }[] | undefined;
}

const BACKENDS: Readonly<Record<string, Backend>> = {
  memory: 'memory',
  simple: 'memory',
  redis: 'redis',
  tiered: 'tiered',
  none: 'none',
  null: 'none',
};
const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/**
 * Reads and validates the `CACHE_*` variables of the contract. Every `CACHE_*` variable that is
 * set is checked, and a bad value throws `ConfigError` naming the variable and what it accepts;
 * `REDIS_*` variables are left to the Redis backend, which alone uses them.
 */
export function readEnv(env: Env = process.env): EnvConfig {
  return {
    enabled: bool(env, 'CACHE_ENABLED'),
    backend: backend(env),
    maxEntries: positiveInt(env, 'CACHE_MAXSIZE'),
    maxBytes: positiveInt(env, 'CACHE_MAX_BYTES'),
    ttl: first(env, ['CACHE_TTL_SECONDS', 'CACHE_DEFAULT_TIMEOUT', 'CACHE_DEFAULT_TTL'], (name, v) => seconds(name, v, name !== 'CACHE_TTL_SECONDS')),
    keyPrefix: first(env, ['CACHE_KEY_PREFIX', 'CACHE_NAMESPACE'], (_name, v) => v),
    l2TimeoutMs: positiveNumber(env, 'CACHE_L2_TIMEOUT_MS'),
    bus: bool(env, 'CACHE_BUS'),
    redisUrl: redisUrl(env),
    clusterNodes: clusterNodes(env),
  };
}

function value(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/**
 * The parsed value of the first variable of `names` that is set: the canonical name wins over its
 * aliases. Every one that is set is validated, even when an earlier one wins.
 */
function first<T>(env: Env, names: readonly string[], parse: (name: string, v: string) => T): T | undefined {
  let result: { value: T } | undefined;
  for (const name of names) {
    const v = value(env, name);
    if (v === undefined) continue;
    const parsed = parse(name, v);
    result ??= { value: parsed };
  }
  return result?.value;
}

function bool(env: Env, name: string): boolean | undefined {
  const v = value(env, name);
  if (v === undefined) return undefined;
  const lower = v.toLowerCase();
  if (TRUE.has(lower)) return true;
  if (FALSE.has(lower)) return false;
  throw new ConfigError(name, `expected true/false, 1/0, yes/no or on/off, got ${JSON.stringify(v)}`);
}

function backend(env: Env): Backend | undefined {
  return first(env, ['CACHE_BACKEND', 'CACHE_TYPE'], (name, v) => {
    const lower = v.toLowerCase();
    const b = Object.hasOwn(BACKENDS, lower) ? BACKENDS[lower] : undefined;
    if (b === undefined) {
      throw new ConfigError(name, `expected one of memory, redis, tiered, none (or simple, null), got ${JSON.stringify(v)}`);
    }
    return b;
  });
}

function positiveInt(env: Env, name: string): number | undefined {
  const v = value(env, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
    throw new ConfigError(name, `expected a whole number >= 1, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

function positiveNumber(env: Env, name: string): number | undefined {
  const v = value(env, name);
  if (v === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0) {
    throw new ConfigError(name, `expected a number > 0, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/** Seconds to ms. With `zeroIsForever` (the Flask-Caching aliases), 0 means never expires. */
function seconds(name: string, v: string, zeroIsForever: boolean): number {
  const accepted = zeroIsForever ? 'a number of seconds >= 0 (0: never expires)' : 'a number of seconds > 0';
  if (!/^\d+(\.\d+)?$/.test(v)) throw new ConfigError(name, `expected ${accepted}, got ${JSON.stringify(v)}`);
  if (Number(v) === 0) {
    if (zeroIsForever) return Infinity;
    throw new ConfigError(name, `expected ${accepted}, got ${JSON.stringify(v)} (CACHE_DEFAULT_TIMEOUT=0 means never expires)`);
  }
  return decimalTimes(v, 1000);
}

function redisUrl(env: Env): string | undefined {
  const v = value(env, 'CACHE_REDIS_URL');
  if (v === undefined) return undefined;
  return checkRedisUrl('CACHE_REDIS_URL', v);
}

/** Throws unless `v` parses as a `redis://` or `rediss://` URL. */
export function checkRedisUrl(name: string, v: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch (cause) {
    throw new ConfigError(name, `expected a redis:// or rediss:// URL, got ${JSON.stringify(v)}`, { cause });
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(name, `expected a redis:// or rediss:// URL, got the scheme ${url.protocol}`);
  }
  return v;
}

function clusterNodes(env: Env): { host: string; port: number }[] | undefined {
  const v = value(env, 'CACHE_REDIS_CLUSTER_NODES');
  if (v === undefined) return undefined;
  return v.split(',').map((part) => {
    const match = /^\s*([^\s:]+|\[[^\]]+\]):(\d{1,5})\s*$/.exec(part);
    const port = match === null ? NaN : Number(match[2]);
    if (match === null || port < 1 || port > 65535) {
      throw new ConfigError('CACHE_REDIS_CLUSTER_NODES', `expected host:port,host:port, got ${JSON.stringify(part)}`);
    }
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
}
