import type { Cache } from '../cache/cache.js';

/** A domain event: a `type` and whatever fields it carries. */
export interface DomainEvent {
  type: string;
  [field: string]: unknown;
}

/** What an event invalidates. */
export interface Invalidation {
  keys?: readonly string[] | undefined;
  tags?: readonly string[] | undefined;
  patterns?: readonly string[] | undefined;
}

type Handler<E> = (event: E) => Invalidation | undefined | Promise<Invalidation | undefined>;

/**
 * The events of `E` with type `T`: the matching members of a union of events, or, for an open
 * event type such as {@link DomainEvent} (whose `type` is any string), `E` with that type.
 */
type EventOfType<E extends { type: string }, T extends string> =
  [Extract<E, { type: T }>] extends [never] ? E & { type: T } : Extract<E, { type: T }>;

/**
 * Maps domain events to invalidations, so the code that changes data does not need to know
 * which cache entries depend on it.
 * @example new EventInvalidator(cache).on('user.updated', (e) => ({ keys: [`user:${e.id}`] }))
 */
export class EventInvalidator<E extends { type: string } = DomainEvent> {
  readonly #cache: Cache;
  readonly #handlers = new Map<string, Handler<E>[]>();

  constructor(cache: Cache) {
    this.#cache = cache;
  }

  /** Registers what events of `type` invalidate; several handlers per type run in order. */
  on<T extends E['type']>(type: T, handler: Handler<EventOfType<E, T>>): this {
    if (typeof type !== 'string' || type.length === 0) throw new TypeError('EventInvalidator.on: type must be a non-empty string');
    if (typeof handler !== 'function') throw new TypeError('EventInvalidator.on: handler must be a function');
    let list = this.#handlers.get(type);
    if (list === undefined) this.#handlers.set(type, (list = []));
    list.push(handler as Handler<E>);
    return this;
  }

  /** Applies the invalidations of `event`; returns how many entries were removed. */
  async handle(event: E): Promise<number> {
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string') {
      throw new TypeError('EventInvalidator.handle: expected an event object with a string type');
    }
    const handlers = this.#handlers.get(event.type);
    if (handlers === undefined) return 0;
    let removed = 0;
    for (const handler of handlers) {
      const inv = await handler(event);
      if (inv === undefined) continue;
      if (inv.keys !== undefined && inv.keys.length !== 0) removed += await this.#cache.deleteMany(inv.keys);
      if (inv.tags !== undefined && inv.tags.length !== 0) removed += await this.#cache.invalidateTags(inv.tags);
      for (const pattern of inv.patterns ?? []) removed += await this.#cache.deletePattern(pattern);
    }
    return removed;
  }
}
