import { CacheTimeoutError } from '../errors/cache-timeout-error.js';
import { TIMED_OUT, withDeadline } from '../resilience/deadline.js';
import type { Flight } from '../resilience/single-flight.js';
import type { RemoteEntry, StaleEntry, WriteStamp } from '../stores/store.js';
import { chunksOf, UNAVAILABLE } from '../tiers/remote-tier.js';
import { toError } from '../errors/to-error.js';
import type { CacheCore } from './core.js';
import type { BatchFactory, BatchResult, Factory, FactoryContext, FactoryOptions } from './types.js';
import { durationMs, scopeTags } from './validate.js';

/** Per-call options of `getOrSet`, parsed. */
export interface LoadOptions {
  ttl: number | undefined;
  grace: number;
  /** Tags with the namespace prefix applied. */
  tags: string[] | undefined;
  soft: number | undefined;
  hard: number;
  /** Take the distributed lock on a miss (when the cache has one). */
  lock: boolean;
}

/**
 * The miss path of `getOrSet` (the hit path never gets here):
 * 1. a stale value inside grace whose factory failed recently is served during `graceBackoff`;
 * 2. otherwise the key's run in flight is joined, or a new one started (single flight);
 * 3. this caller waits under its own soft and hard timeouts;
 * 4. a failure or hard timeout falls back to the stale value when there is one.
 */
export async function load<T>(
  core: CacheCore,
  key: string,
  prefix: string,
  factory: Factory<T>,
  options: LoadOptions,
): Promise<T> {
  const stale = core.enabled ? (core.l1.getStale(key) as StaleEntry<T> | undefined) : undefined;
  // 1. fail-safe throttling
  if (stale !== undefined && core.inBackoff(key)) return count(core, key, undefined, stale.value);
  // 2. single flight (with a shared tier, the run reads L2 before calling the factory); a disabled
  // cache is a pass-through, where every call runs its own factory
  const flight = (core.enabled ? core.flights.join<T>(key) : undefined) ?? start(core, key, prefix, factory, options, stale);
  // 3. wait under this caller's own timeouts
  const soft = options.soft;
  if (soft === 0 && stale !== undefined) return count(core, key, flight, stale.value); // stale-while-revalidate
  const fallback = (): { value: T } | undefined => stale ?? flight.stale;
  flight.waiting++;
  let attached = true;
  try {
    let result: T | typeof TIMED_OUT;
    // Without a stale value in memory, L2 may still turn one up while the run goes on.
    if (soft !== undefined && soft < options.hard && (stale !== undefined || core.remote !== undefined)) {
      result = await withDeadline(flight.promise, soft);
      if (result === TIMED_OUT) {
        const early = fallback();
        if (early !== undefined) {
          attached = false;
          flight.waiting--;
          return count(core, key, flight, early.value);
        }
        result = await withDeadline(flight.promise, options.hard - soft);
      }
    } else {
      result = await withDeadline(flight.promise, options.hard);
    }
    if (result !== TIMED_OUT) return count(core, key, flight, result);
    // hard timeout: once nobody waits, abort the factory and let later callers start afresh
    attached = false;
    flight.waiting--;
    if (flight.waiting === 0) {
      abort(flight, options.hard);
      core.flights.detach(flight);
    }
    const late = fallback();
    if (late !== undefined) return count(core, key, flight, late.value);
    count(core, key, flight, undefined);
    throw new CacheTimeoutError(key, options.hard);
  } catch (error) {
    if (error instanceof CacheTimeoutError && error.key === key) throw error;
    // 4. fail-safe: the factory failed and a stale value masks the error
    const masked = fallback();
    if (masked !== undefined) return count(core, key, flight, masked.value);
    count(core, key, flight, undefined);
    throw error;
  } finally {
    if (attached) flight.waiting--;
  }
}

/**
 * With a shared tier, a getOrSet lookup is a hit if L2 had the value and a miss otherwise
 * (without one, the facade counted the miss already).
 */
