import type { Backend, EnvConfig } from '../config/env.js';
import type { RedisTarget } from '../config/redis-env.js';
import { RedisBus } from './redis-bus.js';
import { RedisStore } from './redis-store.js';

/** The Redis parts of an environment backend: the store, and the bus of a `tiered` cache unless `CACHE_BUS=false`. */
export interface EnvRedisParts {
  store: RedisStore;
  bus: RedisBus | undefined;
}

/**
 * Builds the Redis store (and bus) that `CACHE_BACKEND=redis | tiered` asks for. The core loads
 * this module only when the environment names a Redis backend, so it never imports a Redis client
 * otherwise.
 */
export function envRedisParts(backend: Extract<Backend, 'redis' | 'tiered'>, target: RedisTarget, config: EnvConfig, withBus: boolean): EnvRedisParts {
  const store = new RedisStore(target);
  const bus = backend === 'tiered' && withBus && config.bus !== false ? new RedisBus(target) : undefined;
  return { store, bus };
}
