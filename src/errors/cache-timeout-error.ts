import { CacheError } from './cache-error.js';

/** A factory passed its hard timeout and no stale value was there to fall back on. */
export class CacheTimeoutError extends CacheError {
  readonly key: string;
  readonly timeout: number;

  constructor(key: string, timeout: number) {
    super('HOARD_TIMEOUT', `factory for "${key}" did not settle within its hard timeout of ${timeout} ms`);
    this.name = 'CacheTimeoutError';
    this.key = key;
    this.timeout = timeout;
  }
}
