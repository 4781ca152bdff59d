import { Cache } from '../cache/cache.js';
import { LatencyRecorder } from '../cache/latency.js';
import type { LatencyHistogram } from '../cache/latency.js';
import { ConfigError } from '../errors/config-error.js';

/** Options of {@link monitor}. */
export interface MonitorOptions {
  /**
   * Names the wrapped function in metrics (the `cache` label, with `tier="source"`), in events
   * and on the dashboard. Keep it low-cardinality: `db.users.byId`, never an id.
   * @example 'db.users.byId'
   */
  name: string;
  /**
   * A call taking longer than this (ms) emits `slow`. Must be > 0.
   * @default 1000
   */
  slowMs?: number | undefined;
  /**
   * Exports the monitor along with this cache (its metrics bindings and admin dashboard).
   * Without it, the monitor is exported by every metrics binding of the process.
   */
  cache?: Cache | undefined;
}

/** Defaults of {@link MonitorOptions}. */
export const MONITOR_DEFAULTS = { slowMs: 1000 } as const;

/** Payload of a monitor's `slow` event. */
export interface MonitorSlowEvent {
  name: string;
  /** How long the call took, in ms. */
  ms: number;
  slowMs: number;
  /** Whether the call failed. */
  failed: boolean;
}

/** Payload of a monitor's `error` event: the call rejected or threw (the error is rethrown to the caller as is). */
export interface MonitorErrorEvent {
  name: string;
  ms: number;
  error: unknown;
}

/** Events of a {@link Monitor}. */
export interface MonitorEvents {
  slow: MonitorSlowEvent;
  error: MonitorErrorEvent;
}

/** What collectors read from a monitor at scrape time. */
export interface MonitorMetrics {
  name: string;
  calls: number;
  errors: number;
  /** Calls slower than `slowMs`. */
  slow: number;
  /** Every call timed (weight 1). */
  latency: LatencyHistogram;
  /** Over the most recent calls, in ms. */
  percentiles: { p50: number; p99: number };
}

type Listener<E extends keyof MonitorEvents> = (event: MonitorEvents[E]) => void;

/** Process-wide monitors (created without a `cache`), and monitors per cache. */
const unattached = new Set<Monitor>();
const attached = new WeakMap<object, Set<Monitor>>();

/** Whom a cache's monitors are filed under: its shared state, so views and the root agree. */
function ownerOf(cache: Cache): object {
  try {
    return Cache.coreOf(cache);
  } catch {
    return cache; // a cache of another build of hoard: filed under the object itself
  }
}

/**
 * The figures of one wrapped function: calls, errors, slow calls and latency, read by the
 * metrics collectors and the dashboard; `on('slow' | 'error', listener)` for alerts and logs.
 */
export class Monitor {
  readonly name: string;
  readonly slowMs: number;
  #calls = 0;
  #errors = 0;
  #slow = 0;
  readonly #latency = new LatencyRecorder();
  readonly #listeners: { slow: Listener<'slow'>[]; error: Listener<'error'>[] } = { slow: [], error: [] };
  readonly #owner: object | undefined;

