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
