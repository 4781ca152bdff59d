import { timerDelay } from '../config/duration.js';

/** Returned by {@link withDeadline} when the deadline passed first. */
export const TIMED_OUT: unique symbol = Symbol('hoard.timedOut');

/**
 * Waits for `promise` at most `ms` milliseconds. Rejections pass through; the timer is cleared
 * as soon as the promise settles, so no timer outlives the wait.
 *
 * The deadline measures the other side, not this process, so a stall here (a long synchronous
 * task, a GC pause) does not count against it:
 * - a deadline is declared missed only after the event loop has read its sockets once more: Node
 *   runs every expired timer before it polls for I/O, so after a stall every pending call would
 *   "time out" although its reply is already waiting in the socket. The timer therefore hands
 *   over to `setImmediate`, which runs after the poll phase;
 * - a timer that fires much later than asked (the loop was blocked, so a request may not even
 *   have left yet: clients write at the end of the tick) is given the full time once more.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  if (ms === Infinity) return promise;
  return new Promise<T | typeof TIMED_OUT>((resolve, reject) => {
    let immediate: NodeJS.Immediate | undefined;
    let timer: NodeJS.Timeout;
    let rearmed = false;
    const arm = (): void => {
      const due = performance.now() + ms;
      timer = setTimeout(() => {
        const late = performance.now() - due;
        if (!rearmed && late > Math.max(STALL_MS, ms / 2)) {
          rearmed = true;
          arm();
          return;
        }
        immediate = setImmediate(resolve, TIMED_OUT);
      }, timerDelay(ms));
    };
    arm();
    const stop = (): void => {
      clearTimeout(timer);
      if (immediate !== undefined) clearImmediate(immediate);
    };
    promise.then(
      (value) => {
        stop();
        resolve(value);
      },
      (error: unknown) => {
        stop();
        reject(error);
      },
    );
  });
}

/** A timer this late means the event loop was blocked, not that the other side was slow. */
const STALL_MS = 20;

/** One call waiting under a {@link DeadlineQueue}. */
export interface Deadline {
  /** performance.now() past which the call has timed out. */
  due: number;
  /** Settled or expired: the queue skips it. Set by whoever settles the call first. */
  done: boolean;
  /** Given the full time once more after a stall (at most once). */
  rearmed: boolean;
  /** Runs at expiry; dropped once the call settles, so a settled call retains nothing. */
  expire: () => void;
}

const nothing = (): void => {};
const SETTLED: Deadline = { due: 0, done: true, rearmed: true, expire: nothing };

/**
 * Deadlines of one fixed length (an `l2Timeout`) for many calls at once. They expire in the order
 * they were set, so one timer, armed for the oldest, serves all of them: a call costs an object in
 * an array instead of a timer of its own. Expiry follows {@link withDeadline}'s rules: declared
 * only after the event loop has read its sockets once more (via `setImmediate`), and a timer that
 * fires much later than asked (a blocked loop) gives the calls it would expire the full time once
 * more. A call that settles marks its deadline `done`; the queue drops it when it reaches it.
 */
export class DeadlineQueue {
  readonly ms: number;
  #items: Deadline[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;

  constructor(ms: number) {
    this.ms = ms;
  }

  /** Starts a deadline; `expire` runs when it passes first. With an infinite length it never does. */
  add(expire: () => void): Deadline {
    const deadline: Deadline = { due: performance.now() + this.ms, done: false, rearmed: false, expire };
    if (this.ms === Infinity) return deadline;
    this.#items.push(deadline);
    if (this.#timer === undefined && this.#immediate === undefined) this.#arm();
    return deadline;
  }

  /**
   * The call settled: its deadline no longer matters. Returns false when it had expired already
   * (the caller was told it timed out). Calls mostly settle in the order they started, so the
   * queue's head is trimmed here, and nothing a settled call referenced stays reachable until the
   * timer next fires.
   */
  settle(deadline: Deadline): boolean {
    if (deadline.done) return false;
    deadline.done = true;
    deadline.expire = nothing;
    const items = this.#items;
    let head = this.#head;
    while (head < items.length && items[head]!.done) items[head++] = SETTLED;
    if (head === items.length) {
      items.length = 0;
      head = 0;
    }
    this.#head = head;
    return true;
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    const items = this.#items;
    while (this.#head < items.length && items[this.#head]!.done) this.#head++;
    if (this.#head === items.length) {
      this.#items = [];
      this.#head = 0;
      return;
    }
    if (this.#head > 1_024 && this.#head > items.length >> 1) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
    const due = this.#items[this.#head]!.due;
    this.#timer = setTimeout(this.#fire, timerDelay(Math.max(0, due - performance.now())));
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    const items = this.#items;
    const head = items[this.#head];
    if (head !== undefined && !head.done && !head.rearmed && now - head.due > Math.max(STALL_MS, this.ms / 2)) {
      // The loop was blocked: the calls due by now may not even have been written yet.
      for (let i = this.#head; i < items.length; i++) {
        const d = items[i]!;
        if (d.due > now) break;
        if (d.done || d.rearmed) continue;
        d.rearmed = true;
        d.due = now + this.ms;
        items[i] = SETTLED;
        items.push(d);
      }
      this.#arm();
      return;
    }
    this.#immediate = setImmediate(this.#expire, now);
  };

  readonly #expire = (until: number): void => {
    // #immediate stays set while expiring, so deadlines added by an expire callback arm nothing yet.
    const items = this.#items;
    while (this.#head < items.length) {
      const d = items[this.#head]!;
      if (!d.done) {
        if (d.due > until) break;
        d.done = true;
        const expire = d.expire;
        d.expire = nothing;
        expire();
      }
      items[this.#head++] = SETTLED;
    }
    this.#immediate = undefined;
    this.#arm();
  };
}
