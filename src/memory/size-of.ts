const ENTRY_OVERHEAD = 48; // slot arrays, map entry and list links
const OBJECT_OVERHEAD = 24;
const MAX_NODES = 2_000; // past this many nodes the walk extrapolates instead of visiting all

/**
 * A cheap estimate of the heap bytes an entry holds: strings at 2 bytes a character, binary data
 * by length, objects walked up to a bounded number of nodes. Good enough to bound memory; pass
 * `sizeOf` for exact accounting.
 */
export function estimateSize(value: unknown, key: string): number {
  return ENTRY_OVERHEAD + 2 * key.length + sizeOfValue(value, { nodes: 0 }, new Set());
}

function sizeOfValue(value: unknown, budget: { nodes: number }, seen: Set<object>): number {
  switch (typeof value) {
    case 'string':
      return 16 + 2 * value.length;
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'symbol':
      return 8;
    case 'bigint':
      return 16 + Math.ceil(value.toString(16).length / 2);
    case 'function':
      return 64;
    case 'object':
      break;
  }
  if (value === null) return 8;
  const object = value;
  if (ArrayBuffer.isView(object)) return OBJECT_OVERHEAD + object.byteLength;
  if (object instanceof ArrayBuffer) return OBJECT_OVERHEAD + object.byteLength;
  if (seen.has(object) || ++budget.nodes > MAX_NODES) return 8;
  seen.add(object);
  let bytes = OBJECT_OVERHEAD;
  if (object instanceof Map) {
    for (const [k, v] of object) bytes += 16 + sizeOfValue(k, budget, seen) + sizeOfValue(v, budget, seen);
  } else if (object instanceof Set) {
    for (const v of object) bytes += 8 + sizeOfValue(v, budget, seen);
  } else if (Array.isArray(object)) {
    for (const v of object as unknown[]) bytes += 8 + sizeOfValue(v, budget, seen);
  } else if (object instanceof Date) {
    bytes += 8;
  } else {
    for (const k of Object.keys(object)) {
      bytes += 8 + 2 * k.length + sizeOfValue((object as Record<string, unknown>)[k], budget, seen);
    }
  }
  return bytes;
}
