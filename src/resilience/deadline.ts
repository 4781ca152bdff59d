import { timerDelay } from '../config/duration.js';

/** Returned by {@link withDeadline} when the deadline passed first. */
export const TIMED_OUT: unique symbol = Symbol('hoard.timedOut');

/**
 * Waits for `promise` at most `ms` milliseconds. Rejections pass through; the timer is cleared
 * as soon as the promise settles, so no timer outlives the wait.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  if (ms === Infinity) return promise;
  return new Promise<T | typeof TIMED_OUT>((resolve, reject) => {
    const timer = setTimeout(resolve, timerDelay(ms), TIMED_OUT);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
