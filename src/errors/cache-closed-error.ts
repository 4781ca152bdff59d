import { CacheError } from './cache-error.js';

/** A method was called after `close()`: the cache no longer reads or writes anything. */
export class CacheClosedError extends CacheError {
  readonly operation: string;

  constructor(operation: string) {
    super('HOARD_CLOSED', `${operation}: the cache is closed`);
    this.name = 'CacheClosedError';
    this.operation = operation;
  }
}
