import { SerializationError } from '../errors/serialization-error.js';

/** Turns values into text for a shared store and back. Both tiers rely on it round-tripping exactly. */
export interface Serializer {
  /** Throws `SerializationError` (with the path of the offending part) for what cannot round-trip. */
  encode(value: unknown): string;
  decode(text: string): unknown;
}

/**
 * hoard's codec: JSON, plus tagged forms for what JSON loses — `Date`, `Map`, `Set`, `BigInt`,
 * `Buffer` / typed arrays, `undefined` inside objects and arrays, `NaN`, `±Infinity` and `-0` —
 * so a value read back from Redis has the same type it had in memory (FAULTS.md items 12-14).
 * A tagged form is an object whose only marker key is `~`; user keys starting with `~` are
 * escaped by doubling the `~`. Functions, symbols, circular structures and class instances with
 * methods throw `SerializationError` naming the path (`$.user.callback`), never a silent `{}`.
 * Decoding drops `__proto__` keys, so a value written by another process cannot pollute
 * prototypes (FAULTS.md item 15).
 */
export const codec: Serializer = {
  encode(value: unknown): string {
    return JSON.stringify(needsTags(value, '$', new Set()) ? tag(value) : value);
  },
  decode(text: string): unknown {
    const parsed: unknown = JSON.parse(text);
    // Plain JSON without tags or __proto__ keys needs no second pass.
    if (typeof parsed !== 'object' || parsed === null) return parsed;
    if (!text.includes('"~') && !text.includes('"__proto__"')) return parsed;
    return untag(parsed);
  },
};

const TYPED_ARRAYS = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
} as const;
type TypedArrayName = keyof typeof TYPED_ARRAYS;

/** Validates `value` and tells whether it holds anything plain JSON would lose. */
function needsTags(value: unknown, path: string, seen: Set<object>): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return false;
    case 'number':
      return !Number.isFinite(value) || Object.is(value, -0);
    case 'bigint':
    case 'undefined':
      return true;
    case 'function':
      throw new SerializationError(path, 'a function cannot be stored in a shared cache');
    case 'symbol':
      throw new SerializationError(path, 'a symbol cannot be stored in a shared cache');
    case 'object':
      break;
  }
  if (value === null) return false;
  const object = value;
  if (seen.has(object)) throw new SerializationError(path, 'a circular reference cannot be stored in a shared cache');
  if (object instanceof Date || ArrayBuffer.isView(object)) return true;
  seen.add(object);
  let tags = false;
  if (object instanceof Map) {
    let i = 0;
    for (const [k, v] of object) {
      needsTags(k, `${path}.keys[${i}]`, seen);
      needsTags(v, `${path}.get(${describeKey(k)})`, seen);
      i++;
    }
    tags = true;
  } else if (object instanceof Set) {
    let i = 0;
    for (const v of object) needsTags(v, `${path}.values[${i++}]`, seen);
    tags = true;
  } else if (Array.isArray(object)) {
    const array = object as unknown[];
    for (let i = 0; i < array.length; i++) if (needsTags(array[i], `${path}[${i}]`, seen)) tags = true;
  } else {
    checkPlain(object, path);
    const record = object as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (key.startsWith('~')) tags = true;
      if (needsTags(record[key], `${path}.${key}`, seen)) tags = true;
    }
  }
  seen.delete(object);
  return tags;
}

/** Plain objects and instances of classes without methods are fine; anything else is refused. */
function checkPlain(object: object, path: string): void {
  if (Object.getOwnPropertySymbols(object).length !== 0) {
    throw new SerializationError(path, 'symbol-keyed properties cannot be stored in a shared cache');
  }
  for (let proto: unknown = Object.getPrototypeOf(object); proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor') continue;
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (descriptor !== undefined && (typeof descriptor.value === 'function' || descriptor.get !== undefined)) {
        const cls = (object.constructor as { name?: string } | undefined)?.name ?? 'anonymous class';
        throw new SerializationError(path, `an instance of ${cls} (with method ${name}) cannot be stored in a shared cache; store plain data`);
      }
    }
  }
}

function describeKey(key: unknown): string {
  return typeof key === 'string' ? JSON.stringify(key) : String(key);
}

/** The JSON-safe tagged form of a validated value. */
function tag(value: unknown): unknown {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : { '~': 'n', v: Object.is(value, -0) ? '-0' : String(value) };
    case 'bigint':
      return { '~': 'b', v: value.toString() };
    case 'undefined':
      return { '~': 'u' };
    case 'object':
      break;
    default:
      return value;
  }
  if (value === null) return null;
  if (value instanceof Date) return { '~': 'D', v: value.getTime() };
  if (Buffer.isBuffer(value)) return { '~': 'B', v: value.toString('base64') };
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor.name as TypedArrayName;
    if (!(name in TYPED_ARRAYS)) return { '~': 'B', v: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
    return { '~': 'T', c: name, v: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (value instanceof Map) return { '~': 'M', v: [...value].map(([k, v]) => [tag(k), tag(v)]) };
  if (value instanceof Set) return { '~': 'S', v: [...value].map(tag) };
  if (Array.isArray(value)) return (value as unknown[]).map(tag);
  const out: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    Object.defineProperty(out, key.startsWith('~') ? `~${key}` : key, { value: tag(record[key]), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Rebuilds tagged forms, unescapes `~~` keys and drops `__proto__` keys. */
function untag(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return (value as unknown[]).map(untag);
  const record = value as Record<string, unknown>;
  const marker = Object.hasOwn(record, '~') ? record['~'] : undefined;
  if (typeof marker === 'string') return fromTag(marker, record);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record)) {
    if (key === '__proto__') continue;
    out[key.startsWith('~~') ? key.slice(1) : key] = untag(record[key]);
  }
  return out;
}

function fromTag(marker: string, record: Record<string, unknown>): unknown {
  const v = record.v;
  switch (marker) {
    case 'n':
      return v === '-0' ? -0 : Number(v);
    case 'b':
      return BigInt(v as string);
    case 'u':
      return undefined;
    case 'D':
      return new Date(v === null ? Number.NaN : (v as number));
    case 'B':
      return Buffer.from(v as string, 'base64');
    case 'T': {
      const ctor = TYPED_ARRAYS[record.c as TypedArrayName];
      if (ctor === undefined) throw new TypeError(`unknown typed array ${String(record.c)}`);
      const bytes = Buffer.from(v as string, 'base64');
      const copy = new Uint8Array(bytes).buffer;
      return new ctor(copy, 0, copy.byteLength / ctor.BYTES_PER_ELEMENT);
    }
    case 'M':
      return new Map((v as [unknown, unknown][]).map(([k, val]) => [untag(k), untag(val)]));
    case 'S':
      return new Set((v as unknown[]).map(untag));
    default:
      throw new TypeError(`unknown tag ${marker}`);
  }
}
