import { BUS_KEYS_PER_MESSAGE } from '../bus/bus.js';
import type { Bus, BusMessage } from '../bus/bus.js';
import { parseDuration } from '../config/duration.js';
import { ConfigError } from '../errors/config-error.js';
import { toError } from '../errors/to-error.js';
import { MemoryStore } from '../memory/memory-store.js';
import { resolveBreakerOptions } from '../resilience/circuit-breaker.js';
import { FlightRegistry } from '../resilience/single-flight.js';
import { codec } from '../serialization/codec.js';
import type { Serializer } from '../serialization/codec.js';
import type { RemoteStore, Store, SyncStore } from '../stores/store.js';
import { chunksOf, RemoteTier, UNAVAILABLE } from '../tiers/remote-tier.js';
import { cachedNow } from '../util/clock.js';
import { compileGlob, escapeGlob } from '../util/glob.js';
import { CacheEmitter } from './emitter.js';
import { LatencyRecorder } from './latency.js';
import type { CacheOptions, ErrorEvent } from './types.js';
import { normalisePrefix } from './validate.js';

/** Defaults of {@link CacheOptions}, in one place. */
export const CACHE_DEFAULTS = {
  namespace: 'hoard:',
  name: 'default',
  defaultTtl: '5m',
  graceBackoff: '10s',
  enabled: true,
  l2Timeout: '50ms',
  closeTimeout: '1s',
  connectTimeout: '1s',
} as const;

/** Bounds of what is remembered for L2 while it is away. */
const MAX_MISSED_KEYS = 10_000;
const MAX_MISSED_OTHER = 1_000;

/**
 * The store call an invalidation stands for: what the facade sends for its own invalidations, and
 * what is sent again for those L2 missed. Returns the count the store reports.
 */
export function applyToStore(s: RemoteStore, message: BusMessage): Promise<number> {
  switch (message.type) {
    case 'keys':
      return s.deleteMany(message.keys);
    case 'pattern':
      return s.deletePattern(message.pattern);
    case 'tags':
      return s.invalidateTags(message.tags);
    case 'clear':
      return message.path === '' ? s.clear().then(() => 0) : s.deletePattern(`${escapeGlob(message.path)}*`);
  }
}

/** How long after the bus went down the cache checks whether Redis went with it. */
const BUS_DOWN_GRACE = 100;

/** Key tests per second that pattern messages from other instances may cost before L1 is flushed instead. */
const PATTERN_BUDGET = 200_000;

/** Most keys remembered as "factory failed, serving stale" at once; the oldest go first. */
const MAX_BACKOFF_KEYS = 10_000;

/**
 * State shared by a cache and all its namespace views: the tiers, counters, listeners and
 * in-flight runs. Options are resolved and validated here, once.
 *
 * Tiers: `l1` is always a synchronous memory store. With a shared store (`remote`), the cache is
 * either two-tier (`tiered`: L1 keeps copies of L2 values) or Redis-only (L1 is a fallback written
 * only while L2 is unreachable, flushed when it returns).
 */
export class CacheCore {
  readonly name: string;
  /** Prefix of keys in shared stores (`hoard:`). The memory tier holds keys without it. */
  readonly prefix: string;
  readonly l1: SyncStore;
  readonly remote: RemoteTier | undefined;
  /** Configured with two tiers (`l1` + `l2`). */
  readonly twoTier: boolean;
  /**
   * L1 keeps copies of L2 values now, rather than being only a fallback (Redis-only). A two-tier
   * cache whose bus is not healthy while L2 answers works as Redis-only: without the bus its L1
   * would serve what other instances changed, so it reads through to L2 until the bus is back.
   */
  tiered: boolean;
  /** Set by `close()`: every method rejects with `CacheClosedError` afterwards. */
  closed = false;
  /**
   * False: a pass-through (`enabled: false`, `disable()`). Reads miss, factories always run and
   * nothing is stored, while the tiers keep what they hold for `enable()`.
   */
  enabled: boolean;
  readonly closeTimeout: number;
  readonly bus: Bus | undefined;
  readonly serializer: Serializer;
  readonly defaultTtl: number | undefined;
  readonly defaultGrace: number;
  readonly graceBackoff: number;
  /** TTL of the distributed lock taken on a miss; undefined: no lock. */
  readonly lockTtl: number | undefined;
  readonly now: () => number;

