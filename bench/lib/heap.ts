import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Contestant } from './contestants.js';
import { prefill } from './contestants.js';

/** One heap measurement: a contestant, with or without TTL. */
export interface HeapCase {
  readonly contestant: Contestant;
  readonly ttl: boolean;
}

export interface HeapResult {
  readonly contestant: string;
  readonly ttl: boolean;
  readonly entries: number;
  /** (heapUsed + arrayBuffers after filling − before) / entries. */
  readonly bytesPerEntry: number;
  readonly heapUsedDelta: number;
  readonly arrayBuffersDelta: number;
}

/** TTL used by every "TTL on" run: long enough that nothing expires while measuring. */
export const TTL_ON_MS = 3_600_000;

/** Name of a heap case on the command line: `lru-cache` or `lru-cache+ttl`. */
export function heapCaseName(c: HeapCase): string {
  return c.ttl ? `${c.contestant.id}+ttl` : c.contestant.id;
}

function collect(): void {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:memory does)');
  // Twice: the first pass can leave garbage that only finalizers or weak references release.
  gc();
  gc();
}

function memory(): { heapUsed: number; arrayBuffers: number } {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heapUsed, arrayBuffers };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs inside a `--heap` child: fills one cache with `entries` keys and reports the heap it added.
 * Keys are created before the baseline (the caller owns them; every contestant only references
 * them), the value is one shared object, so the result is the cache's own cost per entry.
 */
export async function measureHeapHere(c: HeapCase, entries: number): Promise<HeapResult> {
  const keys = Array.from({ length: entries }, (_, i) => `key:${i}`);
  const config = { maxEntries: entries, ttl: c.ttl ? TTL_ON_MS : undefined };

  // A throwaway cache loads the library and compiles its code before the baseline is taken.
  const warm = await c.contestant.create({ ...config, maxEntries: 16 });
  await prefill(warm, keys.slice(0, 64));
  await warm.close();

  await settle();
  collect();
  const before = memory();
  const cache = await c.contestant.create(config);
  await prefill(cache, keys);
  await settle();
  collect();
  const after = memory();

  const heapUsedDelta = after.heapUsed - before.heapUsed;
  const arrayBuffersDelta = after.arrayBuffers - before.arrayBuffers;
  const result: HeapResult = {
    contestant: c.contestant.id,
    ttl: c.ttl,
    entries,
    bytesPerEntry: (heapUsedDelta + arrayBuffersDelta) / entries,
    heapUsedDelta,
    arrayBuffersDelta,
  };
  // Keep the cache and the keys reachable until after the measurement.
  await cache.close();
  if (keys.length !== entries) throw new Error('unreachable');
  return result;
}

/**
 * Measures one heap case in a fresh child process (`memory.ts --heap <name>`), so no other
 * contestant's garbage, code or retained state is counted.
 */
export function measureHeapInChild(c: HeapCase, entries: number): Promise<HeapResult> {
  const script = fileURLToPath(new URL('../memory.ts', import.meta.url));
  const root = fileURLToPath(new URL('../..', import.meta.url)); // where `tsx` resolves from
  const args = ['--expose-gc', '--import', 'tsx', script, '--heap', heapCaseName(c), '--entries', String(entries)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`heap child ${heapCaseName(c)} exited with ${String(code)}: ${stderr.trim() || stdout.trim()}`));
        return;
      }
      resolve(JSON.parse(line) as HeapResult);
    });
  });
}
