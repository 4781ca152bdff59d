/** Text forms of figures for human output, and JSON-safe forms of cached values. */

/** `1,234,567`. */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A duration in ms as people read it: `850 ms`, `12.5 s`, `4m 59s`, `2h 5m`, `3d 4h`; `Infinity`: `no expiry`. */
export function duration(ms: number): string {
  if (ms === Infinity) return 'no expiry';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${trim(ms / 1_000)} s`;
  const s = Math.floor(ms / 1_000);
  if (s < 3_600) return pair(Math.floor(s / 60), 'm', s % 60, 's');
  if (s < 86_400) return pair(Math.floor(s / 3_600), 'h', Math.floor((s % 3_600) / 60), 'm');
  return pair(Math.floor(s / 86_400), 'd', Math.floor((s % 86_400) / 3_600), 'h');
}

function pair(a: number, unitA: string, b: number, unitB: string): string {
  return b === 0 ? `${a}${unitA}` : `${a}${unitA} ${b}${unitB}`;
}

/** A latency in ms with sub-millisecond precision: `0.21 ms`, `12.4 ms`. */
export function latency(ms: number): string {
  if (Number.isInteger(ms)) return `${ms} ms`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1).replace(/\.0$/, '')} ms`;
  return `${Math.round(ms)} ms`;
}

/** `512 B`, `1.5 KB`, `64 MB` (powers of 1024, as Redis' INFO `_human` fields). */
export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${trim(value)} ${units[unit]}`;
}

/** `93.1%`. */
export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}

function trim(n: number): string {
  return n >= 100 ? String(Math.round(n)) : n.toFixed(1).replace(/\.0$/, '');
}

/**
 * A cached value as JSON can carry it, in the admin API's notation: `BigInt` as `"12n"`, `Map`
 * as `{ "[Map]": [[k, v], ...] }`, `Set` as `{ "[Set]": [...] }`, bytes as `{ "[bytes]": base64 }`,
 * `Date` as its ISO string, `undefined` inside objects dropped, `NaN` and `Infinity` as strings.
 */
export function jsonSafe(value: unknown, seen = new WeakSet<object>()): unknown {
  switch (typeof value) {
    case 'bigint':
      return `${value}n`;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'function':
    case 'symbol':
      return `[${typeof value}]`;
    case 'object': {
      if (value === null) return null;
      if (seen.has(value)) return '[circular]';
      seen.add(value);
      try {
        if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
        if (value instanceof Uint8Array) return { '[bytes]': Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
        if (value instanceof Map) return { '[Map]': [...(value as Map<unknown, unknown>)].map(([k, v]) => [jsonSafe(k, seen), jsonSafe(v, seen)]) };
        if (value instanceof Set) return { '[Set]': [...(value as Set<unknown>)].map((v) => jsonSafe(v, seen)) };
        if (Array.isArray(value)) return value.map((v: unknown) => (v === undefined ? null : jsonSafe(v, seen)));
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = jsonSafe(v, seen);
        return out;
      } finally {
        seen.delete(value);
      }
    }
    default:
      return value;
  }
}