  readonly emitter = new CacheEmitter();
  /** Factory runs of getOrSet in flight. */
  readonly flights = new FlightRegistry();
  /** L2 reads in flight, so concurrent misses of a key share one round trip. */
  readonly reads = new FlightRegistry();
  readonly latency = new LatencyRecorder();
  /** Keys whose factory failed and whose stale value is served until the given time. */
  readonly backoff = new Map<string, number>();

  hits = 0;
  misses = 0;
  sets = 0;
  deletes = 0;
  errors = 0;
  /**
   * Per-tier counts for metrics collectors, kept off the memory hit path: the hits and misses
   * answered by L2 (L1's are `hits - l2Hits` and `misses - l2Misses`), and errors by origin.
   */
  l2Hits = 0;
  l2Misses = 0;
  l2Errors = 0;
  factoryErrors = 0;
  l1Flushes = 0;
  /** L1 may hold what other instances invalidated meanwhile (L2 or the bus was away). */
  #diverged = false;
  /** Keys whose last write or delete never reached L2 (Redis away or too slow): removed there once it is back. */
  readonly #missedKeys = new Set<string>();
  /** Pattern, tag and clear invalidations L2 never got, replayed once it is back. */
  #missedOther: BusMessage[] = [];
  /** More was missed than is remembered. */
  #missedDropped = 0;
  /** The last L2 error, for `stats().l2Error` while L2 is unavailable. */
  lastL2Error: string | undefined;
  #warned = false;
  /** End of the first connection's budget (performance.now()), for ready(). */
  #readyBy = 0;
  #patternWindow = 0;
  #patternCost = 0;
  #closing: Promise<void> | undefined;

  constructor(options: CacheOptions) {
    const name = options.name ?? CACHE_DEFAULTS.name;
    if (typeof name !== 'string' || name.length === 0) throw new ConfigError('name', 'expected a non-empty string');
    this.name = name;
    const prefix = normalisePrefix(options.namespace ?? CACHE_DEFAULTS.namespace, 'namespace');
    this.prefix = prefix;
    this.closeTimeout = parseDuration(options.closeTimeout ?? CACHE_DEFAULTS.closeTimeout, 'closeTimeout', { allowZero: true });
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
    this.enabled = enabled;
    this.serializer = options.serializer ?? codec;

    this.lockTtl = resolveLock(options.distributedLock);
    // Every option is checked whatever the tiers, so a typo fails where it is written, not when
    // Redis is added one day.
    const l2Timeout = parseDuration(options.l2Timeout ?? CACHE_DEFAULTS.l2Timeout, 'l2Timeout');
    const connectTimeout = parseDuration(options.connectTimeout ?? CACHE_DEFAULTS.connectTimeout, 'connectTimeout', { allowZero: true });
    resolveBreakerOptions(options.circuitBreaker);
    const tiers = resolveTiers(options);
    this.l1 = tiers.l1;
    this.twoTier = tiers.tiered;
    this.tiered = tiers.tiered;
    if (tiers.l2 === undefined) {
      if (options.bus !== undefined) throw new ConfigError('bus', 'a bus needs a shared store (l2 or a Redis store)');
      if (this.lockTtl !== undefined) throw new ConfigError('distributedLock', 'a distributed lock needs a shared store (l2 or a Redis store)');
      this.remote = undefined;
      this.bus = undefined;
      return;
    }
    tiers.l2.bind(prefix);
    this.#readyBy = performance.now() + connectTimeout;
    this.remote = new RemoteTier(tiers.l2, l2Timeout, options.circuitBreaker, {
      error: (error, operation, key) => this.error({ error, tier: 'l2', operation, ...(key === undefined ? {} : { key }) }),
      down: (error) => {
        this.#diverged = true;
        this.#updateMode();
        this.emitter.emit('l2:down', error === undefined ? {} : { error });
      },
      up: () => {
        this.lastL2Error = undefined;
        this.emitter.emit('l2:up', {});
        this.#replayMissed();
        this.#recover();
      },
    }, connectTimeout);
    this.bus = options.bus;
    this.bus?.start(`${prefix}bus`, {
      message: (message) => this.#receive(message),
      down: () => {
        this.#diverged = true;
        this.#confirmBusDown();
      },
      up: () => this.#recover(),
      error: (error, operation) => this.error({ error, tier: 'l2', operation }),
    });
    this.#updateMode();
  }

