export { CacheError, type CacheErrorCode } from './cache-error.js';
export { ConfigError } from './config-error.js';
export { InvalidKeyError } from './invalid-key-error.js';
export { SerializationError } from './serialization-error.js';
export { CacheTimeoutError } from './cache-timeout-error.js';
export { StoreError } from './store-error.js';
export { CacheClosedError } from './cache-closed-error.js';
export { toError } from './to-error.js';
