import { createHash } from 'node:crypto';
import { InvalidKeyError } from '../errors/invalid-key-error.js';

/**
 * A stable hash of function arguments: equal for structurally equal arguments whatever the order
 * of object keys (`{a:1,b:2}` and `{b:2,a:1}`), different for different shapes (`f(1, 2)` and
 * `f([1, 2])`). Functions, symbols and circular structures cannot be keyed: `InvalidKeyError`.
 *
 * Objects whose state is not in own enumerable keys are keyed by what identifies them, as ohash
 * does: a `URL` by its href, a `RegExp` by source and flags, an `Error` by class, message, fields
 * and cause, an object with `toJSON()` by its JSON form, binary data by its type and bytes. A class
 * instance with none of these and no own enumerable fields (state in `#private` fields, a
 * `WeakMap`, a `Promise`) would hash like every other instance of its class, so one caller could be
 * served another's entry: it is an `InvalidKeyError` too, like class instances in the Redis codec.
 */
export function stableHash(args: readonly unknown[]): string {
  const canonical = encode(args, '$', new Set());
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 22);
}

// The canonical text must be injective: every string in it (values, keys, class names, messages,
// hrefs) goes through JSON.stringify, and each form opens with a marker no other form, and no JSON
// string, starts with, so string contents cannot forge a tag or a separator. JSON.stringify also
// escapes lone surrogates, which would otherwise all become U+FFFD when hashed as UTF-8.
//   "…"  string        T F U N   true, false, undefined, null     12 -0 NaN  number   12n  bigint
//   […]  array         {…}  plain object     D<ms>  Date          B<base64>  Uint8Array / Buffer
//   B"Int8Array"<base64>  other binary data  M{…} S{…}  Map, Set   ~"Kind"(…)  everything else

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
    return encodeObject(object, path, seen);
  } finally {
    seen.delete(object);
  }
}

function encodeObject(object: object, path: string, seen: Set<object>): string {
  if (Array.isArray(object)) return `[${(object as unknown[]).map((v, i) => encode(v, `${path}[${i}]`, seen)).join(',')}]`;
  const proto: unknown = Object.getPrototypeOf(object);
  const plain = proto === Object.prototype || proto === null;
  // Plain objects, the common argument, skip the built-in checks.
  if (!plain) {
    const builtIn = encodeBuiltIn(object, path, seen);
    if (builtIn !== undefined) return builtIn;
  }
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    // Tagged so that a Decimal serialising to "1.5" and the string "1.5" get different keys.
    return tagged('toJSON', JSON.stringify(className(object)), encode(callToJSON(object, toJSON, path), `${path}.toJSON()`, seen));
  }
  if (plain) return encodeFields(object, Object.keys(object), path, seen);
  const keys = Object.keys(object);
  if (keys.length === 0) {
    const name = className(object) || 'an anonymous class';
    throw new InvalidKeyError(
      `${path}: an instance of ${name} has no enumerable state to key by (private fields and internal slots cannot be read), so all its instances would share one key; pass \`key\` to choose the key yourself`,
    );
  }
  return tagged('Instance', JSON.stringify(className(object)), encodeFields(object, keys, path, seen));
}

/** The encoding of a built-in whose state is not in own enumerable keys; undefined for anything else. */
function encodeBuiltIn(object: object, path: string, seen: Set<object>): string | undefined {
  if (object instanceof Date) return `D${object.getTime()}`;
  if (ArrayBuffer.isView(object)) return bytes(typeTag(object), Buffer.from(object.buffer, object.byteOffset, object.byteLength));
  if (object instanceof ArrayBuffer || object instanceof SharedArrayBuffer) return bytes(typeTag(object), Buffer.from(object));
  if (object instanceof Map) {
    const entries = [...object].map(([k, v]) => `${encode(k, `${path}.key`, seen)}=>${encode(v, `${path}.value`, seen)}`);
    return `M{${entries.sort().join(',')}}`;
  }
  if (object instanceof Set) return `S{${[...object].map((v) => encode(v, `${path}.item`, seen)).sort().join(',')}}`;
  if (object instanceof URL) return tagged('URL', JSON.stringify(object.href));
  if (object instanceof URLSearchParams) return tagged('URLSearchParams', JSON.stringify(object.toString()));
  // lastIndex is left out: it is match state, not part of what the pattern is.
  if (object instanceof RegExp) return tagged('RegExp', JSON.stringify(object.source), JSON.stringify(object.flags));
  if (object instanceof Error) return encodeError(object, path, seen);
  const boxed = unbox(object);
  if (boxed !== undefined) return tagged('Boxed', encode(boxed.value, `${path}.valueOf()`, seen));
  return undefined;
}

// Uint8Array (and Buffer, a subclass) keep the untagged form they always had, so their keys do
// not change; every other view names its type, since the same bytes mean different values.
function bytes(type: string, data: Buffer): string {
  return type === 'Uint8Array' ? `B${data.toString('base64')}` : `B${JSON.stringify(type)}${data.toString('base64')}`;
}

function typeTag(object: object): string {
  return Object.prototype.toString.call(object).slice('[object '.length, -1);
}

function encodeError(error: Error, path: string, seen: Set<object>): string {
  // The stack differs at every throw site, so equal errors would never share a key.
  const fields = Object.keys(error).filter((k) => k !== 'stack' && k !== 'cause');
  const parts = [JSON.stringify(className(error)), encode(error.message, `${path}.message`, seen), encodeFields(error, fields, path, seen)];
  // Labelled, so a cause cannot be mistaken for the errors of an AggregateError or the other way round.
  if (Object.hasOwn(error, 'cause')) parts.push(`"cause":${encode(error.cause, `${path}.cause`, seen)}`);
  if (error instanceof AggregateError) parts.push(`"errors":${encode(error.errors, `${path}.errors`, seen)}`);
  return tagged('Error', ...parts);
}

// The prototype's valueOf, so an overriding valueOf cannot change what a boxed value is keyed by.
function unbox(object: object): { value: unknown } | undefined {
  if (object instanceof String) return { value: String.prototype.valueOf.call(object) };
  if (object instanceof Number) return { value: Number.prototype.valueOf.call(object) };
  if (object instanceof Boolean) return { value: Boolean.prototype.valueOf.call(object) };
  if (object instanceof BigInt) return { value: BigInt.prototype.valueOf.call(object) };
  if (object instanceof Symbol) return { value: Symbol.prototype.valueOf.call(object) };
  return undefined;
}

function callToJSON(object: object, toJSON: unknown, path: string): unknown {
  try {
    return (toJSON as (this: object) => unknown).call(object);
  } catch (error) {
    throw new InvalidKeyError(`${path}: toJSON() threw, so the value cannot be keyed; pass \`key\` to choose the key yourself`, { cause: error });
  }
}

function encodeFields(object: object, keys: string[], path: string, seen: Set<object>): string {
  const record = object as Record<string, unknown>;
  return `{${keys.sort().map((k) => `${JSON.stringify(k)}:${encode(record[k], `${path}.${k}`, seen)}`).join(',')}}`;
}

function tagged(kind: string, ...parts: string[]): string {
  return `~${JSON.stringify(kind)}(${parts.join(',')})`;
}

// Read through the prototype: an own field called `constructor` must not choose the tag.
function className(object: object): string {
  const constructor: unknown = (Object.getPrototypeOf(object) as { constructor?: unknown } | null)?.constructor;
  return typeof constructor === 'function' && typeof constructor.name === 'string' ? constructor.name : '';
}