  constructor(options: MonitorOptions) {
    if (typeof options !== 'object' || options === null) throw new ConfigError('options', 'monitor() expects { name, slowMs?, cache? }');
    const { name, slowMs = MONITOR_DEFAULTS.slowMs, cache } = options;
    if (typeof name !== 'string' || name.length === 0) throw new ConfigError('name', 'expected a non-empty string naming the monitored function');
    if (typeof slowMs !== 'number' || !(slowMs > 0)) throw new ConfigError('slowMs', `expected a number of milliseconds > 0, got ${String(slowMs)}`);
    if (cache !== undefined && (typeof cache !== 'object' || cache === null || typeof (cache as Partial<Cache>).metrics !== 'function')) {
      throw new ConfigError('cache', 'expected a cache made by createCache()');
    }
    this.name = name;
    this.slowMs = slowMs;
    this.#owner = cache === undefined ? undefined : ownerOf(cache);
    if (this.#owner === undefined) {
      unattached.add(this);
    } else {
      let set = attached.get(this.#owner);
      if (set === undefined) attached.set(this.#owner, (set = new Set()));
      set.add(this);
    }
  }

  /** Listens to `slow` or `error`; returns a function that removes the listener. A listener that throws is ignored. */
  on<E extends keyof MonitorEvents>(event: E, listener: Listener<E>): () => void {
    const list = this.#listeners[event] as Listener<E>[] | undefined;
    if (list === undefined) throw new TypeError(`unknown monitor event "${String(event)}"`);
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    list.push(listener);
    return () => {
      const at = list.indexOf(listener);
      if (at !== -1) list.splice(at, 1);
    };
  }

  /** Stops exporting this monitor (it keeps counting for `metrics()`). */
  dispose(): void {
    unattached.delete(this);
    if (this.#owner !== undefined) attached.get(this.#owner)?.delete(this);
  }

  metrics(): MonitorMetrics {
    return {
      name: this.name,
      calls: this.#calls,
      errors: this.#errors,
      slow: this.#slow,
      latency: this.#latency.histogram(0),
      percentiles: this.#latency.percentiles(),
    };
  }

  /** @internal Records one call. */
  record(ms: number, error: { error: unknown } | undefined): void {
    this.#calls++;
    this.#latency.record(ms, 0, 1);
    if (error !== undefined) {
      this.#errors++;
      emit(this.#listeners.error, { name: this.name, ms, error: error.error });
    }
    if (ms > this.slowMs) {
      this.#slow++;
      emit(this.#listeners.slow, { name: this.name, ms, slowMs: this.slowMs, failed: error !== undefined });
    }
  }
}

function emit<T>(listeners: readonly ((event: T) => void)[], event: T): void {
  for (const listener of listeners.slice()) {
    try {
      listener(event);
    } catch {
      // A listener that throws never breaks the monitored call.
    }
  }
}

/** A function wrapped by {@link monitor}: the same call, plus its {@link Monitor}. */
export type MonitoredFunction<F extends (...args: never[]) => unknown> = F & { readonly monitor: Monitor };

/**
 * Wraps any function (typically an async one: a database query, an upstream call) so that its
 * latency and errors land in the same metrics as the caches' (`cache_latency_seconds` and
 * `cache_errors_total` with `cache="<name>"` and `tier="source"`), and calls slower than
 * `slowMs` emit `slow`. The wrapper returns what the function returns and rethrows what it
 * throws, untouched; `this` is passed through. Timing a call costs two `performance.now()` reads.
 * @example
 * const findUser = monitor((id: string) => db.query('select * from users where id = $1', [id]), { name: 'db.users.byId', slowMs: 200 });
 * findUser.monitor.on('slow', (e) => log.warn(`${e.name} took ${e.ms} ms`));
 * const user = await cache.getOrSet(`user:${id}`, () => findUser(id));
 */
export function monitor<F extends (...args: never[]) => unknown>(fn: F, options: MonitorOptions): MonitoredFunction<F> {
  if (typeof fn !== 'function') throw new TypeError('monitor: expected a function to wrap');
  const m = new Monitor(options);
  const wrapped = function (this: unknown, ...args: Parameters<F>): unknown {
    const started = performance.now();
    let result: unknown;
    try {
      result = fn.apply(this, args);
    } catch (error) {
      m.record(performance.now() - started, { error });
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => {
          m.record(performance.now() - started, undefined);
          return value;
        },
        (error: unknown) => {
          m.record(performance.now() - started, { error });
          throw error;
        },
      );
    }
    m.record(performance.now() - started, undefined);
    return result;
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name });
  Object.defineProperty(wrapped, 'monitor', { value: m, enumerable: true });
  return wrapped as unknown as MonitoredFunction<F>;
}

/** Monitors exported along with `cache`. */
export function monitorsOf(cache: Cache): readonly Monitor[] {
  const set = attached.get(ownerOf(cache));
  return set === undefined ? [] : [...set];
}

/** Monitors created without a cache. */
export function unattachedMonitors(): readonly Monitor[] {
  return [...unattached];
}
