import { InvalidKeyError } from '../errors/invalid-key-error.js';

/**
 * Redis-style glob matching, byte for byte as Redis' `stringmatchlen` (src/util.c, case
 * sensitive) does it on the UTF-8 encoding of pattern and key: `*` any run of bytes, `?` one byte,
 * `[abc]`, `[a-z]`, `[^a]` one byte out of a set, `\` escaping the next byte. The whole key must
 * match. Matching bytes rather than characters is deliberate: the memory store must remove exactly
 * the keys a Redis `SCAN MATCH` with the same pattern finds, so `?` does not match `é` (2 bytes).
 */

/** Longest pattern accepted by `checkGlob`, in UTF-8 bytes. */
const MAX_GLOB_BYTES = 4096;

/** Deeper `*` nesting than this makes Redis answer "no match" instead of recursing further. */
const MAX_NESTING = 1000;

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const BACKSLASH = 0x5c;

/** UTF-16 char codes of an all-ASCII string (they equal its UTF-8 bytes), or the bytes themselves. */
type Units = string | Uint8Array;

/**
 * Unit `i` of `u`, or 0 past `end`: Redis reads its NUL-terminated patterns past their length in a
 * few places and sees the terminator there.
 */
function at(u: Units, i: number, end: number): number {
  if (i >= end) return 0;
  return typeof u === 'string' ? u.charCodeAt(i) : u[i]!;
}

/** Range bounds compare as C `char`, which is signed on x86: bytes >= 0x80 sort below ASCII. */
function signed(byte: number): number {
  return (byte << 24) >> 24;
}

/**
 * Set by a `*` that found no match for the rest of the pattern anywhere in the rest of the key:
 * then no earlier `*` can succeed by eating more, so every pending `*` gives up at once. This is
 * what keeps `a*a*a*...b` polynomial. One flag per top-level match, reset by `matchUnits`; the
 * matcher never calls out, so it cannot be re-entered while in use.
 */
let skipLongerMatches = false;

function matchUnits(p: Units, pLen: number, s: Units, sLen: number): boolean {
  skipLongerMatches = false;
  return matchFrom(p, 0, pLen, s, 0, sLen, 0);
}

function matchFrom(p: Units, pi: number, pEnd: number, s: Units, si: number, sEnd: number, nesting: number): boolean {
  if (nesting > MAX_NESTING) return false;
  while (pi < pEnd && si < sEnd) {
    const pc = at(p, pi, pEnd);
    const sc = at(s, si, sEnd);
    if (pc === STAR) {
      while (pi < pEnd && at(p, pi + 1, pEnd) === STAR) pi++;
      if (pEnd - pi === 1) return true;
      for (; si < sEnd; si++) {
        if (matchFrom(p, pi + 1, pEnd, s, si, sEnd, nesting + 1)) return true;
        if (skipLongerMatches) return false;
      }
      skipLongerMatches = true;
      return false;
    } else if (pc === QUESTION) {
      si++;
    } else if (pc === OPEN) {
      pi++;
      const negate = at(p, pi, pEnd) === CARET;
      if (negate) pi++;
      let matched = false;
      for (;;) {
        const c = at(p, pi, pEnd);
        const left = pEnd - pi;
        if (c === BACKSLASH && left >= 2) {
          pi++;
          if (at(p, pi, pEnd) === sc) matched = true;
        } else if (c === CLOSE) {
          // Tested before anything else, so `[]` is an empty class and `[]]` is `[]` then `]`.
          break;
        } else if (left === 0) {
          // Unterminated class: it ends with the pattern, and the outer step moves past the end.
          pi--;
          break;
        } else if (left >= 3 && at(p, pi + 1, pEnd) === DASH) {
          let start = signed(c);
          let end = signed(at(p, pi + 2, pEnd));
          if (start > end) [start, end] = [end, start];
          const v = signed(sc);
          pi += 2;
          if (v >= start && v <= end) matched = true;
        } else if (c === sc) {
          matched = true;
        }
        pi++;
      }
      if (negate) matched = !matched;
      if (!matched) return false;
      si++;
    } else {
      // A trailing lone `\` has nothing to escape and matches itself.
      if (pc === BACKSLASH && pEnd - pi >= 2) pi++;
      if (at(p, pi, pEnd) !== sc) return false;
      si++;
    }
    pi++;
    if (si === sEnd) {
      while (at(p, pi, pEnd) === STAR) pi++;
      break;
    }
  }
  return pi === pEnd && si === sEnd;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Compiles a Redis glob into a predicate over keys with exactly the answers Redis' `SCAN`/`KEYS`
 * `MATCH` give. Bytes, not characters, are matched (see the module comment). Never throws: check
 * untrusted patterns with `checkGlob` first, since a lone surrogate is encoded as U+FFFD here.
 */
export function compileGlob(pattern: string): (key: string) => boolean {
  // SCAN and KEYS skip matching for the exact pattern `*`, so it also returns the empty key,
  // which `stringmatchlen` itself rejects (as it does for `**`).
  if (pattern === '*') return () => true;
  const pLen = pattern.length;
  if (isAscii(pattern)) {
    // ASCII char codes are their own UTF-8 bytes, so the pattern string serves for either key form.
    return (key) => (isAscii(key) ? matchUnits(pattern, pLen, key, key.length) : matchKeyBytes(pattern, pLen, key));
  }
  const bytes = Buffer.from(pattern, 'utf8');
  return (key) => matchKeyBytes(bytes, bytes.length, key);
}

function matchKeyBytes(p: Units, pLen: number, key: string): boolean {
  const bytes = Buffer.from(key, 'utf8');
  return matchUnits(p, pLen, bytes, bytes.length);
}

/**
 * Throws unless `pattern` is a glob hoard accepts: a `TypeError` when it is not a non-empty
 * string, an `InvalidKeyError` when it holds a lone surrogate (UTF-8 would turn it into U+FFFD and
 * match other keys than written) or exceeds `MAX_GLOB_BYTES` in UTF-8.
 */
export function checkGlob(pattern: unknown, operation: string): asserts pattern is string {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new TypeError(`${operation}: expected a non-empty glob string`);
  }
  if (!pattern.isWellFormed()) {
    throw new InvalidKeyError(`${operation}: the glob contains a lone surrogate (not well-formed UTF-16)`);
  }
  const bytes = Buffer.byteLength(pattern, 'utf8');
  if (bytes > MAX_GLOB_BYTES) {
    throw new InvalidKeyError(`${operation}: the glob is ${bytes} UTF-8 bytes long, more than the ${MAX_GLOB_BYTES} allowed`);
  }
}

/** Escapes glob characters so that `text` matches only itself, e.g. a namespace prefix. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
