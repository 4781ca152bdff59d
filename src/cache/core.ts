import { parseDuration } from '../config/duration.js';
import { ConfigError } from '../errors/config-error.js';
import { toError } from '../errors/to-error.js';
import { MemoryStore } from '../memory/memory-store.js';
import { nullStore } from '../memory/null-store.js';
import { FlightRegistry } from '../resilience/single-flight.js';
import type { SyncStore } from '../stores/store.js';
import { cachedNow } from '../util/clock.js';
import { CacheEmitter } from './emitter.js';
import { LatencyRecorder } from './latency.js';
import type { CacheOptions, ErrorEvent } from './types.js';

/** Defaults of {@link CacheOptions}, in one place. */
export const CACHE_DEFAULTS = {
  namespace: 'hoard:',
  name: 'default',
  defaultTtl: '5m',
  graceBackoff: '10s',
  enabled: true,
} as const;

/** Most keys remembered as "factory failed, serving stale" at once; the oldest go first. */
const MAX_BACKOFF_KEYS = 10_000;

/**
 * State shared by a cache and all its namespace views: the stores, counters, listeners and
 * in-flight factory runs. Options are resolved and validated here, once.
 */
export class CacheCore {
  readonly name: string;
  /** Prefix of keys in shared stores (`hoard:`). The memory tier holds keys without it. */
  readonly prefix: string;
  readonly l1: SyncStore;
  readonly defaultTtl: number | undefined;
  readonly defaultGrace: number;
  readonly graceBackoff: number;
  readonly now: () => number;

  readonly emitter = new CacheEmitter();
  readonly flights = new FlightRegistry();
  readonly latency = new LatencyRecorder();
  /** Keys whose factory failed and whose stale value is served until the given time. */
  readonly backoff = new Map<string, number>();

  hits = 0;
  misses = 0;
  sets = 0;
  deletes = 0;
  errors = 0;

  constructor(options: CacheOptions) {
    const name = options.name ?? CACHE_DEFAULTS.name;
    if (typeof name !== 'string' || name.length === 0) throw new ConfigError('name', 'expected a non-empty string');
    this.name = name;
    const prefix = options.namespace ?? CACHE_DEFAULTS.namespace;
    if (typeof prefix !== 'string') throw new ConfigError('namespace', 'expected a string key prefix such as "hoard:"');
    this.prefix = prefix;
    const ttl = parseDuration(options.defaultTtl ?? CACHE_DEFAULTS.defaultTtl, 'defaultTtl');
    this.defaultTtl = ttl === Infinity ? undefined : ttl;
    this.defaultGrace = options.defaultGrace === undefined ? 0 : parseDuration(options.defaultGrace, 'defaultGrace');
    this.graceBackoff = parseDuration(options.graceBackoff ?? CACHE_DEFAULTS.graceBackoff, 'graceBackoff', { allowZero: true });
    const clock = options.clock;
    if (clock !== undefined && typeof clock.now !== 'function') {
      throw new ConfigError('clock', 'expected an object with a now() method returning milliseconds');
    }
    this.now = clock === undefined ? cachedNow : () => clock.now();
    const enabled = options.enabled ?? CACHE_DEFAULTS.enabled;
    if (typeof enabled !== 'boolean') throw new ConfigError('enabled', `expected true or false, got ${String(enabled)}`);
    this.l1 = enabled ? resolveStore(options) : nullStore();
  }

  error(event: ErrorEvent): void {
    this.errors++;
    this.emitter.emit('error', event);
  }

  factoryError(error: unknown, key: string, operation: string): void {
    this.error({ error: toError(error), tier: 'factory', operation, key });
  }

  /** The factory of `key` failed and a stale value masks it: serve that value for `graceBackoff`. */
  startBackoff(key: string): void {
    if (this.graceBackoff === 0) return;
    this.backoff.delete(key);
    if (this.backoff.size >= MAX_BACKOFF_KEYS) {
      const oldest = this.backoff.keys().next();
      if (oldest.done !== true) this.backoff.delete(oldest.value);
    }
    this.backoff.set(key, this.now() + this.graceBackoff);
  }

  inBackoff(key: string): boolean {
    if (this.backoff.size === 0) return false;
    const until = this.backoff.get(key);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.backoff.delete(key);
    return false;
  }

  /** `key` was written or removed directly: runs in flight must not store, backoff is over. */
  touched(key: string): void {
    this.flights.supersedeKey(key);
    if (this.backoff.size !== 0) this.backoff.delete(key);
  }

  /** Keys matching `predicate` were removed in bulk. */
  touchedWhere(predicate: (key: string) => boolean): void {
    this.flights.supersedeWhere(predicate);
    for (const key of this.backoff.keys()) if (predicate(key)) this.backoff.delete(key);
  }
}

function resolveStore(options: CacheOptions): SyncStore {
  const store = options.store;
  if (store === undefined) return new MemoryStore({ clock: options.clock });
  if (typeof store !== 'object' || store === null || typeof store.get !== 'function' || store.capabilities === undefined) {
    throw new ConfigError('store', 'expected a store such as memoryStore()');
  }
  if (!store.capabilities.sync) {
    throw new ConfigError('store', 'a shared (Redis) store is served through the hoard/redis entry point');
  }
  return store as SyncStore;
}
