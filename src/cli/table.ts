import Table from 'cli-table3';
import type { Colors } from './output.js';

const PLAIN = { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' };

/** Label / value rows, aligned, without borders: `hit rate   93.1%`. */
export function fields(rows: readonly (readonly [string, string])[], c: Colors): string {
  const table = new Table({ chars: PLAIN, style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [] } });
  for (const [label, value] of rows) table.push([c.dim(label), value]);
  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

/** A table with a header row; numeric columns (`right`) aligned right. */
export function grid(head: readonly string[], rows: readonly (readonly string[])[], c: Colors, right: readonly number[] = []): string {
  const table = new Table({
    head: head.map((h) => c.bold(h)),
    colAligns: head.map((_h, i) => (right.includes(i) ? 'right' : 'left')),
    style: { head: [], border: [], compact: true },
  });
  for (const row of rows) table.push([...row]);
  return table.toString();
}
