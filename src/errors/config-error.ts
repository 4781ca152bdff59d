import { CacheError } from './cache-error.js';

/** A bad option or environment variable. `option` names it, e.g. `ttl` or `CACHE_MAXSIZE`. */
export class ConfigError extends CacheError {
  readonly option: string;

  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super('HOARD_CONFIG', `${option}: ${message}`, options);
    this.name = 'ConfigError';
    this.option = option;
  }
}
