import { CacheTimeoutError } from '../errors/cache-timeout-error.js';
import { TIMED_OUT, withDeadline } from '../resilience/deadline.js';
import type { Flight } from '../resilience/single-flight.js';
import type { StaleEntry } from '../stores/store.js';
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
  const stale = core.l1.getStale(key) as StaleEntry<T> | undefined;
  // 1. fail-safe throttling
  if (stale !== undefined && core.inBackoff(key)) return stale.value;
  // 2. single flight
  const flight = core.flights.join<T>(key) ?? start(core, key, prefix, factory, options, stale);
  // 3. wait under this caller's own timeouts
  const soft = stale === undefined ? undefined : options.soft;
  if (soft === 0) return stale!.value; // stale-while-revalidate: the run goes on in the background
  flight.waiting++;
  let attached = true;
  try {
    if (soft !== undefined && soft < options.hard) {
      const early = await withDeadline(flight.promise, soft);
      if (early !== TIMED_OUT) return early;
      attached = false;
      flight.waiting--;
      return stale!.value;
    }
    const result = await withDeadline(flight.promise, options.hard);
    if (result !== TIMED_OUT) return result;
    // hard timeout: once nobody waits, abort the factory and let later callers start afresh
    attached = false;
    flight.waiting--;
    if (flight.waiting === 0) {
      abort(flight, options.hard);
      core.flights.detach(flight);
    }
    if (stale !== undefined) return stale.value;
    throw new CacheTimeoutError(key, options.hard);
  } catch (error) {
    // 4. fail-safe: the factory failed and a stale value masks the error
    if (stale !== undefined) return stale.value;
    throw error;
  } finally {
    if (attached) flight.waiting--;
  }
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
  let result: Promise<T>;
  try {
    result = Promise.resolve(factory(ctx));
  } catch (error) {
    result = Promise.reject(error);
  }
  flight.promise = result.then(
    (value) => {
      core.flights.settle(flight);
      if (ctx.options !== undefined) ({ ttl, grace } = ctx.apply(ttl, grace));
      if (value !== undefined && !ctx.skipped && mayStore(flight)) {
        core.l1.write(key, value, ttl, grace, flight.tags);
        core.sets++;
        core.flights.supersedeOlder(flight);
        if (core.backoff.size !== 0) core.backoff.delete(key);
        if (core.emitter.has('set')) core.emitter.emit('set', { key, tier: 'l1' });
      }
      return value;
    },
    (error: unknown) => {
      core.flights.settle(flight);
      if (stale !== undefined) core.startBackoff(key);
      // Seen by nobody (a background refresh) or masked by a stale value: report it.
      if (flight.waiting === 0 || stale !== undefined) core.factoryError(error, key, 'getOrSet');
      throw error;
    },
  );
  // The run may outlive every caller (soft timeout, hard timeout): its rejection is handled above.
  flight.promise.catch(noop);
  return flight;
}

function mayStore(flight: Flight): boolean {
  if (flight.superseded) return false;
  const invalidated = flight.invalidatedTags;
  if (invalidated === undefined || flight.tags === undefined) return true;
  return !flight.tags.some((tag) => invalidated.has(tag));
}

const noop = (): void => {};

class Context<T> implements FactoryContext<T> {
  readonly stale: T | undefined;
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
  const flights = new Array<Flight<T>>(keys.length);
  const stales = new Array<StaleEntry<T> | undefined>(keys.length);
  const toLoad: number[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    stales[i] = core.l1.getStale(key) as StaleEntry<T> | undefined;
    const joined = core.flights.join<T>(key);
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
          if (value !== undefined && mayStore(flight)) {
            core.l1.write(key, value, options.ttl, options.grace, flight.tags);
            core.sets++;
            core.flights.supersedeOlder(flight);
            if (core.emitter.has('set')) core.emitter.emit('set', { key, tier: 'l1' });
          }
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
