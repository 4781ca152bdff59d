export { Cache } from './cache/cache.js';
export { createCache, registerBackend, type BackendFactory } from './cache/create-cache.js';
export { cache, defaultCache } from './cache/default-cache.js';
export type {
  BatchFactory,
  BatchResult,
  CacheEventName,
  CacheEvents,
  CacheOptions,
  CacheStats,
  ErrorEvent,
  EvictEvent,
  ExpireEvent,
  Factory,
  FactoryContext,
  FactoryOptions,
  FactoryTimeouts,
  Given,
  CacheMetrics,
  GetOrSetOptions,
  KeyEvent,
  L2StateEvent,
  SetManyEntry,
  SetOptions,
  Tier,
  TierMetrics,
} from './cache/types.js';
export { MemoryStore, memoryStore, type MemoryStoreOptions, type MemoryStoreEvents, type EvictReason } from './memory/memory-store.js';
export { MEMORY_POLICIES, type MemoryPolicy } from './memory/memory-store.js';
export { NullStore, nullStore } from './memory/null-store.js';
export type { Store, SyncStore, RemoteStore, RemoteEntry, WriteStamp, StoreCapabilities, StoreSetOptions, StoreEntry, StaleEntry, MaybePromise } from './stores/store.js';
export type { Serializer } from './serialization/codec.js';
export type { CircuitBreakerOptions } from './resilience/circuit-breaker.js';
export { cached, type CachedFunction, type CachedOptions } from './functions/cached.js';
export { cachedQuery, type CachedQuery, type CachedQueryOptions, type QueryFilters, type QueryPage, type QueryRequest } from './functions/cached-query.js';
export { Cached, InvalidatesCache, type AsyncMethodDecorator, type CachedDecoratorOptions, type InvalidatesCacheOptions } from './functions/decorators.js';
export { EventInvalidator, type DomainEvent, type Invalidation } from './functions/event-invalidator.js';
export { stableHash } from './functions/stable-hash.js';
export { CacheError, ConfigError, InvalidKeyError, SerializationError, CacheTimeoutError, StoreError, CacheClosedError, type CacheErrorCode } from './errors/index.js';
export { parseDuration, type Duration, type DurationUnit } from './config/duration.js';
export { readEnv, type EnvConfig, type Backend, type Env } from './config/env.js';
export { escapeGlob } from './util/glob.js';
export type { Clock } from './util/clock.js';
