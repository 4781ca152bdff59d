import { createHash } from 'node:crypto';
import { InvalidKeyError } from '../errors/invalid-key-error.js';

/**
 * A stable hash of function arguments: equal for structurally equal arguments whatever the order
 * of object keys (`{a:1,b:2}` and `{b:2,a:1}`), different for different shapes (`f(1, 2)` and
 * `f([1, 2])`). Functions, symbols and circular structures cannot be keyed: `InvalidKeyError`.
 */
export function stableHash(args: readonly unknown[]): string {
  const canonical = encode(args, '$', new Set());
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 22);
}

function encode(value: unknown, path: string, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'boolean':
      return value ? 'T' : 'F';
    case 'undefined':
      return 'U';
    case 'bigint':
      return `${value}n`;
    case 'function':
    case 'symbol':
      throw new InvalidKeyError(`${path}: a ${typeof value} cannot be part of a cache key; pass \`key\` to choose the key yourself`);
    case 'object':
      break;
  }
  if (value === null) return 'N';
  const object = value;
  if (seen.has(object)) throw new InvalidKeyError(`${path}: a circular structure cannot be part of a cache key; pass \`key\``);
  seen.add(object);
  try {
    if (Array.isArray(object)) return `[${(object as unknown[]).map((v, i) => encode(v, `${path}[${i}]`, seen)).join(',')}]`;
    if (object instanceof Date) return `D${object.getTime()}`;
    if (ArrayBuffer.isView(object)) return `B${Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64')}`;
    if (object instanceof Map) {
      const entries = [...object].map(([k, v]) => `${encode(k, `${path}.key`, seen)}=>${encode(v, `${path}.value`, seen)}`);
      return `M{${entries.sort().join(',')}}`;
    }
    if (object instanceof Set) return `S{${[...object].map((v) => encode(v, `${path}.item`, seen)).sort().join(',')}}`;
    const proto: unknown = Object.getPrototypeOf(object);
    const tag = proto === Object.prototype || proto === null ? '' : ((object.constructor as { name?: string } | undefined)?.name ?? '?');
    const keys = Object.keys(object).sort();
    const record = object as Record<string, unknown>;
    return `${tag}{${keys.map((k) => `${JSON.stringify(k)}:${encode(record[k], `${path}.${k}`, seen)}`).join(',')}}`;
  } finally {
    seen.delete(object);
  }
}
