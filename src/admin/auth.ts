import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Checks a presented bearer token against the configured ones in constant time: both sides are
 * hashed first, so neither the content nor the length of a token shows in the time taken, and
 * every configured token is compared whatever matched.
 */
export class TokenCheck {
  readonly #digests: readonly Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map(digest);
  }

  /** Whether `authorization` (the header's value) carries a valid bearer token. */
  verify(authorization: string | undefined): boolean {
    if (authorization === undefined) return false;
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    const presented = digest(match?.[1] ?? '');
    let ok = false;
    for (const d of this.#digests) ok = timingSafeEqual(presented, d) || ok;
    return ok && match !== null;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Query parameters that would carry a token in a URL, where logs, proxies and browser history keep it. */
export const TOKEN_PARAMS = ['token', 'access_token', 'bearer', 'api_key', 'apikey'] as const;

/** Most clients tracked at once; past it, the clients idle longest are forgotten (their buckets were full). */
const MAX_CLIENTS = 10_000;

/**
 * A token bucket per client: `max` requests, refilled at `max` per `windowMs`. Allows bursts up
 * to `max` and a steady `max` per window, with no window edge where twice the limit passes.
 */
export class RateLimiter {
  readonly #max: number;
  readonly #perMs: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(max: number, windowMs: number, now: () => number = Date.now) {
    this.#max = max;
    this.#perMs = max / windowMs;
    this.#now = now;
  }

  /** Takes one request's token; returns 0 when allowed, else the seconds until one is free. */
  take(client: string): number {
    const now = this.#now();
    let bucket = this.#buckets.get(client);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_CLIENTS) this.#forgetIdle(now);
      bucket = { tokens: this.#max, at: now };
    } else {
      this.#buckets.delete(client); // re-inserted below: the map stays in order of last use
      bucket.tokens = Math.min(this.#max, bucket.tokens + (now - bucket.at) * this.#perMs);
      bucket.at = now;
    }
    this.#buckets.set(client, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000));
  }

  #forgetIdle(now: number): void {
    for (const [client, bucket] of this.#buckets) {
      if (this.#buckets.size < MAX_CLIENTS * 0.9) break;
      // Oldest first; a bucket refilled by now loses nothing by being forgotten.
      if (bucket.tokens + (now - bucket.at) * this.#perMs >= this.#max || this.#buckets.size >= MAX_CLIENTS) this.#buckets.delete(client);
    }
  }
}
