import { CacheError } from '../errors/cache-error.js';
import { StoreError } from '../errors/store-error.js';
import { toError } from '../errors/to-error.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';
import type { CircuitBreakerOptions } from '../resilience/circuit-breaker.js';
import { DeadlineQueue, TIMED_OUT, withDeadline } from '../resilience/deadline.js';
import type { RemoteStore } from '../stores/store.js';

/**
 * Keys per L2 call of a bulk operation: a 100k-key call goes out in parts, each with its own
 * `l2Timeout`, and no argument list grows large enough to overflow the stack.
 */
export const L2_CHUNK = 1_000;

/** `items` in consecutive parts of at most {@link L2_CHUNK} (the array itself when it fits). */
export function chunksOf<T>(items: readonly T[]): (readonly T[])[] {
  if (items.length <= L2_CHUNK) return [items];
  const parts: (readonly T[])[] = [];
  for (let i = 0; i < items.length; i += L2_CHUNK) parts.push(items.slice(i, i + L2_CHUNK));
  return parts;
}

/** Returned instead of a result when L2 could not answer in time (or is known to be down). */
export const UNAVAILABLE: unique symbol = Symbol('hoard.l2Unavailable');
export type Unavailable = typeof UNAVAILABLE;

export interface RemoteTierHooks {
  error(error: Error, operation: string, key: string | undefined): void;
  /** L2 became unavailable (breaker opened or connection lost). */
  down(error: Error | undefined): void;
  /** L2 is available again. */
  up(): void;
}

/** An L2 call that passed `l2Timeout`. It may still complete on the server. */
export class L2TimeoutError extends Error {
  constructor(operation: string, timeout: number) {
    super(`L2 ${operation} did not answer within l2Timeout (${timeout} ms)`);
    this.name = 'L2TimeoutError';
  }
}

const noop = (): void => {};
const FIRST_FAILED: unique symbol = Symbol('hoard.firstConnectionFailed');
const PROBE_TIMEOUT = 1_000;

/** The connection to L2 dropped. */
export class L2ConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'L2ConnectionError';
  }
}

/**
 * The shared tier as the cache sees it: every call bounded by `l2Timeout` (the wait for a
 * connection included), a circuit breaker in front, and every failure turned into an `error`
 * event and {@link UNAVAILABLE}, so a slow, hung or dead Redis is a miss, never a hang or a throw
 * (FAULTS.md rule 1). While the connection is known to be lost, calls return at once.
 */
export class RemoteTier {
  readonly store: RemoteStore;
  readonly l2Timeout: number;
  readonly #breaker: CircuitBreaker;
  readonly #hooks: RemoteTierHooks;
  /** The connection was ready once and is now lost: fail fast instead of waiting. */
  #lost = false;
  #available = true;
  /** An error was reported since L2 last became available. */
  #reported = false;
  /**
   * Until when (performance.now()) calls may wait for the first connection instead of `l2Timeout`
   * alone; 0 once it is up, failed or its budget is spent. A Redis a few milliseconds away takes
   * several round trips to connect, longer than a call's deadline: without this, the first calls
   * of every process would miss Redis (a `set` that never lands, a `getOrSet` that recomputes).
   */
  #connectBy: number;
  #connectWaiters: (() => void)[] = [];
  /** Settles when the first connection fails; pending forever once it succeeded. */
  readonly #firstFailed: Promise<typeof FIRST_FAILED>;
  #failFirst: (value: typeof FIRST_FAILED) => void = noop;
  #connectTimer: NodeJS.Timeout | undefined;
  /** When a timeout last counted against the breaker (performance.now()). */
  #lastTimeout = -Infinity;
  /** Calls sent to L2 and not settled yet (drained by close()), even those past their deadline. */
  #inFlight = 0;
  #drained: (() => void)[] = [];
  readonly #deadlines: DeadlineQueue;
  readonly #unsubscribe: (() => void)[] = [];

