import assert from 'node:assert/strict';
import { after } from 'node:test';

/**
 * Fails the file when anything rejected unhandled or threw uncaught while it ran (FAULTS.md: every
 * test also asserts zero unhandledRejection / uncaughtException).
 */
export function guardProcess(): void {
  const problems: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    problems.push(reason);
  };
  const onWarning = (warning: Error): void => {
    if (warning.name === 'MaxListenersExceededWarning') problems.push(warning);
  };
  process.on('unhandledRejection', onRejection);
  process.on('warning', onWarning);
  after(async () => {
    await new Promise((resolve) => setImmediate(resolve));
    process.off('unhandledRejection', onRejection);
    process.off('warning', onWarning);
    assert.deepEqual(problems, [], 'no unhandled rejection or listener leak warning');
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
