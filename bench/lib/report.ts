import type { Contestant } from './contestants.js';
import { BASELINE } from './contestants.js';
import type { HeapResult } from './heap.js';
import type { Operation, Timing } from './throughput.js';
import { OPERATIONS, OPERATION_TITLES } from './throughput.js';

/** One timed cell: a contestant doing one operation on one cache size and TTL mode. */
export interface ThroughputResult {
  readonly size: number;
  readonly ttl: boolean;
  readonly operation: Operation;
  readonly contestant: string;
  /** Median over the rounds of each round's median ops/s; absent when it failed. */
  readonly opsPerSec?: number;
  readonly rounds?: readonly Timing[];
  readonly error?: string;
}

export interface HeapCell {
  readonly contestant: string;
  readonly ttl: boolean;
  readonly result?: HeapResult;
  readonly error?: string;
}

export interface Target {
  readonly name: string;
  readonly column: string;
  /** Measured ratio; undefined when a number it needs is missing. */
  readonly actual: number | undefined;
  readonly need: number;
  /** `min`: actual must be ≥ need; `max`: actual must be ≤ need. */
  readonly bound: 'min' | 'max';
  readonly pass: boolean;
}

export function sizeLabel(size: number): string {
  if (size >= 1_000_000 && size % 1_000_000 === 0) return `${size / 1_000_000}M`;
  if (size >= 1_000 && size % 1_000 === 0) return `${size / 1_000}k`;
  return String(size);
}

export function ttlLabel(ttl: boolean): string {
  return ttl ? 'TTL on' : 'TTL off';
}

export function formatOps(ops: number): string {
  if (ops >= 1e6) return `${(ops / 1e6).toFixed(2)}M`;
  if (ops >= 1e3) return `${(ops / 1e3).toFixed(1)}k`;
  return ops.toFixed(0);
}

function formatRatio(ratio: number | undefined): string {
  return ratio === undefined ? '–' : `${ratio.toFixed(2)}×`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[], right: number): string {
  const align = header.map((_, i) => (i < right ? '---' : '--:'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function opsOf(results: readonly ThroughputResult[], contestant: string, size: number, ttl: boolean, op: Operation): number | undefined {
  return results.find((r) => r.contestant === contestant && r.size === size && r.ttl === ttl && r.operation === op)
    ?.opsPerSec;
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

function bytesOf(heap: readonly HeapCell[], contestant: string, ttl: boolean): number | undefined {
  return heap.find((h) => h.contestant === contestant && h.ttl === ttl)?.result?.bytesPerEntry;
}

/** One table per cache size × TTL mode: every operation's median ops/s and its ratio to lru-cache. */
export function throughputTables(
  results: readonly ThroughputResult[],
  contestants: readonly Contestant[],
  sizes: readonly number[],
): string {
  const out: string[] = [];
  for (const size of sizes) {
    for (const ttl of [false, true]) {
      const header = ['contestant', ...OPERATIONS.flatMap((op) => [`${OPERATION_TITLES[op]} ops/s`, `× ${BASELINE}`])];
      const rows = contestants.map((c) => {
        const name = !ttl && c.alwaysTtl !== undefined ? `${c.label} ¹` : c.label;
        const cells = OPERATIONS.flatMap((op) => {
          const cell = results.find((r) => r.contestant === c.id && r.size === size && r.ttl === ttl && r.operation === op);
          if (cell?.opsPerSec === undefined) return [cell?.error === undefined ? '–' : 'error', '–'];
          const base = opsOf(results, BASELINE, size, ttl, op);
          return [formatOps(cell.opsPerSec), formatRatio(ratio(cell.opsPerSec, base))];
        });
        return [name, ...cells];
      });
      out.push(`### ${sizeLabel(size)} entries, ${ttlLabel(ttl)} — median ops/s`, '', table(header, rows, 1), '');
    }
  }
  const always = contestants.filter((c) => c.alwaysTtl !== undefined);
  for (const c of always) out.push(`¹ ${c.label} always has a TTL: its TTL-off rows run with its default (${c.alwaysTtl ?? ''}).`);
  return out.join('\n');
}

/** Bytes per entry with and without TTL, each with its ratio to lru-cache in the same mode. */
export function heapTable(heap: readonly HeapCell[], contestants: readonly Contestant[], entries: number): string {
  const cell = (id: string, ttl: boolean): [string, string] => {
    const found = heap.find((h) => h.contestant === id && h.ttl === ttl);
    if (found === undefined) return ['–', '–'];
    if (found.result === undefined) return ['error', '–'];
    const bytes = found.result.bytesPerEntry;
    return [bytes.toFixed(1), formatRatio(ratio(bytes, bytesOf(heap, BASELINE, ttl)))];
  };
  const rows = contestants.map((c) => [c.label, ...cell(c.id, false), ...cell(c.id, true)]);
  const header = ['contestant', 'TTL off B/entry', `× ${BASELINE}`, 'TTL on B/entry', `× ${BASELINE}`];
  return [`### Heap bytes per entry at ${sizeLabel(entries)} entries`, '', table(header, rows, 1)].join('\n');
}

/** The performance targets hoard sets itself against the other libraries. */
export function evaluateTargets(
  results: readonly ThroughputResult[],
  heap: readonly HeapCell[],
  sizes: readonly number[],
): Target[] {
  const targets: Target[] = [];
  const check = (name: string, column: string, actual: number | undefined, need: number, bound: 'min' | 'max'): void => {
    const pass = actual !== undefined && (bound === 'min' ? actual >= need : actual <= need);
    targets.push({ name, column, actual, need, bound, pass });
  };
  for (const size of sizes) {
    for (const ttl of [false, true]) {
      const where = `${sizeLabel(size)}, ${ttlLabel(ttl)}`;
      for (const op of OPERATIONS) {
        const need = op === 'get-hit' || op === 'set-overwrite' ? 1.0 : 0.95;
        const actual = ratio(opsOf(results, 'hoard-store', size, ttl, op), opsOf(results, BASELINE, size, ttl, op));
        check(`hoard store ÷ lru-cache`, `${OPERATION_TITLES[op]}, ${where}`, actual, need, 'min');
      }
      const facade = opsOf(results, 'hoard-facade', size, ttl, 'get-hit');
      check('hoard facade ÷ bentocache', `get (hit), ${where}`, ratio(facade, opsOf(results, 'bentocache', size, ttl, 'get-hit')), 10, 'min');
    }
  }
  check(
    'hoard facade ÷ lru-cache bytes/entry',
    'heap, TTL on',
    ratio(bytesOf(heap, 'hoard-facade', true), bytesOf(heap, BASELINE, true)),
    1.2,
    'max',
  );
  return targets;
}

export function targetsTable(targets: readonly Target[]): string {
  const rows = targets.map((t) => [
    t.name,
    t.column,
    formatRatio(t.actual),
    `${t.bound === 'min' ? '≥' : '≤'} ${t.need.toFixed(2)}×`,
    t.pass ? 'PASS' : 'FAIL',
  ]);
  const passed = targets.filter((t) => t.pass).length;
  return [
    `### Targets (${passed}/${targets.length} pass)`,
    '',
    table(['target', 'column', 'actual', 'need', 'result'], rows, 2),
  ].join('\n');
}
