import { codec } from '../serialization/codec.js';
import type { RemoteEntry, RemoteStore, StaleEntry, StoreCapabilities, StoreEntry, StoreSetOptions, WriteStamp } from '../stores/store.js';

const CAPABILITIES: StoreCapabilities = { sync: false, shared: true, tags: true, patterns: true, grace: true, lazyTags: true };

/**
 * A shared store that is still being loaded: what `CACHE_BACKEND=redis | tiered` gives the cache
 * when the Redis entry point was not imported. `createCache()` stays synchronous and the core never
 * imports a Redis client up front: the Redis store is built once its module has loaded, and until
 * then this store is simply not ready, like a Redis store whose first connection is still being
 * made (the cache waits for it within `connectTimeout`, then serves from memory). A module that
 * cannot load (the client package is not installed) is reported as an error, for good.
 */
export class DeferredStore<V = unknown> implements RemoteStore<V> {
  readonly capabilities = CAPABILITIES;
  readonly serializer = codec;
  #store: RemoteStore<V> | undefined;
  readonly #loading: Promise<RemoteStore<V>>;
  #failure: Error | undefined;
  #prefix: string | undefined;
  readonly #errorListeners: ((error: Error) => void)[] = [];
  readonly #statusListeners: ((ready: boolean) => void)[] = [];

  constructor(loading: Promise<RemoteStore<V>>) {
    this.#loading = loading.then(
      (store) => {
        if (this.#prefix !== undefined) store.bind(this.#prefix);
        store.onError((error) => this.#emitError(error));
        store.onStatus((ready) => {
          for (const listener of this.#statusListeners.slice()) listener(ready);
        });
        this.#store = store;
        if (store.ready) for (const listener of this.#statusListeners.slice()) listener(true);
        return store;
      },
      (error: unknown) => {
        this.#failure = error instanceof Error ? error : new Error(String(error));
        this.#emitError(this.#failure);
        throw this.#failure;
      },
    );
    this.#loading.catch(() => {
      // Reported through the error listeners; every call rejects with it.
    });
  }

  /**
   * The store once built (undefined while its module loads): for tools that look at the store
   * itself rather than through the cache (key inspection, Redis INFO in the admin API).
   */
  get loaded(): RemoteStore<V> | undefined {
    return this.#store;
  }

  /** Why the store could not be built, once that is known. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  get ready(): boolean {
    return this.#store?.ready ?? false;
  }

  get activity(): number {
    return this.#store?.activity ?? 0;
  }

  bind(prefix: string): void {
    this.#prefix = prefix;
    this.#store?.bind(prefix);
  }

  whenReady(signal: AbortSignal): Promise<void> {
    return this.#with((s) => s.whenReady(signal));
  }

  onError(listener: (error: Error) => void): () => void {
    this.#errorListeners.push(listener);
    return () => remove(this.#errorListeners, listener);
  }

  onStatus(listener: (ready: boolean) => void): () => void {
    this.#statusListeners.push(listener);
    return () => remove(this.#statusListeners, listener);
  }

  reset(): void {
    this.#store?.reset();
  }

  ping(): Promise<void> {
    return this.#with((s) => s.ping());
  }

  time(): Promise<number> {
    return this.#with((s) => s.time());
  }

  get(key: string): Promise<V | undefined> {
    return this.#with((s) => s.get(key));
  }

  getStale(key: string): Promise<StaleEntry<V> | undefined> {
    return this.#with((s) => s.getStale(key));
  }

  has(key: string): Promise<boolean> {
    return this.#with((s) => s.has(key));
  }

  ttl(key: string): Promise<number | undefined> {
    return this.#with((s) => s.ttl(key));
  }

  set(key: string, value: V, options?: StoreSetOptions): Promise<void> {
    return this.#with((s) => s.set(key, value, options));
  }

  delete(key: string): Promise<boolean> {
    return this.#with((s) => s.delete(key));
  }

  incr(key: string, by?: number): Promise<number> {
    return this.#with((s) => s.incr(key, by));
  }

  getMany(keys: readonly string[]): Promise<(V | undefined)[]> {
    return this.#with((s) => s.getMany(keys));
  }

  setMany(entries: readonly StoreEntry<V>[]): Promise<void> {
    return this.#with((s) => s.setMany(entries));
  }

  deleteMany(keys: readonly string[]): Promise<number> {
    return this.#with((s) => s.deleteMany(keys));
  }

  deletePattern(glob: string): Promise<number> {
    return this.#with((s) => s.deletePattern(glob));
  }

  invalidateTags(tags: readonly string[]): Promise<number> {
    return this.#with((s) => s.invalidateTags(tags));
  }

  clear(): Promise<void> {
    return this.#with((s) => s.clear());
  }

  getEntry(key: string): Promise<RemoteEntry<V> | undefined> {
    return this.#with((s) => s.getEntry(key));
  }

  getEntries(keys: readonly string[]): Promise<(RemoteEntry<V> | undefined)[]> {
    return this.#with((s) => s.getEntries(keys));
  }

  write(key: string, payload: string, ttl: number | undefined, grace: number, tags: readonly string[] | undefined, stamp?: WriteStamp): Promise<void> {
    return this.#with((s) => s.write(key, payload, ttl, grace, tags, stamp));
  }

  lock(key: string, ttl: number): Promise<string | undefined> {
    return this.#with((s) => s.lock(key, ttl));
  }

  unlock(key: string, token: string): Promise<void> {
    return this.#with((s) => s.unlock(key, token));
  }

  async close(): Promise<void> {
    const store = await this.#loading.catch(() => undefined);
    await store?.close();
  }

  #with<R>(call: (store: RemoteStore<V>) => Promise<R>): Promise<R> {
    const store = this.#store;
    return store === undefined ? this.#loading.then(call) : call(store);
  }

  #emitError(error: Error): void {
    for (const listener of this.#errorListeners.slice()) listener(error);
  }
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i !== -1) list.splice(i, 1);
}
