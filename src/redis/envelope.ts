/**
 * How an entry is laid out in Redis: a small header, then the codec's text.
 *
 *   \x01 <freshUntil epoch ms, empty for none> \x1e \x1f tag \x1f \x1f tag \x1f ... \x1e <payload>
 *
 * The header keeps what Redis' own TTL cannot: the logical expiry inside the physical one (the
 * rest is grace), and the tags the entry was written with, so tag invalidation removes a key only
 * if its current value still carries the tag. Lua scripts read the header without decoding the
 * payload. A value without the leading \x01 was not written by hoard and reads as a miss.
 */
export const MAGIC = '\x01';
export const FIELD = '\x1e';
export const TAG = '\x1f';

export function encodeEntry(payload: string, freshUntil: number | undefined, tags: readonly string[] | undefined): string {
  let header = MAGIC;
  if (freshUntil !== undefined) header += String(freshUntil);
  header += FIELD;
  if (tags !== undefined) for (const tag of tags) header += TAG + tag + TAG;
  return header + FIELD + payload;
}

export interface DecodedEntry {
  payload: string;
  /** Epoch ms past which the value is stale (grace); undefined: no logical expiry. */
  freshUntil: number | undefined;
  /** Tags the entry was written with. */
  tags: string[] | undefined;
}

/** Splits an entry; undefined when the text is not a hoard entry. */
export function decodeEntry(text: string): DecodedEntry | undefined {
  if (!text.startsWith(MAGIC)) return undefined;
  const end1 = text.indexOf(FIELD, 1);
  if (end1 === -1) return undefined;
  const end2 = text.indexOf(FIELD, end1 + 1);
  if (end2 === -1) return undefined;
  const fresh = text.slice(1, end1);
  const freshUntil = fresh === '' ? undefined : Number(fresh);
  if (freshUntil !== undefined && !Number.isFinite(freshUntil)) return undefined;
  const segment = text.slice(end1 + 1, end2);
  const tags = segment === '' ? undefined : segment.slice(1, -1).split(TAG + TAG);
  return { payload: text.slice(end2 + 1), freshUntil, tags };
}

/** Tags may not contain the separators of the header. */
export function isSafeTag(tag: string): boolean {
  return !tag.includes(FIELD) && !tag.includes(TAG);
}
