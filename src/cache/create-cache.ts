import type { Backend, Env, EnvConfig } from '../config/env.js';
import { readEnv } from '../config/env.js';
import { ConfigError } from '../errors/config-error.js';
import { MemoryStore } from '../memory/memory-store.js';
import { nullStore } from '../memory/null-store.js';
import { Cache } from './cache.js';
import { envCache, loadRedisParts } from './env-cache.js';
import type { CacheOptions } from './types.js';
import { normalisePrefix } from './validate.js';

/**
 * Builds the cache of a backend that lives outside the core (`redis`, `tiered`). The `hoard/redis`
 * entry registers these when it is imported; without it the core loads that entry on first use.
 */
export type BackendFactory = (options: CacheOptions, config: EnvConfig, env: Env) => Cache;

const REGISTRY = Symbol.for('hoard.backends');
type Registry = Map<Backend, BackendFactory>;

function registry(): Registry {
  const holder = globalThis as { [REGISTRY]?: Registry };
  return (holder[REGISTRY] ??= new Map());
}

/** Lets an optional entry point (`hoard/redis`) provide the `redis` and `tiered` backends. */
export function registerBackend(name: Backend, factory: BackendFactory): void {
  registry().set(name, factory);
}

/**
 * Creates a cache. Options given win; the environment (`CACHE_*`, see the README) fills what they
 * leave unset. With nothing set it is an in-memory cache of 10,000 entries and a 5 minute TTL.
 * @example createCache({ store: memoryStore({ maxEntries: 10_000 }), defaultTtl: '5m' })
 */
export function createCache(options: CacheOptions = {}, env: Env = process.env): Cache {
  if (typeof options !== 'object' || options === null) throw new ConfigError('options', 'expected an object');
  const config = readEnv(env);
  const merged: CacheOptions = {
    ...options,
    namespace: options.namespace ?? (config.keyPrefix === undefined ? undefined : normalisePrefix(config.keyPrefix, 'CACHE_KEY_PREFIX')),
    defaultTtl: options.defaultTtl ?? config.ttl,
    enabled: options.enabled ?? config.enabled,
    l2Timeout: options.l2Timeout ?? config.l2TimeoutMs,
  };
  // A cache given its stores ignores CACHE_BACKEND.
  if (options.store !== undefined || options.l1 !== undefined || options.l2 !== undefined) return new Cache(merged);
  const backend = config.backend ?? 'memory';
  switch (backend) {
    case 'memory':
      return new Cache({ ...merged, store: new MemoryStore({ maxEntries: config.maxEntries, maxBytes: config.maxBytes, clock: options.clock }) });
    case 'none':
      return new Cache({ ...merged, store: nullStore() });
    case 'redis':
    case 'tiered': {
      // With hoard/redis imported, its backends build the Redis store now; otherwise the core
      // loads that entry itself and the cache starts on stores that become ready once it has.
      const registered = registry().get(backend);
      if (registered !== undefined) return registered(merged, config, env);
      const variable = (env.CACHE_BACKEND ?? '').trim() === '' ? 'CACHE_TYPE' : 'CACHE_BACKEND';
      return envCache(backend, merged, config, env, loadRedisParts(backend, variable, config));
    }
  }
}