  constructor(store: RemoteStore, l2Timeout: number, breaker: CircuitBreakerOptions | undefined, hooks: RemoteTierHooks, connectTimeout = 0) {
    this.store = store;
    this.l2Timeout = l2Timeout;
    this.#deadlines = new DeadlineQueue(l2Timeout);
    this.#hooks = hooks;
    this.#connectBy = store.ready ? 0 : performance.now() + connectTimeout;
    this.#firstFailed = new Promise((resolve) => {
      this.#failFirst = resolve;
    });
    this.#breaker = new CircuitBreaker(breaker, {
      probe: async () => {
        const ping = store.ping();
        ping.catch(noop);
        const result = await withDeadline(ping, Math.max(l2Timeout, PROBE_TIMEOUT)).catch((error: unknown) => error);
        if (result === undefined) return;
        // The link did not answer: start the next probe on a fresh connection, so commands stuck
        // on a hung or blackholed link cannot hold it up.
        store.reset();
        throw result === TIMED_OUT ? new L2TimeoutError('probe', l2Timeout) : toError(result);
      },
      onOpen: () => this.#update(),
      onClose: () => this.#update(),
    });
    this.#unsubscribe.push(
      store.onStatus((ready) => {
        if (ready) this.#connected();
        if (!ready && !this.#lost && this.#available) {
          hooks.error(new L2ConnectionError('the connection to L2 was lost'), 'connection', undefined);
          this.#reported = true;
        }
        this.#lost = !ready;
        // A fresh connection is the best moment to find out whether Redis answers again.
        if (ready) this.#breaker.probeNow();
        this.#update();
      }),
      store.onError((error) => {
        // The first connection failed outright (refused, bad password): nobody waits for it, and
        // L2 is unavailable from now on, not from whenever the socket reports its close.
        const firstFailed = !store.ready && this.#connectBy !== 0;
        if (firstFailed) {
          this.#connected();
          this.#failFirst(FIRST_FAILED);
        }
        // Connection errors count against the breaker only while no command can be sent.
        if (!store.ready) this.#breaker.failure();
        // One error event per outage: the reconnect attempts that follow would only repeat it.
        if (this.#available || !this.#reported) {
          this.#reported = true;
          hooks.error(error, 'connection', undefined);
        }
        if (firstFailed) {
          this.#lost = true;
          this.#update();
        }
      }),
    );
  }

  /**
   * Resolves once the first connection is up, failed, or its budget (`connectTimeout`) is spent:
   * what `cache.ready()` waits for.
   */
  firstConnection(): Promise<void> {
    if (this.#connectBy === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#connectWaiters.push(resolve);
      if (this.#connectTimer === undefined) {
        this.#connectTimer = setTimeout(() => this.#connected(), Math.max(0, this.#connectBy - performance.now()));
        this.#connectTimer.unref();
      }
    });
  }

  #connected(): void {
    this.#connectBy = 0;
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    const waiters = this.#connectWaiters;
    this.#connectWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Whether L2 is taking calls (breaker closed, connection not known lost). */
  get available(): boolean {
    return this.#available;
  }

  /**
   * Runs `fn` against L2 within `l2Timeout`. Returns its result, or {@link UNAVAILABLE} after
   * reporting why. A call that times out while waiting for a connection is never sent later.
   *
   * Only an outage counts against the circuit breaker: a refused connection, a dead link, a
   * timeout while nothing arrived on the link, or a reply saying the server cannot serve now
   * (LOADING, BUSY, CLUSTERDOWN, ...). A server that answers with an error (OOM, WRONGTYPE,
   * NOPERM) is up: that call alone fails, with a {@link StoreError} after an `error` event. An
   * error hoard raised itself (a `TypeError` for a counter that is not a number) passes through.
   */
  run<T>(operation: string, key: string | undefined, fn: (store: RemoteStore) => Promise<T>): Promise<T | Unavailable> {
    if (!this.#available) return Promise.resolve(UNAVAILABLE);
    const store = this.store;
    if (!store.ready || this.#connectBy !== 0) return this.#runCold(operation, key, fn);
    // The hot path: one promise, no timer of its own (the deadline queue holds one for all calls).
    const activity = store.activity;
    let promise: Promise<T>;
    try {
      promise = fn(store);
    } catch (error) {
      promise = Promise.reject(error);
    }
    this.#inFlight++;
    return new Promise<T | Unavailable>((resolve, reject) => {
      const deadline = this.#deadlines.add(() => resolve(this.#timedOut(operation, key, activity, undefined)));
      promise.then(
        (value) => {
          this.#settled();
          if (!this.#deadlines.settle(deadline)) return;
          this.#breaker.success();
          resolve(value);
        },
        (error: unknown) => {
          this.#settled();
          if (!this.#deadlines.settle(deadline)) return;
          try {
            resolve(this.#failed(error, operation, key));
          } catch (failure) {
            reject(failure);
          }
        },
      );
    });
  }

  /** {@link run} before the first connection is up, or while the connection is down. */
  async #runCold<T>(operation: string, key: string | undefined, fn: (store: RemoteStore) => Promise<T>): Promise<T | Unavailable> {
    const store = this.store;
    const activity = store.activity;
    let promise: Promise<T>;
    let controller: AbortController | undefined;
    if (store.ready) {
      promise = fn(store);
    } else {
      controller = new AbortController();
      promise = store.whenReady(controller.signal).then(() => fn(store));
    }
    this.#inFlight++;
    promise.then(this.#settled, this.#settled);
    // Before the first connection: its remaining budget, then the call's own deadline; a first
    // connection that fails (refused, bad password) ends the wait at once.
    const cold = this.#connectBy !== 0;
    const budget = cold ? Math.max(0, this.#connectBy - performance.now()) + this.l2Timeout : this.l2Timeout;
    try {
      const waiting = withDeadline(promise, budget);
      if (cold) waiting.catch(noop); // the race below may be won by the connection failure
      const result = cold ? await Promise.race([waiting, this.#firstFailed]) : await waiting;
      if (result === FIRST_FAILED) {
        // The connection's own error was reported already; this call simply did not reach L2.
        controller?.abort(new L2ConnectionError('the first connection to L2 failed'));
        return UNAVAILABLE;
      }
      if (result === TIMED_OUT) return this.#timedOut(operation, key, activity, controller);
      this.#breaker.success();
      return result;
    } catch (error) {
      return this.#failed(error, operation, key);
    }
  }

  /**
   * A call passed its deadline. Data kept arriving meanwhile (a large reply, a burst): the link is
   * busy, not dead. Calls that time out together (one burst that held Redis up) count as one
   * failure, not one each; calls in sequence time out at least l2Timeout apart, so each counts.
   */
  #timedOut(operation: string, key: string | undefined, activity: number, controller: AbortController | undefined): Unavailable {
    const error = new L2TimeoutError(operation, this.l2Timeout);
    controller?.abort(error);
    const now = performance.now();
    if (this.store.activity !== activity || now - this.#lastTimeout < this.l2Timeout / 2) {
      this.#hooks.error(error, operation, key);
    } else {
      this.#lastTimeout = now;
      this.#fail(error, operation, key);
    }
    return UNAVAILABLE;
  }

  /** A call failed: an outage is {@link UNAVAILABLE}; a reply error or hoard's own error is thrown. */
  #failed(error: unknown, operation: string, key: string | undefined): Unavailable {
    const kind = classify(error);
    if (kind === 'outage') {
      this.#fail(toError(error), operation, key);
      return UNAVAILABLE;
    }
    this.#breaker.success();
    if (kind === 'own') throw error;
    const failure = new StoreError(operation, key, toError(error));
    this.#hooks.error(failure, operation, key);
    throw failure;
  }

  readonly #settled = (): void => {
    if (--this.#inFlight === 0 && this.#drained.length !== 0) {
      const waiters = this.#drained;
      this.#drained = [];
      for (const resolve of waiters) resolve();
    }
  };

  /**
   * Like {@link run} but nobody waits: for write-backs that must not delay the caller. Never
   * rejects; `after` learns whether L2 took it, was unavailable, or refused it (reported already).
   */
  background(operation: string, key: string | undefined, fn: (store: RemoteStore) => Promise<unknown>, after: (result: 'ok' | 'unavailable' | 'refused') => void): void {
    this.run(operation, key, fn).then(
      (r) => after(r === UNAVAILABLE ? 'unavailable' : 'ok'),
      () => after('refused'),
    );
  }

  /**
   * Waits until every call sent to L2 has settled, at most `ms`: what `close()` drains, so that
   * write-backs in flight reach Redis before the connection goes.
   */
  async drain(ms: number): Promise<void> {
    if (this.#inFlight === 0) return;
    const drained = new Promise<void>((resolve) => this.#drained.push(resolve));
    await withDeadline(drained, ms);
  }

  dispose(): void {
    this.#connected();
    this.#breaker.dispose();
    for (const off of this.#unsubscribe) off();
  }

  #fail(error: Error, operation: string, key: string | undefined): void {
    this.#hooks.error(error, operation, key);
    this.#breaker.failure();
  }

  #update(): void {
    const available = !this.#breaker.isOpen && !this.#lost;
    if (available === this.#available) return;
    this.#available = available;
    if (available) this.#reported = false;
    if (available) this.#hooks.up();
    else this.#hooks.down(undefined);
  }
}

/** Server replies that mean "cannot serve now", not "this call is wrong": they count as an outage. */
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|NOAUTH|WRONGPASS|NOREPLICAS|MISCONF)\b/;

function classify(error: unknown): 'outage' | 'reply' | 'own' {
  if (error instanceof CacheError || error instanceof TypeError || error instanceof RangeError) return 'own';
  if (error instanceof Error && error.name === 'ReplyError') return UNAVAILABLE_REPLIES.test(error.message) ? 'outage' : 'reply';
  return 'outage';
}
