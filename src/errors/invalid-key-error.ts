import { CacheError } from './cache-error.js';

/** A key, namespace name or function argument that cannot be used as a cache key. */
export class InvalidKeyError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HOARD_INVALID_KEY', message, options);
    this.name = 'InvalidKeyError';
  }
}
