import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HeapResult } from './heap.js';

/**
 * Runs `<script> --heap <name> --entries <n>` in a fresh Node process (with --expose-gc and tsx)
 * and returns the one JSON line it prints: the heap measurement of one contestant, with no other
 * contestant's garbage, code or state counted. `measureHeapInChild` does the same for memory.ts.
 */
export function measureHeapInScript(script: URL, name: string, entries: number): Promise<HeapResult> {
  const root = fileURLToPath(new URL('../..', import.meta.url)); // where `tsx` resolves from
  const args = ['--expose-gc', '--import', 'tsx', fileURLToPath(script), '--heap', name, '--entries', String(entries)];
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
        reject(new Error(`heap child ${name} exited with ${String(code)}: ${stderr.trim() || stdout.trim()}`));
        return;
      }
      resolve(JSON.parse(line) as HeapResult);
    });
  });
}