function count<V>(core: CacheCore, key: string, flight: Flight<unknown> | undefined, value: V): V {
  if (core.remote === undefined) return value;
  const hit = flight?.fromL2 === true && value !== undefined;
  if (hit) {
    core.hits++;
    core.l2Hits++;
  } else {
    core.misses++;
    core.l2Misses++;
  }
  const event = hit ? 'hit' : 'miss';
  if (core.emitter.has(event)) core.emitter.emit(event, { key, tier: 'l2' });
  return value;
}

function abort(flight: Flight, timeout: number): void {
  const controller = (flight.controller ??= new AbortController());
  if (!controller.signal.aborted) controller.abort(new CacheTimeoutError(flight.key, timeout));
}

function start<T>(
  core: CacheCore,
  key: string,
  prefix: string,
  factory: Factory<T>,
  options: LoadOptions,
  stale: StaleEntry<T> | undefined,
): Flight<T> {
  const flight = core.flights.start<T>(key, options.tags);
  const ctx = new Context<T>(flight, stale?.value, prefix);
  let ttl = options.ttl;
  let grace = options.grace;
  const started = performance.now();
  // A tagged result is true as of the moment this run began, in Redis' own clock: an
  // invalidation of one of its tags after that moment makes it invalid (lazy tags, redis-store.ts).
  // The clock is read alongside the first L2 read, in the same round trip.
  let stampAt: number | undefined;
  const run = async (): Promise<T> => {
    if (core.remote !== undefined && core.enabled) {
      if (options.tags !== undefined && options.tags.length !== 0) {
        void serverTime(core, key).then((at) => {
          stampAt = at;
        });
      }
      const entry = (await readForRun(core, flight, key)) as RemoteEntry<T> | undefined;
      if (entry !== undefined && !entry.stale) {
        flight.fromL2 = true;
        return entry.value;
      }
      if (entry !== undefined && stale === undefined) {
        flight.stale = { value: entry.value };
        ctx.stale = entry.value;
      }
      if (core.lockTtl !== undefined && options.lock) {
        const filled = await acquireLock(core, flight, key);
        if (filled !== undefined) {
          flight.fromL2 = true;
          return filled.value;
        }
      }
    }
    return factory(ctx);
  };
  flight.promise = run().then(
    (value) => {
      core.flights.settle(flight);
      if (flight.fromL2) return value;
      if (ctx.options !== undefined) ({ ttl, grace } = ctx.apply(ttl, grace));
      if (value !== undefined && !ctx.skipped && mayStore(flight)) {
        // The clock read has long come back with the first L2 read; if not, the run's age stands in.
        store(core, flight, key, value, ttl, grace, 'getOrSet', stampAt === undefined ? { age: performance.now() - started } : { at: stampAt });
      } else {
        releaseLock(flight);
      }
      return value;
    },
    (error: unknown) => {
      core.flights.settle(flight);
      releaseLock(flight);
      const masked = stale !== undefined || flight.stale !== undefined;
      if (masked) core.startBackoff(key);
      // Seen by nobody (a background refresh) or masked by a stale value: report it.
      if (flight.waiting === 0 || masked) core.factoryError(error, key, 'getOrSet');
      throw error;
    },
  );
  // The run may outlive every caller (soft timeout, hard timeout): its rejection is handled above.
  flight.promise.catch(noop);
  return flight;
}

/**
 * Stores a factory's result: in memory at once, in L2 in the background (the caller does not wait
 * for it, so an outage adds no second wait), then tells the other instances. A value that cannot
 * be serialized is returned to its callers but stored nowhere.
 */
