import type { StaleEntry, StoreCapabilities, StoreEntry, StoreSetOptions, SyncStore } from '../stores/store.js';

const CAPABILITIES: StoreCapabilities = { sync: true, shared: false, tags: true, patterns: true, grace: true };

/**
 * A store that keeps nothing: the `none` backend and `enabled: false`. Every read misses, so
 * `getOrSet` always runs its factory.
 */
export class NullStore<V = unknown> implements SyncStore<V> {
  readonly capabilities = CAPABILITIES;
  readonly size = 0;
  get(_key: string): V | undefined {
    return undefined;
  }
  getStale(_key: string): StaleEntry<V> | undefined {
    return undefined;
  }
  has(_key: string): boolean {
    return false;
  }
  ttl(_key: string): number | undefined {
    return undefined;
  }
  set(_key: string, _value: V, _options?: StoreSetOptions): void {}
  write(): void {}
  delete(_key: string): boolean {
    return false;
  }
  incr(_key: string, by = 1): number {
    return by;
  }
  getMany(keys: readonly string[]): (V | undefined)[] {
    return keys.map(() => undefined);
  }
  setMany(_entries: readonly StoreEntry<V>[]): void {}
  deleteMany(_keys: readonly string[]): number {
    return 0;
  }
  deletePattern(_glob: string): number {
    return 0;
  }
  invalidateTags(_tags: readonly string[]): number {
    return 0;
  }
  clear(): void {}
  close(): void {}
}

export function nullStore<V = unknown>(): NullStore<V> {
  return new NullStore<V>();
}
