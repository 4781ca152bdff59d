import type { Bus } from '../bus/bus.js';
import { DeferredBus } from '../bus/deferred-bus.js';
import type { Backend, Env, EnvConfig } from '../config/env.js';
import type { RedisTarget } from '../config/redis-env.js';
import { redisTarget } from '../config/redis-env.js';
import { ConfigError } from '../errors/config-error.js';
import { MemoryStore } from '../memory/memory-store.js';
import type { RemoteStore } from '../stores/store.js';
import { DeferredStore } from '../tiers/deferred-store.js';
import { Cache } from './cache.js';
import type { CacheOptions } from './types.js';

export type RedisBackend = Extract<Backend, 'redis' | 'tiered'>;

/** The Redis store of an environment backend, and its bus when it gets one. */
export interface RedisParts {
  store: RemoteStore;
  bus: Bus | undefined;
}

/** Builds the Redis parts for `target`; `withBus` is false when the cache needs no bus of its own. */
export type RedisPartsFactory = (target: RedisTarget, withBus: boolean) => RedisParts;

/**
 * The cache `CACHE_BACKEND=redis | tiered` describes: Redis alone (with an in-memory fallback),
 * or a memory L1 in front of Redis with the invalidation bus (unless `CACHE_BUS=false`). The
 * `REDIS_*` variables are checked here, synchronously, whoever builds the Redis parts.
 */
export function envCache(backend: RedisBackend, options: CacheOptions, config: EnvConfig, env: Env, build: RedisPartsFactory): Cache {
  const target = redisTarget(config, env);
  const busWanted = backend === 'tiered' && config.bus !== false;
  const parts = build(target, busWanted && options.bus === undefined);
  const l2Timeout = options.l2Timeout ?? config.l2TimeoutMs;
  if (backend === 'redis') return new Cache({ ...options, store: parts.store, l2Timeout });
  return new Cache({
    ...options,
    l1: new MemoryStore({ maxEntries: config.maxEntries, maxBytes: config.maxBytes, clock: options.clock }),
    l2: parts.store,
    // A bus given in code wins over CACHE_BUS, like every option.
    bus: options.bus ?? (busWanted ? parts.bus : undefined),
    l2Timeout,
  });
}

/**
 * Redis parts for an environment backend when `hoard/redis` was not imported: the core loads the
 * Redis entry itself, and the cache starts on stores that become ready once it has loaded. Where
 * the Redis client is not installed, the store reports a `ConfigError` naming the variable that
 * asked for Redis and what to install (an `error` event, `stats().l2Error`, a rejected `ready()`).
 */
export function loadRedisParts(backend: RedisBackend, variable: string, config: EnvConfig): RedisPartsFactory {
  return (target, withBus) => {
    const loading = import('../redis/env-backend.js').then(
      (module) => module.envRedisParts(backend, target, config, withBus),
      (error: unknown) => {
        throw missingClient(backend, variable, error);
      },
    );
    loading.catch(() => {
      // The deferred store reports it.
    });
    return {
      store: new DeferredStore(loading.then((parts) => parts.store)),
      bus: withBus ? new DeferredBus(loading.then((parts) => parts.bus!)) : undefined,
    };
  };
}

function missingClient(backend: RedisBackend, variable: string, error: unknown): ConfigError {
  const text = error instanceof Error ? error.message : String(error);
  const missing = /ioredis/.test(text) && /cannot find|not found/i.test(text);
  return missing
    ? new ConfigError(variable, `${variable}=${backend} needs the Redis client: install it with "npm install ioredis"`, { cause: error })
    : new ConfigError(variable, `${variable}=${backend}: the Redis backend could not be loaded: ${text}`, { cause: error });
}