  /**
   * Resolves when the shared tier is connected and the bus hears itself, or when that failed or
   * `connectTimeout` is spent: whichever comes first. Never rejects; `stats()` says which.
   */
  async ready(): Promise<void> {
    const remote = this.remote;
    if (remote === undefined) return;
    await remote.firstConnection();
    // A backend that cannot be built at all (the Redis client is not installed) is not a slow
    // start: whoever waits for the cache to be ready learns it.
    const failure = remote.store.failure;
    if (failure !== undefined) throw failure;
    while (!this.busHealthy && !this.closed && performance.now() < this.#readyBy) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Whether the bus is subscribed and hears itself (no bus: true). */
  get busHealthy(): boolean {
    return this.bus === undefined || this.bus.healthy;
  }

  /**
   * Two tiers keep L1 only while nothing can be missed: the bus is healthy, or L2 is away too (an
   * outage, where L1 keeps serving and is flushed once everything is back). With L2 up and the
   * bus not (it cannot subscribe, lost its subscription, missed heartbeats), L1 is flushed and
   * reads go to L2, as in a Redis-only cache.
   */
  #updateMode(): void {
    if (!this.twoTier) return;
    const tiered = this.busHealthy || this.remote?.available !== true;
    if (tiered === this.tiered) return;
    this.tiered = tiered;
    if (tiered) return;
    // This flush is the one the outage calls for: L1 stays unused until the bus is back, so
    // nothing in it can have diverged then (unless L2 goes away meanwhile, which marks it again).
    this.#diverged = false;
    if (this.l1.size !== 0) this.flushL1();
  }

  /**
   * The bus went down. When Redis itself is going away, the data link usually notices within
   * moments and this is an outage, in which L1 keeps serving. Only when Redis still answers a PING
   * a moment later is it the bus alone, and L1 is set aside (see {@link #updateMode}).
   */
  #confirmBusDown(): void {
    const timer = setTimeout(() => {
      const remote = this.remote;
      if (this.closed || this.busHealthy || remote?.available !== true) return;
      remote.run('ping', undefined, (s) => s.ping()).then(
        (r) => {
          if (r !== UNAVAILABLE) this.#updateMode();
        },
        () => this.#updateMode(), // a reply error: Redis is up
      );
    }, BUS_DOWN_GRACE);
    timer.unref();
  }

