import type { Cache } from './cache.js';
import { createCache } from './create-cache.js';

// Kept on globalThis under a registered symbol, so the ESM and the CommonJS builds loaded in one
// process share one default cache.
const DEFAULT = Symbol.for('hoard.defaultCache');
type Holder = { [DEFAULT]?: Cache };

/** The default cache, created from the environment at first use. */
export function defaultCache(): Cache {
  const holder = globalThis as Holder;
  return (holder[DEFAULT] ??= createCache());
}

/** @internal Tests: forget the default cache so the next use reads the environment again. */
export async function resetDefaultCache(): Promise<void> {
  const holder = globalThis as Holder;
  const current = holder[DEFAULT];
  delete holder[DEFAULT];
  await current?.close();
}

const bound = new WeakMap<Cache, Map<PropertyKey, unknown>>();

/**
 * The module-level default instance, built lazily from the environment (not at import). It
 * forwards to {@link defaultCache}, so the environment is read at the first call.
 */
export const cache: Cache = new Proxy({} as Cache, {
  get(_target, property) {
    const instance = defaultCache();
    const value: unknown = Reflect.get(instance, property, instance);
    if (typeof value !== 'function') return value;
    let methods = bound.get(instance);
    if (methods === undefined) bound.set(instance, (methods = new Map<PropertyKey, unknown>()));
    let method = methods.get(property);
    if (method === undefined) methods.set(property, (method = (value as (...args: unknown[]) => unknown).bind(instance)));
    return method;
  },
  has(_target, property) {
    return Reflect.has(defaultCache(), property);
  },
  getPrototypeOf() {
    return Reflect.getPrototypeOf(defaultCache());
  },
});
