/**
 * How an entry is laid out in Redis: a small header, then the codec's text.
 *
 *   \x01 <freshUntil> \x1e <stamp> \x1e \x1f tag \x1f \x1f tag \x1f ... \x1e <payload>
 *
 * - `freshUntil`: epoch ms past which the value is stale (the rest of Redis' own TTL is grace);
 *   empty for no logical expiry.
 * - `stamp`: on tagged entries only, the Redis server time (µs) as of which the value was true: the
 *   start of the `getOrSet` run that produced it, or the moment of a plain `set`. A tag
 *   invalidated at or after the stamp makes the entry invalid (lazy tag invalidation, see
 *   redis-store.ts). Written by the server itself (scripts.ts `WRITE_TAGGED`), so writer clocks
 *   never matter.
 * - the tags the entry was written with.
 *
 * Lua scripts read the header without decoding the payload. A value without the leading \x01 was
 * not written by hoard and reads as a miss.
 */
export const MAGIC = '\x01';
export const FIELD = '\x1e';
export const TAG = '\x1f';

/** The header up to (and including) the separator before the stamp. */
export function headPart(freshUntil: number | undefined): string {
  return freshUntil === undefined ? MAGIC + FIELD : MAGIC + String(freshUntil) + FIELD;
}

/** Everything after the stamp: tags, separator, payload. */
export function tailPart(tags: readonly string[] | undefined, payload: string): string {
  let out = FIELD;
  if (tags !== undefined) for (const tag of tags) out += TAG + tag + TAG;
  return out + FIELD + payload;
}

/** An untagged entry (no stamp). */
export function encodeEntry(payload: string, freshUntil: number | undefined): string {
  return headPart(freshUntil) + FIELD + FIELD + payload;
}

export interface DecodedHeader {
  /** Epoch ms past which the value is stale (grace); undefined: no logical expiry. */
  freshUntil: number | undefined;
  /** Server µs as of which a tagged value was true; undefined on untagged entries. */
  stamp: number | undefined;
  /** Tags the entry was written with. */
  tags: string[] | undefined;
}

export interface DecodedEntry extends DecodedHeader {
  payload: string;
}

/** Splits an entry (or a header ending with its last separator); undefined when it is not a hoard entry. */
export function decodeEntry(text: string): DecodedEntry | undefined {
  if (!text.startsWith(MAGIC)) return undefined;
  const end1 = text.indexOf(FIELD, 1);
  if (end1 === -1) return undefined;
  const end2 = text.indexOf(FIELD, end1 + 1);
  if (end2 === -1) return undefined;
  const end3 = text.indexOf(FIELD, end2 + 1);
  if (end3 === -1) return undefined;
  const fresh = text.slice(1, end1);
  const freshUntil = fresh === '' ? undefined : Number(fresh);
  if (freshUntil !== undefined && !Number.isFinite(freshUntil)) return undefined;
  const rawStamp = text.slice(end1 + 1, end2);
  const stamp = rawStamp === '' ? undefined : Number(rawStamp);
  if (stamp !== undefined && !Number.isFinite(stamp)) return undefined;
  const segment = text.slice(end2 + 1, end3);
  const tags = segment === '' ? undefined : segment.slice(1, -1).split(TAG + TAG);
  return { payload: text.slice(end3 + 1), freshUntil, stamp, tags };
}