function store<T>(
  core: CacheCore,
  flight: Flight<T>,
  key: string,
  value: T,
  ttl: number | undefined,
  grace: number,
  operation: string,
  stamp: WriteStamp,
): void {
  if (core.closed || !core.enabled) {
    releaseLock(flight);
    return;
  }
  const remote = core.remote;
  core.flights.supersedeOlder(flight);
  if (core.backoff.size !== 0) core.backoff.delete(key);
  if (remote === undefined) {
    core.l1.write(key, value, ttl, grace, flight.tags);
    core.sets++;
    if (core.emitter.has('set')) core.emitter.emit('set', { key, tier: 'l1' });
    return;
  }
  let payload: string;
  try {
    payload = core.serializer.encode(value);
  } catch (error) {
    releaseLock(flight);
    core.error({ error: toError(error), tier: 'l2', operation, key });
    return;
  }
  const tags = flight.tags;
  if (core.tiered || !remote.available) core.l1.write(key, value, ttl, grace, tags);
  core.sets++;
  remote.background(operation, key, (s) => s.write(key, payload, ttl, grace, tags, stamp), (result) => {
    releaseLock(flight); // after the write: waiting instances now find the value in L2
    if (result === 'ok') {
      core.reachedL2([key]);
      core.publish({ type: 'keys', keys: [key] });
    } else if (result === 'unavailable') {
      core.missedInL2({ type: 'keys', keys: [key] });
      if (!core.tiered && !flight.superseded) core.l1.write(key, value, ttl, grace, tags);
    }
    // Refused by Redis (OOM, NOPERM): reported; the memory copy would outlive what Redis holds.
    else if (result === 'refused' && core.tiered) core.l1.delete(key);
  });
  if (core.emitter.has('set')) core.emitter.emit('set', { key, tier: 'l2' });
}

/**
 * Reads `key` from L2, sharing the round trip with concurrent readers of the key, and keeps a copy
 * in memory (two tiers) with the TTL it has left, unless the key was written or invalidated while
 * the read was in flight (the "caching in progress" rule of Redis client-side caching).
 * Resolves to undefined when L2 has nothing or cannot answer in time.
 */
export function readRemote(core: CacheCore, key: string): Promise<RemoteEntry | undefined> {
  const joined = core.reads.join<RemoteEntry | undefined>(key);
  if (joined !== undefined) return joined.promise;
  const flight = core.reads.start<RemoteEntry | undefined>(key, undefined);
  flight.promise = core.remote!.run('get', key, (s) => s.getEntry(key)).then(
    (entry) => {
      core.reads.settle(flight);
      if (entry === UNAVAILABLE || entry === undefined) return undefined;
      backfill(core, flight, key, entry);
      return entry;
    },
    () => {
      // Redis answered with an error (reported as an event): a miss for this call alone.
      core.reads.settle(flight);
      return undefined;
    },
  );
  return flight.promise;
}

/**
 * The L2 read of a getOrSet run. The run's own flight already joins concurrent callers and is
 * watched by the generation checks, so the read needs no entry in `core.reads` of its own.
 */
function readForRun(core: CacheCore, flight: Flight, key: string): Promise<RemoteEntry | undefined> {
  return core.remote!.run('get', key, (s) => s.getEntry(key)).then(
    (entry) => {
      if (entry === UNAVAILABLE || entry === undefined) return undefined;
      if (core.tiered && !entry.stale && mayStore(flight, entry.tags)) writeBack(core, key, entry);
      return entry;
    },
    // Redis answered with an error (reported as an event): a miss for this call alone.
    () => undefined,
  );
}

/** Redis' clock in µs, or undefined when it cannot be had in time. */
function serverTime(core: CacheCore, key: string): Promise<number | undefined> {
  return core.remote!.run('time', key, (s) => s.time()).then(
    (t) => (t === UNAVAILABLE ? undefined : t),
    () => undefined,
  );
}

/** {@link readRemote} for many keys in one round trip. */
export async function readRemoteMany(core: CacheCore, keys: readonly string[]): Promise<(RemoteEntry | undefined)[]> {
  const flights = new Array<Flight<RemoteEntry | undefined>>(keys.length);
  const fresh: number[] = [];
  keys.forEach((key, i) => {
    const joined = core.reads.join<RemoteEntry | undefined>(key);
    if (joined !== undefined) flights[i] = joined;
    else fresh.push(i);
  });
  // Parts sent one after another, each with its own l2Timeout: a 100k-key call never waits for
  // one reply larger than a deadline allows.
  let previous: Promise<unknown> = Promise.resolve();
  for (const part of chunksOf(fresh)) {
    const wanted = part.map((i) => keys[i]!);
    const batch = previous.then(() =>
      core.remote!.run('getMany', undefined, (s) => s.getEntries(wanted)).catch((): typeof UNAVAILABLE => UNAVAILABLE),
    );
    previous = batch;
    part.forEach((i, j) => {
      const key = keys[i]!;
      const flight = core.reads.start<RemoteEntry | undefined>(key, undefined);
      flight.promise = batch.then((entries) => {
        core.reads.settle(flight);
        if (entries === UNAVAILABLE) return undefined;
        const entry = entries[j];
        if (entry !== undefined) backfill(core, flight, key, entry);
        return entry;
      });
      flights[i] = flight;
    });
  }
  return Promise.all(flights.map((f) => f.promise));
}


