/** A source of time in milliseconds. Inject a fake one in tests instead of sleeping. */
export interface Clock {
  now(): number;
}

let now = 0;
const forget = (): void => {
  now = 0;
};

/**
 * Monotonic milliseconds, read from the OS at most once per millisecond: the value is kept until
 * an unref'd 1 ms timer clears it, so a burst of cache calls pays for one clock read.
 */
export function cachedNow(): number {
  if (now !== 0) return now;
  now = performance.now();
  setTimeout(forget, 1).unref();
  return now;
}