  /**
   * A message of another instance. Pattern messages scan all of L1, so their cost is bounded: past
   * a budget of key tests per second, L1 is flushed instead (what a lost message would cause),
   * and the scans that follow find it nearly empty.
   */
  #receive(message: BusMessage): void {
    if (message.type === 'pattern') {
      const now = this.now();
      if (now - this.#patternWindow >= 1_000) {
        this.#patternWindow = now;
        this.#patternCost = 0;
      }
      this.#patternCost += this.l1.size + this.flights.size + this.reads.size;
      if (this.#patternCost > PATTERN_BUDGET) {
        if (this.l1.size !== 0) this.flushL1();
        else this.touchedWhere(() => true);
        return;
      }
    }
    this.dropLocal(message);
  }

  error(event: ErrorEvent): void {
    this.errors++;
    if (event.tier === 'l2') this.l2Errors++;
    else if (event.tier === 'factory') this.factoryErrors++;
    // Our own "connection lost" says less than the reply that caused it (WRONGPASS, ECONNREFUSED).
    if (event.tier === 'l2' && (event.error.name !== 'L2ConnectionError' || this.lastL2Error === undefined)) this.lastL2Error = event.error.message;
    if (this.emitter.has('error')) {
      this.emitter.emit('error', event);
    } else if (!this.#warned) {
      // Misconfiguration must be loud (a wrong password would otherwise run the app on a private
      // memory cache unnoticed): once per cache, as ioredis and bentocache do.
      this.#warned = true;
      process.emitWarning(
        `hoard cache "${this.name}": ${event.tier} ${event.operation} failed: ${event.error.message}. ` +
          'Listen with cache.on(\'error\', ...) to handle these; this warning is shown once per cache.',
        { code: 'HOARD_UNHANDLED_ERROR' },
      );
    }
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

  /** `key` was written or removed: runs and reads in flight must not store, backoff is over. */
  touched(key: string): void {
    this.flights.supersedeKey(key);
    this.reads.supersedeKey(key);
    if (this.backoff.size !== 0) this.backoff.delete(key);
  }

  /** Keys matching `predicate` were removed in bulk. */
  touchedWhere(predicate: (key: string) => boolean): void {
    this.flights.supersedeWhere(predicate);
    this.reads.supersedeWhere(predicate);
    for (const key of this.backoff.keys()) if (predicate(key)) this.backoff.delete(key);
  }

  touchedTags(tags: readonly string[]): void {
    this.flights.supersedeTags(tags);
    this.reads.supersedeTags(tags);
  }

  /** Tells the other instances; a failed publish is an `error` event, never a rejection. */
  publish(message: BusMessage): void {
    const bus = this.bus;
    if (bus === undefined) return;
    if (message.type === 'keys' && message.keys.length > BUS_KEYS_PER_MESSAGE) {
      // Receivers refuse larger messages (bus.ts): a 100k-key deleteMany goes out in parts.
      for (let i = 0; i < message.keys.length; i += BUS_KEYS_PER_MESSAGE) this.publish({ type: 'keys', keys: message.keys.slice(i, i + BUS_KEYS_PER_MESSAGE) });
      return;
    }
    if (message.type === 'tags' && message.tags.length > BUS_KEYS_PER_MESSAGE) {
      for (let i = 0; i < message.tags.length; i += BUS_KEYS_PER_MESSAGE) this.publish({ type: 'tags', tags: message.tags.slice(i, i + BUS_KEYS_PER_MESSAGE) });
      return;
    }
    bus.publish(message).catch((error: unknown) => this.error({ error: toError(error), tier: 'l2', operation: 'publish' }));
  }

  /**
   * A write or invalidation did not reach L2. Once L2 is back, the keys are removed there and the
   * invalidations sent again, so an older value Redis still holds cannot come back after the
   * outage in place of what this instance wrote or removed meanwhile (L1 is flushed then too).
   * Invalidations, not values, are replayed: they are idempotent and never newer than the truth.
   */
  missedInL2(message: BusMessage): void {
    if (message.type === 'keys') {
      for (const key of message.keys) {
        if (this.#missedKeys.size >= MAX_MISSED_KEYS && !this.#missedKeys.has(key)) this.#missedDropped++;
        else this.#missedKeys.add(key);
      }
    } else if (this.#missedOther.length >= MAX_MISSED_OTHER) {
      this.#missedDropped++;
    } else {
      this.#missedOther.push(message);
    }
  }

  /** The keys reached L2 after all: nothing to remove there for them. */
  reachedL2(keys: readonly string[]): void {
    if (this.#missedKeys.size === 0) return;
    for (const key of keys) this.#missedKeys.delete(key);
  }

  #replayMissed(): void {
    const remote = this.remote;
    if (remote === undefined || (this.#missedKeys.size === 0 && this.#missedOther.length === 0 && this.#missedDropped === 0)) return;
    const keys = [...this.#missedKeys];
    const other = this.#missedOther;
    this.#missedKeys.clear();
    this.#missedOther = [];
    if (this.#missedDropped !== 0) {
      this.error({
        error: new Error(`${this.#missedDropped} writes or invalidations made while Redis was away were not remembered; Redis may serve older values for them until their TTL`),
        tier: 'l2',
        operation: 'recover',
      });
      this.#missedDropped = 0;
    }
    const again = (message: BusMessage): void => this.missedInL2(message);
    const messages: BusMessage[] = [...chunksOf(keys).map((part): BusMessage => ({ type: 'keys', keys: [...part] })), ...other];
    void (async () => {
      for (const message of messages) {
        const r = await remote.run('recover', undefined, (s) => applyToStore(s, message)).catch(() => 0);
        if (r === UNAVAILABLE) again(message);
      }
    })();
  }

  /** Empties the memory tier: what it held may have diverged from L2. */
  flushL1(): void {
    this.l1.clear();
    this.touchedWhere(() => true);
    this.backoff.clear();
    this.l1Flushes++;
  }

  /** L2 and the bus are both back: flush L1 once if anything could have been missed meanwhile. */
  #recover(): void {
    this.#updateMode();
    if (this.remote?.available !== true) return;
    if (this.bus !== undefined && !this.bus.healthy) return;
    if (!this.#diverged) return;
    this.#diverged = false;
    this.flushL1();
  }

  /**
   * Drops from memory what `message` invalidates, and keeps runs and reads in flight from storing
   * it back; returns how many live entries memory lost. The facade calls it for its own
   * invalidations and the bus for other instances' (FAULTS.md items 9-10), so both do the same.
   */
  dropLocal(message: BusMessage): number {
    switch (message.type) {
      case 'keys': {
        let removed = 0;
        for (const key of message.keys) {
          this.touched(key);
          if (this.l1.delete(key)) removed++;
        }
        return removed;
      }
      case 'clear': {
        const path = message.path;
        if (path !== '') {
          this.touchedWhere((key) => key.startsWith(path));
          return this.l1.deletePattern(`${escapeGlob(path)}*`);
        }
        const removed = this.l1.size;
        this.l1.clear();
        this.touchedWhere(() => true);
        return removed;
      }
      case 'pattern': {
        const matches = compileGlob(message.pattern);
        this.touchedWhere(matches);
        return this.l1.deletePattern(message.pattern);
      }
      case 'tags':
        this.touchedTags(message.tags);
        return this.l1.invalidateTags(message.tags);
    }
  }

  /**
   * Stops taking calls, waits up to `closeTimeout` for calls to L2 in flight (write-backs
   * included) to settle, then closes the bus and the connections the cache opened. Idempotent:
   * every call returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.closed = true;
      await this.remote?.drain(this.closeTimeout);
      this.remote?.dispose();
      this.l1.close();
      await Promise.allSettled([this.bus?.close(), this.remote?.store.close()]);
    })();
    return this.#closing;
  }
}

function resolveLock(option: CacheOptions['distributedLock']): number | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return LOCK_TTL;
  if (typeof option !== 'object' || option === null) throw new ConfigError('distributedLock', 'expected true, false or { ttl }');
  return option.ttl === undefined ? LOCK_TTL : parseDuration(option.ttl, 'distributedLock.ttl');
}

const LOCK_TTL = 5_000;

interface Tiers {
  l1: SyncStore;
  l2: RemoteStore | undefined;
  tiered: boolean;
}

function resolveTiers(options: CacheOptions): Tiers {
  const memory = (): SyncStore => new MemoryStore({ clock: options.clock });
  if (options.store !== undefined && (options.l1 !== undefined || options.l2 !== undefined)) {
    throw new ConfigError('store', 'give either store, or l1 and l2, not both');
  }
  if (options.l1 !== undefined || options.l2 !== undefined) {
    const l1 = options.l1 === undefined ? memory() : checkStore(options.l1, 'l1');
    if (!l1.capabilities.sync) throw new ConfigError('l1', 'the memory tier must be a synchronous store such as memoryStore()');
    const l2 = options.l2 === undefined ? undefined : checkStore(options.l2, 'l2');
    if (l2 !== undefined && l2.capabilities.sync) throw new ConfigError('l2', 'the shared tier must be a shared store such as redisStore()');
    return { l1: l1 as SyncStore, l2: l2 as RemoteStore | undefined, tiered: true };
  }
  if (options.store === undefined) return { l1: memory(), l2: undefined, tiered: false };
  const store = checkStore(options.store, 'store');
  if (store.capabilities.sync) return { l1: store as SyncStore, l2: undefined, tiered: false };
  return { l1: memory(), l2: store as RemoteStore, tiered: false };
}

function checkStore(store: Store, option: string): Store {
  if (typeof store !== 'object' || store === null || typeof store.get !== 'function' || store.capabilities === undefined) {
    throw new ConfigError(option, 'expected a store such as memoryStore() or redisStore()');
  }
  return store;
}
