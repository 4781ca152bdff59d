import { Cache } from '../cache/cache.js';
import { registerBackend } from '../cache/create-cache.js';
import type { CacheOptions } from '../cache/types.js';
import { MemoryStore } from '../memory/memory-store.js';
import { redisTarget } from './env.js';
import { RedisBus } from './redis-bus.js';
import { RedisStore } from './redis-store.js';

export { RedisStore, redisStore, type RedisStoreOptions } from './redis-store.js';
export { RedisBus, redisBus, type RedisBusOptions } from './redis-bus.js';
export { CLIENT_DEFAULTS, type ClusterNode, type RedisClient } from './connect.js';
export { escapeGlob } from '../util/glob.js';
export { codec, type Serializer } from '../serialization/codec.js';
export type { Bus, BusListener, BusMessage } from '../bus/bus.js';
export type { CircuitBreakerOptions } from '../resilience/circuit-breaker.js';

// Importing this entry point provides the `redis` and `tiered` backends of createCache() and the
// CACHE_BACKEND variable.
registerBackend('redis', (options: CacheOptions, config, env) => {
  const target = redisTarget(config, env);
  return new Cache({
    ...options,
    store: new RedisStore(target),
    l2Timeout: options.l2Timeout ?? config.l2TimeoutMs,
  });
});

registerBackend('tiered', (options: CacheOptions, config, env) => {
  const target = redisTarget(config, env);
  return new Cache({
    ...options,
    l1: new MemoryStore({ maxEntries: config.maxEntries, maxBytes: config.maxBytes, clock: options.clock }),
    l2: new RedisStore(target),
    bus: config.bus === false ? undefined : (options.bus ?? new RedisBus(target)),
    l2Timeout: options.l2Timeout ?? config.l2TimeoutMs,
  });
});
