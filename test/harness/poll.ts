/** Polling for eventually-consistent assertions ("B sees v2 within 50 ms", FAULTS.md N1). */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  timeoutMs: number;
  /** Default 5 ms, the propagation resolution FAULTS.md asks for. */
  intervalMs?: number;
  /** Named in the timeout error so a failing test says what never happened. */
  description?: string;
}

export class PollTimeoutError extends Error {
  override name = 'PollTimeoutError';
  readonly code = 'ETIMEDOUT';
}

/**
 * Calls `condition` until it returns true and resolves with the elapsed ms at that moment, so tests
 * can both wait and assert the bound (`assert.ok(ms <= 50 + slack)`). Rejects with PollTimeoutError
 * once `timeoutMs` passed with the condition still false. A throwing condition fails at once: an
 * RPC error is a bug to see, not something to poll through.
 */
export async function pollUntil(condition: () => boolean | Promise<boolean>, options: PollOptions): Promise<number> {
  const { timeoutMs, intervalMs = 5, description = 'condition' } = options;
  const start = performance.now();
  for (;;) {
    if (await condition()) return performance.now() - start;
    const elapsed = performance.now() - start;
    if (elapsed >= timeoutMs) {
      throw new PollTimeoutError(`${description} still false after ${Math.round(elapsed)} ms (timeout ${timeoutMs} ms)`);
    }
    await sleep(Math.min(intervalMs, Math.max(0, timeoutMs - elapsed)));
  }
}
