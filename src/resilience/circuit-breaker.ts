import { parseDuration, timerDelay } from '../config/duration.js';
import type { Duration } from '../config/duration.js';
import { ConfigError } from '../errors/config-error.js';

export interface CircuitBreakerOptions {
  /** Consecutive failed L2 calls that open the breaker. @default 5 */
  failureThreshold?: number | undefined;
  /**
   * How long the breaker stays open between probes. While open, no call reaches L2; one probe at
   * a time (a PING) is sent every `breakDuration`, and the first that succeeds closes it.
   * @default '2s'
   */
  breakDuration?: Duration | undefined;
}

export const BREAKER_DEFAULTS = { failureThreshold: 5, breakDuration: 2_000 } as const;

/** Validates breaker options (`ConfigError` naming the option) and fills the defaults. */
export function resolveBreakerOptions(options: CircuitBreakerOptions | undefined): { failureThreshold: number; breakDuration: number } {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new ConfigError('circuitBreaker', 'expected { failureThreshold?, breakDuration? }');
  }
  const threshold = options?.failureThreshold ?? BREAKER_DEFAULTS.failureThreshold;
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw new ConfigError('circuitBreaker.failureThreshold', `expected a whole number >= 1, got ${String(threshold)}`);
  }
  return { failureThreshold: threshold, breakDuration: parseDuration(options?.breakDuration ?? BREAKER_DEFAULTS.breakDuration, 'circuitBreaker.breakDuration') };
}

export interface BreakerHooks {
  probe(): Promise<void>;
  onOpen(): void;
  onClose(): void;
}

/**
 * Closed: calls go through and failures are counted; a success resets the count. Open: calls are
 * refused at once; a timer sends a single probe every `breakDuration`, and its success closes the
 * breaker. The timer is unref'd and holds the breaker weakly, so it never keeps a process alive.
 */
export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly breakDuration: number;
  #open = false;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #probing = false;
  readonly #hooks: BreakerHooks;

  constructor(options: CircuitBreakerOptions | undefined, hooks: BreakerHooks) {
    ({ failureThreshold: this.failureThreshold, breakDuration: this.breakDuration } = resolveBreakerOptions(options));
    this.#hooks = hooks;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  success(): void {
    this.#failures = 0;
  }

  failure(): void {
    if (this.#open) return;
    if (++this.#failures >= this.failureThreshold) this.open();
  }

  open(): void {
    if (this.#open) return;
    this.#open = true;
    this.#hooks.onOpen();
    this.#schedule();
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#failures = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#hooks.onClose();
  }

  /** Probes now instead of at the next `breakDuration` (the connection just came back). */
  probeNow(): void {
    if (!this.#open || this.#probing) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#probe();
  }

  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    const ref = new WeakRef(this);
    this.#timer = setTimeout(() => {
      const breaker = ref.deref();
      if (breaker !== undefined) breaker.#probe();
    }, timerDelay(this.breakDuration));
    this.#timer.unref();
  }

  #probe(): void {
    if (!this.#open || this.#probing) return;
    this.#probing = true;
    this.#hooks.probe().then(
      () => {
        this.#probing = false;
        this.close();
      },
      () => {
        this.#probing = false;
        if (this.#open) this.#schedule();
      },
    );
  }
}
