/**
 * Brand shared by every hoard error, registered globally so that an error thrown by the CommonJS
 * build is still recognised by `instanceof` in the ESM build (and the other way round).
 */
const BRAND = Symbol.for('hoard.error');

/** Stable machine-readable codes of every error hoard throws. See docs/errors.md. */
export type CacheErrorCode =
  | 'HOARD_CONFIG'
  | 'HOARD_INVALID_KEY'
  | 'HOARD_SERIALIZATION'
  | 'HOARD_TIMEOUT'
  | 'HOARD_STORE'
  | 'HOARD_CLOSED';

/** Base class of every error hoard throws. Match on `code` rather than on the class. */
export class CacheError extends Error {
  readonly code: CacheErrorCode;

  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = 'CacheError';
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    // Same build: the prototype chain decides, so subclasses (also a user's) behave as usual.
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (!(BRAND in value)) return false;
    // Another build: classes match by name, so `instanceof ConfigError` works across builds too.
    if (this.name === 'CacheError' || (value as { name?: unknown }).name === this.name) return true;
    for (let p: unknown = Object.getPrototypeOf(value); p !== null; p = Object.getPrototypeOf(p)) {
      if ((p as { constructor?: { name?: unknown } }).constructor?.name === this.name) return true;
    }
    return false;
  }
}
