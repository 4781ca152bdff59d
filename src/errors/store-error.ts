import { CacheError } from './cache-error.js';

/**
 * The shared store answered a call with an error reply (`OOM`, `WRONGTYPE`, `NOPERM`, a refused
 * `SCAN`, ...). Unlike an outage, which the cache absorbs, this affects the one call: reads turn
 * it into a miss plus an `error` event, and calls that cannot do their job without the store
 * (`incr`, `set`, `delete*`, `has`, `ttl`, `deletePattern`, `invalidateTags`, `clear`) reject
 * with it, so the cache never answers as if the store had agreed. `cause` is the reply.
 */
export class StoreError extends CacheError {
  readonly operation: string;
  readonly key: string | undefined;

  constructor(operation: string, key: string | undefined, cause: Error) {
    super('HOARD_STORE', `${operation}${key === undefined ? '' : ` "${key}"`}: the shared store answered with an error: ${cause.message}`, { cause });
    this.name = 'StoreError';
    this.operation = operation;
    this.key = key;
  }
}