const LOCK_POLL_MS = 20;

/**
 * Distributed stampede protection: take the key's lock in Redis, or wait for whoever holds it to
 * put the value in L2. A holder that crashed delays the others by at most the lock TTL, after
 * which the lock has expired and one of them takes it. Resolves to the value another instance
 * stored, or undefined when this run should call the factory (lock taken, or Redis away).
 */
async function acquireLock<T>(core: CacheCore, flight: Flight<T>, key: string): Promise<{ value: T } | undefined> {
  const remote = core.remote!;
  const ttl = core.lockTtl!;
  const giveUp = Date.now() + ttl + LOCK_POLL_MS * 5;
  for (;;) {
    // A lock Redis refuses (NOPERM) is no lock: the run goes on without it.
    const token = await remote.run('lock', key, (s) => s.lock(key, ttl)).catch((): typeof UNAVAILABLE => UNAVAILABLE);
    if (token === UNAVAILABLE) return undefined;
    if (token !== undefined) {
      flight.release = () => remote.background('unlock', key, (s) => s.unlock(key, token), noop);
      return undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    const entry = await readRemote(core, key);
    if (entry !== undefined && !entry.stale) return { value: entry.value as T };
    if (Date.now() > giveUp) return undefined;
  }
}

function releaseLock(flight: Flight<unknown>): void {
  const release = flight.release;
  flight.release = undefined;
  release?.();
}

function backfill<T>(core: CacheCore, read: Flight<T>, key: string, entry: RemoteEntry): void {
  if (!core.tiered || entry.stale || !mayStore(read, entry.tags)) return;
  writeBack(core, key, entry);
}

/** Keeps a fresh L2 value in L1 for the time it has left in L2. */
function writeBack(core: CacheCore, key: string, entry: RemoteEntry): void {
  const ttl = entry.freshFor === undefined ? undefined : Math.max(1, Math.ceil(entry.freshFor));
  core.l1.write(key, entry.value, ttl, core.defaultGrace, entry.tags);
}

/**
 * The generation check: nothing wrote or removed the key since the flight started, and none of
 * `tags` (the flight's own, or those of the value it read) was invalidated meanwhile.
 */
function mayStore(flight: Flight, tags: readonly string[] | undefined = flight.tags): boolean {
  if (flight.superseded) return false;
  const invalidated = flight.invalidatedTags;
  if (invalidated === undefined || tags === undefined) return true;
  return !tags.some((tag) => invalidated.has(tag));
}

const noop = (): void => {};

class Context<T> implements FactoryContext<T> {
  stale: T | undefined;
  skipped = false;
  options: FactoryOptions | undefined;
  readonly #flight: Flight<T>;
  readonly #prefix: string;

  constructor(flight: Flight<T>, stale: T | undefined, prefix: string) {
    this.#flight = flight;
    this.stale = stale;
    this.#prefix = prefix;
  }

  get signal(): AbortSignal {
    return (this.#flight.controller ??= new AbortController()).signal;
  }

  setOptions(options: FactoryOptions): void {
    if (typeof options !== 'object' || options === null) throw new TypeError('setOptions expects an object');
    if (options.ttl !== undefined) durationMs(options.ttl, 'ttl');
    if (options.grace !== undefined) durationMs(options.grace, 'grace');
    if (options.tags !== undefined) this.#flight.tags = scopeTags(options.tags, this.#prefix);
    this.options = { ...this.options, ...options };
  }

  skip(): void {
    this.skipped = true;
  }

  apply(ttl: number | undefined, grace: number): { ttl: number | undefined; grace: number } {
    const o = this.options!;
    return {
      ttl: o.ttl === undefined ? ttl : durationMs(o.ttl, 'ttl'),
      grace: o.grace === undefined ? grace : durationMs(o.grace, 'grace'),
    };
  }
}

/**
 * The miss path of `getOrSetMany`: keys with a run in flight join it; all other missing keys go
 * to one factory call, whose per-key results are shared as flights so concurrent `getOrSet`
 * calls for those keys join them too.
 */
export async function loadMany<T>(
  core: CacheCore,
  keys: readonly string[],
  userKeys: readonly string[],
  prefix: string,
  factory: BatchFactory<T>,
  options: LoadOptions,
): Promise<(T | undefined)[]> {
  const started = performance.now();
  const flights = new Array<Flight<T>>(keys.length);
  const stales = new Array<StaleEntry<T> | undefined>(keys.length);
  const toLoad: number[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    stales[i] = core.enabled ? (core.l1.getStale(key) as StaleEntry<T> | undefined) : undefined;
    const joined = core.enabled ? core.flights.join<T>(key) : undefined;
    if (joined !== undefined) flights[i] = joined;
    else toLoad.push(i);
  }
  if (toLoad.length !== 0) {
    let batch: Promise<BatchResult<T>>;
    try {
      batch = Promise.resolve(factory(toLoad.map((i) => userKeys[i]!)));
    } catch (error) {
      batch = Promise.reject(error);
    }
    const picked = batch.then((result) => toMap(result, toLoad.map((i) => userKeys[i]!)));
    picked.catch(noop);
    for (const i of toLoad) {
      const key = keys[i]!;
      const userKey = userKeys[i]!;
      const flight = core.flights.start<T>(key, options.tags);
      flight.promise = picked.then(
        (values) => {
          core.flights.settle(flight);
          const value = values.get(userKey);
          if (value !== undefined && mayStore(flight)) store(core, flight, key, value, options.ttl, options.grace, 'getOrSetMany', { age: performance.now() - started });
          return value as T;
        },
        (error: unknown) => {
          core.flights.settle(flight);
          throw error;
        },
      );
      flight.promise.catch(noop);
      flights[i] = flight;
    }
  }
  const settled = await withDeadline(
    Promise.allSettled(flights.map((f) => f.promise)),
    options.hard,
  );
  if (settled === TIMED_OUT) {
    for (const flight of flights) core.flights.detach(flight);
    const missing = keys.findIndex((_k, i) => stales[i] === undefined);
    if (missing !== -1) throw new CacheTimeoutError(keys[missing]!, options.hard);
    return stales.map((s) => s!.value);
  }
  const out = new Array<T | undefined>(keys.length);
  let firstError: { error: unknown } | undefined;
  for (let i = 0; i < keys.length; i++) {
    const r = settled[i]!;
    if (r.status === 'fulfilled') {
      out[i] = r.value;
    } else if (stales[i] !== undefined) {
      out[i] = stales[i]!.value;
      core.startBackoff(keys[i]!);
      core.factoryError(r.reason, keys[i]!, 'getOrSetMany');
    } else {
      firstError ??= { error: r.reason };
    }
  }
  if (firstError !== undefined) throw firstError.error;
  return out;
}

function toMap<T>(result: BatchResult<T>, keys: readonly string[]): Map<string, T | undefined> {
  const map = new Map<string, T | undefined>();
  if (Array.isArray(result)) {
    const values = result as readonly (T | undefined)[];
    if (values.length !== keys.length) {
      throw new TypeError(`getOrSetMany: the factory returned ${values.length} values for ${keys.length} keys`);
    }
    keys.forEach((key, i) => map.set(key, values[i]));
  } else if (result instanceof Map) {
    for (const key of keys) map.set(key, (result as ReadonlyMap<string, T>).get(key));
  } else if (typeof result === 'object' && result !== null) {
    const record = result as Readonly<Record<string, T>>;
    for (const key of keys) map.set(key, Object.hasOwn(record, key) ? record[key] : undefined);
  } else {
    throw new TypeError('getOrSetMany: the factory must return an array, a Map or an object keyed by key');
  }
  return map;
}
