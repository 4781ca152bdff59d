/**
 * One in-flight factory run for a key, shared by every caller that missed the key meanwhile.
 * `superseded` is the generation check of FAULTS.md C5-C9: a write, delete or invalidation of the
 * key after the run started sets it, and then the run's result is returned to its callers but
 * never written to the cache, so a slow or late factory cannot overwrite something newer.
 */
export class Flight<T = unknown> {
  readonly key: string;
  /** Start order, so a finishing run supersedes only runs that started before it. */
  readonly seq: number;
  superseded = false;
  /** Tags the result will carry; `setOptions` may change them while the factory runs. */
  tags: readonly string[] | undefined;
  /** Tags invalidated while the run was in flight, checked against its final tags. */
  invalidatedTags: Set<string> | undefined;
  /** Callers still waiting for the result; 0 means a failure would go unseen (background run). */
  waiting = 0;
  promise!: Promise<T>;
  controller: AbortController | undefined;
  /** The run found a fresh value in L2: nothing to store. */
  fromL2 = false;
  /** A stale value the run found in L2, for callers with none in memory. */
  stale: { value: T } | undefined;
  /** Releases the distributed lock this run holds, once its value is in L2 (or it failed). */
  release: (() => void) | undefined;

  constructor(key: string, seq: number, tags: readonly string[] | undefined) {
    this.key = key;
    this.seq = seq;
    this.tags = tags;
  }
}

/** Most abandoned runs tracked at once. */
const MAX_DETACHED = 10_000;

/**
 * In-flight runs by key. `active` runs are joined by new callers; `detached` runs were abandoned by
 * a hard timeout (a later call starts afresh) but may still finish and fill the cache, so they are
 * kept only to be superseded. Both are emptied as runs settle: nothing here outlives a run.
 */
export class FlightRegistry {
  readonly active = new Map<string, Flight>();
  readonly detached = new Set<Flight>();
  #seq = 0;

  get size(): number {
    return this.active.size + this.detached.size;
  }

  start<T>(key: string, tags: readonly string[] | undefined): Flight<T> {
    const flight = new Flight<T>(key, ++this.#seq, tags);
    this.active.set(key, flight);
    return flight;
  }

  join<T>(key: string): Flight<T> | undefined {
    return this.active.get(key) as Flight<T> | undefined;
  }

  /** A hard timeout gave up on the run: later callers start a new one. */
  detach(flight: Flight): void {
    if (this.active.get(flight.key) !== flight) return;
    this.active.delete(flight.key);
    if (this.detached.size >= MAX_DETACHED) {
      // Factories that never settle must not pin memory: forget the oldest, and since it can no
      // longer be superseded, it may no longer store its result either.
      const oldest = this.detached.values().next().value!;
      oldest.superseded = true;
      this.detached.delete(oldest);
    }
    this.detached.add(flight);
  }

  settle(flight: Flight): void {
    if (this.active.get(flight.key) === flight) this.active.delete(flight.key);
    this.detached.delete(flight);
  }

  /** `key` was written or removed by someone else: no run in flight may store its result. */
  supersedeKey(key: string): void {
    if (this.active.size !== 0) {
      const flight = this.active.get(key);
      if (flight !== undefined) flight.superseded = true;
    }
    if (this.detached.size !== 0) for (const flight of this.detached) if (flight.key === key) flight.superseded = true;
  }

  /** `winner` stored its result: runs for the same key that started earlier are now older. */
  supersedeOlder(winner: Flight): void {
    if (this.detached.size === 0) return;
    for (const flight of this.detached) if (flight.key === winner.key && flight.seq < winner.seq) flight.superseded = true;
  }

  supersedeWhere(predicate: (key: string) => boolean): void {
    for (const flight of this.#all()) if (predicate(flight.key)) flight.superseded = true;
  }

  supersedeTags(tags: readonly string[]): void {
    for (const flight of this.#all()) {
      const set = (flight.invalidatedTags ??= new Set());
      for (const tag of tags) set.add(tag);
    }
  }

  *#all(): IterableIterator<Flight> {
    yield* this.active.values();
    yield* this.detached;
  }
}
