import { CacheError } from './cache-error.js';

/** A value that cannot be stored where it must be serialized. `path` is like `$.user.tags[2]`. */
export class SerializationError extends CacheError {
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('HOARD_SERIALIZATION', `${path}: ${message}`, options);
    this.name = 'SerializationError';
    this.path = path;
  }
}
