/** Small helpers every benchmark entry point shares. */
import os from 'node:os';

/** Progress goes to stderr, so stdout holds only the tables. */
export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Seconds since `since` (a performance.now() reading), to one decimal. */
export function seconds(since: number): number {
  return Math.round((performance.now() - since) / 100) / 10;
}

/** A full collection between phases when the process runs with --expose-gc. */
export function collect(): void {
  globalThis.gc?.();
}

/** What a result file records about the machine and the run. */
export function machineMeta(quick: boolean): Record<string, unknown> {
  return {
    date: new Date().toISOString(),
    quick,
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
  };
}
