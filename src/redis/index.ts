import { registerBackend } from '../cache/create-cache.js';
import { envCache } from '../cache/env-cache.js';
import { envRedisParts } from './env-backend.js';

export { RedisStore, redisStore, type RedisKeyInfo, type RedisStoreOptions } from './redis-store.js';
export { RedisBus, redisBus, type RedisBusOptions } from './redis-bus.js';
export { CLIENT_DEFAULTS, adaptivePipelining, type ClusterNode, type RedisClient } from './connect.js';
export { escapeGlob } from '../util/glob.js';
export { codec, type Serializer } from '../serialization/codec.js';
export type { Bus, BusListener, BusMessage } from '../bus/bus.js';
export type { CircuitBreakerOptions } from '../resilience/circuit-breaker.js';

// Importing this entry point provides the `redis` and `tiered` backends of createCache() at once
// (without it, the core loads this module itself the first time the environment asks for them).
registerBackend('redis', (options, config, env) => envCache('redis', options, config, env, (target, withBus) => envRedisParts('redis', target, config, withBus)));
registerBackend('tiered', (options, config, env) => envCache('tiered', options, config, env, (target, withBus) => envRedisParts('tiered', target, config, withBus)));
