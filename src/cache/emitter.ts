import type { CacheEventName, CacheEvents } from './types.js';

type Listener<E extends CacheEventName> = (event: CacheEvents[E]) => void;
type ListenerLists = { [E in CacheEventName]: Listener<E>[] };

/**
 * Typed listeners of a cache. Emitting checks for listeners first, so a cache nobody listens to
 * builds no event objects; a listener that throws is isolated from the cache and from the others.
 */
export class CacheEmitter {
  readonly lists: ListenerLists = {
    hit: [],
    miss: [],
    set: [],
    delete: [],
    evict: [],
    expire: [],
    error: [],
    'l2:down': [],
    'l2:up': [],
  };

  on<E extends CacheEventName>(event: E, listener: Listener<E>): () => void {
    const list = this.lists[event];
    if (list === undefined) throw new TypeError(`unknown cache event "${String(event)}"`);
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    list.push(listener);
    return () => {
      const at = list.indexOf(listener);
      if (at !== -1) list.splice(at, 1);
    };
  }

  has(event: CacheEventName): boolean {
    return this.lists[event].length !== 0;
  }

  emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    const list = this.lists[event];
    if (list.length === 0) return;
    for (const listener of list.slice()) {
      try {
        listener(payload);
      } catch {
        // A listener that throws never breaks the cache.
      }
    }
  }
}
