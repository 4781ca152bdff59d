import type { Cluster, Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { parseDuration } from '../config/duration.js';
import type { Duration } from '../config/duration.js';
import { ConfigError } from '../errors/config-error.js';
import { InvalidKeyError } from '../errors/invalid-key-error.js';
import { normalisePrefix } from '../cache/validate.js';
import { TIMED_OUT, withDeadline } from '../resilience/deadline.js';
import { codec } from '../serialization/codec.js';
import type { Serializer } from '../serialization/codec.js';
import type { RemoteEntry, RemoteStore, StaleEntry, StoreCapabilities, StoreEntry, StoreSetOptions, WriteStamp } from '../stores/store.js';
import { escapeGlob } from '../util/glob.js';
import { checkKnownOptions, connect, CONNECT_OPTIONS, isCluster, mastersOf, slotGroups, trackActivity } from './connect.js';
import type { ClusterNode, ConnectOptions, RedisClient } from './connect.js';
import { decodeEntry, encodeEntry, headPart, tailPart } from './envelope.js';
import type { DecodedHeader } from './envelope.js';
import { HEADER_ONLY, INCR, INVALIDATE_TAGS, RAISE_LIFE, UNLINK_IF_STAMP, UNLOCK, WRITE_TAGGED } from './scripts.js';

export interface RedisStoreOptions extends ConnectOptions {
  /** `redis://` or `rediss://` URL (or `host`, `port`, `db`, `username`, `password`, `tls`). @default 'redis://localhost:6379' */
  url?: string | undefined;
  /** An existing ioredis client (or Cluster). hoard never closes it; its `keyPrefix` must be unset. */
  client?: RedisClient | undefined;
  /** Seed nodes of a Redis Cluster. */
  cluster?: readonly ClusterNode[] | undefined;
  /**
   * Prepended to every key when the store is used on its own. A cache that uses the store owns
   * the prefix (its `namespace` option); a different prefix given here is a `ConfigError` then.
   * A prefix without a trailing `:` gets one. @default 'hoard:'
   */
  prefix?: string | undefined;
  /** How values become text. @default hoard's codec (Date, Map, Set, BigInt, Buffer round-trip) */
  serializer?: Serializer | undefined;
  /** Default TTL of entries written without one. Unset: no expiry. */
  ttl?: Duration | undefined;
}

const CAPABILITIES: StoreCapabilities = { sync: false, shared: true, tags: true, patterns: true, grace: true, lazyTags: true };
const SCAN_COUNT = 1000;
const CONNECT_WAIT = 2_000;
/** Keys per multi-key command: bounded replies, and no argument list large enough to overflow the stack. */
export const CHUNK = 1_000;
const QUIT_WAIT = 1_000;

/**
 * A store in Redis (single node or Cluster) on ioredis. Keys are `<prefix><key>`; internal keys
 * (tag records, locks) live under `<prefix>\0`, which user keys cannot start with, so patterns
 * never match them and `clear()` removes them. Multi-key commands are chunked and grouped by hash
 * slot, patterns SCAN every master (never KEYS), and removal uses UNLINK in batches.
 *
 * Every write of a key is one command (SET, or one EVAL for a tagged entry), so writes land in
 * the order they were issued: a newer write is never overtaken by an older one.
 *
 * Tags are invalidated lazily, as FusionCache and bentocache do: `invalidateTags` records, per
 * tag, the server time of the invalidation (`<prefix>\0t:<tag>`), and a read of a tagged entry
 * compares its stamp (the server time as of which its value was true) with the records of its
 * tags. An entry stamped at or before a record is invalid and removed when read. Nothing is kept
 * per tagged entry besides its own header, so no index can race, leak or grow: the records are
 * one key per invalidated tag, living as long as the longest-lived tagged entry
 * (`<prefix>\0life`). `invalidateTags` cannot count entries it never touches: it returns 0 here
 * (the cache adds what its memory tier removed).
 *
 * The store adds no deadline of its own: the cache facade bounds every call by `l2Timeout` and a
 * circuit breaker. Clients it creates have no offline queue and never resend a command after a
 * reconnect (FAULTS.md items 1 and 4).
 */
export class RedisStore<V = unknown> implements RemoteStore<V> {
  readonly capabilities = CAPABILITIES;
  readonly client: RedisClient;
  readonly serializer: Serializer;
  readonly #owned: boolean;
  #prefix: string;
  readonly #prefixGiven: boolean;
  #bound = false;
  #internal: string;
  readonly #defaultTtl: number | undefined;
  readonly #errorListeners: ((error: Error) => void)[] = [];
  readonly #statusListeners: ((ready: boolean) => void)[] = [];
  readonly #readyWaiters = new Set<() => void>();
  /** Longest lifetime (ms) of a tagged entry this store wrote and recorded in Redis; 0: unbounded. */
  #life: number | undefined;
  #activity = 0;
  /** Keys holding values hoard cannot read, and until when they read as a miss unfetched. */
  readonly #foreign = new Map<string, number>();
  #closing: Promise<void> | undefined;
  readonly #headerCommand: (key: string) => Promise<unknown>;
  readonly #unlockCommand: (key: string, token: string) => Promise<unknown>;

  /** Connects at once (in the background); see {@link RedisStoreOptions}. Bad options throw `ConfigError`. */
  constructor(options: RedisStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new ConfigError('options', 'expected an object');
    checkKnownOptions(options, [...CONNECT_OPTIONS, 'prefix', 'serializer', 'ttl'], 'redisStore()');
    this.#prefixGiven = options.prefix !== undefined;
    this.#prefix = normalisePrefix(options.prefix ?? 'hoard:', 'prefix');
    this.#internal = `${this.#prefix}\u0000`;
    this.serializer = options.serializer ?? codec;
    if (typeof this.serializer.encode !== 'function' || typeof this.serializer.decode !== 'function') {
      throw new ConfigError('serializer', 'expected { encode(value): string, decode(text): unknown }');
    }
    const ttl = options.ttl === undefined ? undefined : parseDuration(options.ttl, 'ttl');
    this.#defaultTtl = ttl === Infinity ? undefined : ttl;
    const { client, owned } = connect(options, (error) => {
      for (const listener of this.#errorListeners.slice()) listener(error);
    });
    this.client = client;
    this.#owned = owned;
    trackActivity(client, () => this.#activity++);
    // Read-only scripts keep EVALSHA (a resend cannot reorder anything); writes use EVAL (scripts.ts).
    const raw = client as unknown as Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>;
    if (raw.hoardHeader === undefined) {
      client.defineCommand('hoardHeader', { numberOfKeys: 1, lua: HEADER_ONLY });
      client.defineCommand('hoardUnlock', { numberOfKeys: 1, lua: UNLOCK });
    }
    this.#headerCommand = raw.hoardHeader!.bind(client);
    this.#unlockCommand = raw.hoardUnlock!.bind(client);
    client.on('ready', () => {
      const waiters = [...this.#readyWaiters];
      this.#readyWaiters.clear();
      for (const waiter of waiters) waiter();
      this.#status(true);
    });
    client.on('close', () => this.#status(false));
  }

  /** The key prefix: the owning cache's `namespace`, or the `prefix` option when used on its own. */
  get prefix(): string {
    return this.#prefix;
  }

  /** Grows whenever the connection receives data: a call that times out while this moves met a busy link, not a dead one. */
  get activity(): number {
    return this.#activity;
  }

  /** Called by the cache that owns the store with its prefix (`namespace`); a store serves one cache. */
  bind(prefix: string): void {
    if (this.#bound) {
      if (prefix === this.#prefix) return;
      throw new ConfigError('namespace', `this Redis store already serves a cache with prefix "${this.#prefix}"; create one redisStore() per cache`);
    }
    if (this.#prefixGiven && prefix !== this.#prefix) {
      throw new ConfigError(
        'namespace',
        `the cache's namespace "${prefix}" and redisStore({ prefix: "${this.#prefix}" }) disagree: the cache owns the key prefix; pass namespace: "${this.#prefix}" to the cache and drop prefix from redisStore()`,
      );
    }
    this.#bound = true;
    this.#prefix = prefix;
    this.#internal = `${prefix}\u0000`;
  }

  #status(ready: boolean): void {
    for (const listener of this.#statusListeners.slice()) listener(ready);
  }

  /** Listens to the connection going down (`false`) and up (`true`); returns the unsubscribe function. */
  onStatus(listener: (ready: boolean) => void): () => void {
    this.#statusListeners.push(listener);
    return () => {
      const at = this.#statusListeners.indexOf(listener);
      if (at !== -1) this.#statusListeners.splice(at, 1);
    };
  }

  /** Resolves once the connection is ready; rejects when `signal` aborts. */
  whenReady(signal: AbortSignal): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      // One client listener serves every waiter; an aborted waiter leaves nothing behind, so a
      // long outage cannot pile up closures.
      const waiter = (): void => {
        signal.removeEventListener('abort', abort);
        resolve();
      };
      const abort = (): void => {
        this.#readyWaiters.delete(waiter);
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', abort, { once: true });
      this.#readyWaiters.add(waiter);
    });
  }

  /** Drops the connection it opened and reconnects, so commands stuck on a hung link fail now. */
  reset(): void {
    if (this.#owned && this.#closing === undefined) this.client.disconnect(true);
  }

  /** One round trip (PING to every master of a cluster). */
  async ping(): Promise<void> {
    if (this.client.status !== 'ready') await this.#connected();
    await this.client.ping();
  }

  /** The server's clock in µs: the stamp of a `getOrSet` run that may produce a tagged entry. */
  async time(): Promise<number> {
    if (this.client.status !== 'ready') await this.#connected();
    const [seconds, micros] = (await this.client.time()) as [string | number, string | number];
    return Number(seconds) * 1_000_000 + Number(micros);
  }

  /**
   * Commands are never queued while disconnected; used on its own (not behind a cache, which
   * bounds the wait by `l2Timeout`), the store waits for the connection up to 2 s.
   */
  async #connected(): Promise<void> {
    if (this.client.status === 'ready') return;
    await this.whenReady(AbortSignal.timeout(CONNECT_WAIT));
  }

  /** Client errors (connection refused, reset, ...). The client always has a listener, so none is unhandled. */
  onError(listener: (error: Error) => void): () => void {
    this.#errorListeners.push(listener);
    return () => {
      const at = this.#errorListeners.indexOf(listener);
      if (at !== -1) this.#errorListeners.splice(at, 1);
    };
  }

  /** Whether the connection is up and ready for commands. */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** The value of `key`, or undefined when absent, expired or not written by hoard. */
  async get(key: string): Promise<V | undefined> {
    const entry = await this.getEntry(key);
    return entry === undefined || entry.stale ? undefined : entry.value;
  }

  /** The value of `key` even inside its grace period, with whether it is stale. */
  async getStale(key: string): Promise<StaleEntry<V> | undefined> {
    const entry = await this.getEntry(key);
    return entry === undefined ? undefined : { value: entry.value, stale: entry.stale };
  }

  /** The entry with its freshness, for backfilling the memory tier with the remaining TTL. */
  getEntry(key: string): Promise<RemoteEntry<V> | undefined> {
    if (this.client.status !== 'ready') return this.#connected().then(() => this.#readEntry(key));
    return this.#readEntry(key);
  }

  /** The read itself: one GET, then the tag check only for tagged entries (the hot path has one promise). */
  #readEntry(key: string): Promise<RemoteEntry<V> | undefined> {
    const full = this.#key(key);
    if (this.#foreign.size !== 0 && this.#isForeign(full)) return Promise.resolve(undefined);
    return this.client.get(full).then((text) => {
      if (text === null) return undefined;
      const entry = this.#decode(key, text, Date.now());
      if (entry === undefined || entry.header.tags === undefined) return entry?.entry;
      return this.#withValidTags([entry], [full]).then((valid) => valid[0]);
    });
  }

  /** The entries of `keys` in one round trip (MGET per hash slot), in order. */
  async getEntries(keys: readonly string[]): Promise<(RemoteEntry<V> | undefined)[]> {
    if (this.client.status !== 'ready') await this.#connected();
    if (keys.length === 0) return [];
    const full = keys.map((k) => this.#key(k));
    const texts = this.#foreign.size === 0 ? await this.#mget(full) : await this.#mgetKnown(full);
    const now = Date.now();
    const decoded = texts.map((text, i) => (text === null ? undefined : this.#decode(keys[i]!, text, now)));
    if (!decoded.some((d) => d?.header.tags !== undefined)) return decoded.map((d) => d?.entry);
    return this.#withValidTags(decoded, full);
  }

  /** Whether `key` holds a live value. */
  async has(key: string): Promise<boolean> {
    const header = await this.#header(key);
    return header !== undefined && !header.stale;
  }

  /** Milliseconds left before `key` expires (`Infinity`: no expiry; undefined: absent). */
  async ttl(key: string): Promise<number | undefined> {
    const header = await this.#header(key);
    if (header === undefined || header.stale) return undefined;
    return header.freshFor ?? Infinity;
  }

  /** Serializes and writes `value` (with `ttl`, `grace` and `tags` from `options`). */
  async set(key: string, value: V, options?: StoreSetOptions): Promise<void> {
    const ttl = options?.ttl === undefined ? this.#defaultTtl : finite(parseDuration(options.ttl, 'ttl'));
    const grace = options?.grace === undefined ? 0 : parseDuration(options.grace, 'grace');
    await this.write(key, this.serializer.encode(value), ttl, grace, options?.tags);
  }

  /**
   * Writes an already encoded payload (the facade encodes once, before touching any tier, so a
   * `SerializationError` writes nothing anywhere). One command per key, whatever the tags.
   * `stamp`: as of when a tagged value is true (default: the moment the server writes it).
   */
  async write(key: string, payload: string, ttl: number | undefined, grace: number, tags: readonly string[] | undefined, stamp?: WriteStamp): Promise<void> {
    if (this.client.status !== 'ready') await this.#connected();
    const full = this.#key(key);
    if (this.#foreign.size !== 0) this.#foreign.delete(full);
    const freshUntil = ttl === undefined ? undefined : Date.now() + ttl;
    const life = ttl === undefined || grace === Infinity ? 0 : ttl + grace;
    const px = life > MAX_PX ? 0 : life;
    if (tags === undefined || tags.length === 0) {
      const text = encodeEntry(payload, freshUntil);
      if (px === 0) await this.client.set(full, text);
      else await this.client.set(full, text, 'PX', px);
      return;
    }
    const at = stamp?.at === undefined ? '' : String(Math.floor(stamp.at));
    const age = stamp?.age === undefined ? 0 : Math.ceil(stamp.age * 1000);
    // Both go out in this order on one connection; the entry never waits for the lifetime record.
    await Promise.all([this.#raiseLife(px), this.client.eval(WRITE_TAGGED, 1, full, headPart(freshUntil), tailPart(tags, payload), at, age, px)]);
  }

  /** Removes `key`; resolves to whether it existed. */
  async delete(key: string): Promise<boolean> {
    if (this.client.status !== 'ready') await this.#connected();
    return (await this.client.unlink(this.#key(key))) > 0;
  }

  /** Adds `by` atomically (a Lua script keeps hoard's entry format); resolves to the new value. */
  async incr(key: string, by = 1): Promise<number> {
    if (this.client.status !== 'ready') await this.#connected();
    const full = this.#key(key);
    const ttl = this.#defaultTtl;
    const header = encodeEntry('', ttl === undefined ? undefined : Date.now() + ttl);
    try {
      return Number(await this.client.eval(INCR, 1, full, by, ttl ?? 0, header, '1'));
    } catch (error) {
      if (error instanceof Error && error.message.includes('HOARD_TAGGED')) {
        // A tagged counter: start afresh if one of its tags was invalidated since it was written.
        await this.#header(key);
        return Number(await this.client.eval(INCR, 1, full, by, ttl ?? 0, header, '0'));
      }
      throw notANumber(error, key);
    }
  }

  /** The values of `keys` in one round trip, in order. */
  async getMany(keys: readonly string[]): Promise<(V | undefined)[]> {
    const out: (V | undefined)[] = [];
    for (let i = 0; i < keys.length; i += CHUNK) {
      const entries = await this.getEntries(keys.slice(i, i + CHUNK));
      for (const e of entries) out.push(e === undefined || e.stale ? undefined : e.value);
    }
    return out;
  }

  /** Writes every entry; a key given twice keeps its last value. */
  async setMany(entries: readonly StoreEntry<V>[]): Promise<void> {
    // A key given twice: only its last value is written, as if the writes ran in order.
    const last = new Map<string, StoreEntry<V>>();
    for (const e of entries) {
      last.delete(e.key);
      last.set(e.key, e);
    }
    const list = [...last.values()];
    for (let i = 0; i < list.length; i += CHUNK) {
      await Promise.all(list.slice(i, i + CHUNK).map((e) => this.set(e.key, e.value, { ttl: e.ttl, tags: e.tags })));
    }
  }

  /** Removes `keys`; resolves to how many existed. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    if (this.client.status !== 'ready') await this.#connected();
    const full = [...new Set(keys)].map((k) => this.#key(k));
    return this.#unlink(full);
  }

  /** Removes the keys under the prefix matching `glob`, found with SCAN on every master (never KEYS). */
  async deletePattern(glob: string): Promise<number> {
    if (this.client.status !== 'ready') await this.#connected();
    return this.#unlink(await this.#scan(escapeGlob(this.#prefix) + glob, true));
  }

  /** Records the invalidation of each tag; entries carrying one are removed when next read. Returns 0 (see the class comment). */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    if (this.client.status !== 'ready') await this.#connected();
    const unique = [...new Set(tags)];
    if (unique.length === 0) return 0;
    const stored = await this.client.get(this.#lifeKey());
    const known = stored === null ? undefined : Number(stored);
    // Unknown lifetime (no tagged write recorded one yet): keep the records without expiry.
    let px = known === undefined || !Number.isFinite(known) ? 0 : known;
    if (px !== 0 && this.#life !== undefined) px = this.#life === 0 ? 0 : Math.max(px, this.#life);
    // One script call per part of a hash slot: records of many tags at the cost of one command.
    const keys = unique.map((t) => this.#tagKey(t));
    const groups = isCluster(this.client) ? slotGroups(keys) : [keys.map((_k, i) => i)];
    const parts: string[][] = [];
    for (const group of groups) for (let i = 0; i < group.length; i += CHUNK) parts.push(group.slice(i, i + CHUNK).map((j) => keys[j]!));
    // EVAL (not a defined command): the client routes it on a cluster by its declared keys.
    await Promise.all(parts.map((part) => this.client.eval(INVALIDATE_TAGS, part.length, ...part, px)));
    return 0;
  }

  /** Removes every key under the prefix (internal keys included), never the whole database. */
  async clear(): Promise<void> {
    if (this.client.status !== 'ready') await this.#connected();
    this.#life = undefined;
    this.#foreign.clear();
    await this.#unlink(await this.#scan(`${escapeGlob(this.#prefix)}*`, false));
  }

  /** Takes the lock of `key` for `ttl` ms: a token when taken, undefined when someone else holds it. */
  async lock(key: string, ttl: number): Promise<string | undefined> {
    if (this.client.status !== 'ready') await this.#connected();
    const token = randomUUID();
    const ok = await this.client.set(this.#lockKey(key), token, 'PX', ttl, 'NX');
    return ok === 'OK' ? token : undefined;
  }

  /** Releases a lock taken with `token`, unless it expired and someone else took it. */
  async unlock(key: string, token: string): Promise<void> {
    if (this.client.status !== 'ready') await this.#connected();
    await this.#unlockCommand(this.#lockKey(key), token);
  }

  /**
   * How `key` is held, for key inspection (the admin API's `GET /keys/:key`): Redis' own TTL
   * (PTTL, the whole life, grace included), the stored size (STRLEN, header included), and from
   * the entry's header when the value turns stale and its tags. The value is fetched and decoded
   * only when `withValue` is true. Undefined when absent, invalidated by one of its tags, or not
   * a hoard entry. One round trip (commands pipelined on one connection).
   */
  async inspect(key: string, withValue = false): Promise<RedisKeyInfo<V> | undefined> {
    if (this.client.status !== 'ready') await this.#connected();
    const full = this.#key(key);
    const sent = Date.now();
    const [pttl, bytes, header, text] = await Promise.all([
      this.client.pttl(full),
      this.client.strlen(full),
      this.#headerCommand(full) as Promise<string | null>,
      withValue ? this.client.get(full) : Promise.resolve(null),
    ]);
    if (header === null || header === '') return undefined;
    const entry = decodeEntry(header);
    if (entry === undefined) return undefined;
    // PTTL was read between the send and the reply: the midpoint keeps freshFor and lifeLeft on one clock reading.
    const now = (sent + Date.now()) / 2;
    if (entry.tags !== undefined && invalidated(entry, await this.#records(entry.tags))) return undefined;
    const freshFor = entry.freshUntil === undefined ? Infinity : Math.max(0, entry.freshUntil - now);
    const info: RedisKeyInfo<V> = { freshFor, lifeLeft: pttl < 0 ? Infinity : pttl, bytes, tags: entry.tags };
    if (withValue && text !== null) {
      const decoded = decodeEntry(text);
      if (decoded !== undefined) info.value = this.serializer.decode(decoded.payload) as V;
    }
    return info;
  }

  /**
   * One page of the keys under the prefix matching `glob` (relative to the prefix, like
   * `deletePattern`): SCAN with MATCH and COUNT, never KEYS; on a cluster every master in turn.
   * Start with cursor `'0'`; the page's `cursor` is `'0'` when the scan is complete. A page may
   * be empty while the scan goes on; keys written or removed meanwhile may or may not show, and a
   * key may show twice (SCAN's guarantees). Internal keys never show; keys come without the prefix.
   */
  async scan(glob: string, cursor = '0', count = 100): Promise<{ keys: string[]; cursor: string }> {
    if (this.client.status !== 'ready') await this.#connected();
    const parsed = /^(?:(\d+):)?(\d+)$/.exec(cursor);
    if (parsed === null) throw new TypeError(`scan: bad cursor "${cursor}"`);
    const nodes: Redis[] = isCluster(this.client)
      ? mastersOf(this.client).sort((a, b) => nodeName(a).localeCompare(nodeName(b)))
      : [this.client];
    let index = parsed[1] === undefined ? 0 : Number(parsed[1]);
    let nodeCursor = parsed[2]!;
    if (index >= nodes.length) return { keys: [], cursor: '0' };
    const [next, found] = await nodes[index]!.scan(nodeCursor, 'MATCH', escapeGlob(this.#prefix) + glob, 'COUNT', count);
    nodeCursor = next;
    if (nodeCursor === '0') index++;
    const keys: string[] = [];
    for (const key of found) if (!key.startsWith(this.#internal)) keys.push(key.slice(this.#prefix.length));
    const done = nodeCursor === '0' && index >= nodes.length;
    return { keys, cursor: done ? '0' : `${index}:${nodeCursor}` };
  }

  /**
   * Closes the connection if this store opened it (a client passed in is left open): QUIT, so
   * replies in flight arrive, bounded by one second, since a hung server never answers it.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (!this.#owned) return;
      const quit = this.client.quit().then(noop, noop);
      if ((await withDeadline(quit, QUIT_WAIT)) === TIMED_OUT) this.client.disconnect();
      else this.client.disconnect();
    })();
    return this.#closing;
  }

  // ----------------------------------------------------------------------------------------------

  #key(key: string): string {
    // The facade validates keys before any tier; used on its own, the store still guards its internal space.
    if (key.charCodeAt(0) === 0) throw new InvalidKeyError('a key must not start with NUL: that space is reserved for internal keys');
    return this.#prefix + key;
  }

  #lockKey(key: string): string {
    return `${this.#internal}l:${key}`;
  }

  #tagKey(tag: string): string {
    return `${this.#internal}t:${tag}`;
  }

  #lifeKey(): string {
    return `${this.#internal}life`;
  }

  /** Keeps `<prefix>\0life` at least `px` (0: unbounded); one command the first time a longer life is seen. */
  #raiseLife(px: number): Promise<unknown> | undefined {
    const life = this.#life;
    if (life === 0 || (life !== undefined && px !== 0 && px <= life)) return undefined;
    this.#life = px;
    return this.client.eval(RAISE_LIFE, 1, this.#lifeKey(), px).catch((error: unknown) => {
      this.#life = life; // try again with the next tagged write
      throw error;
    });
  }

  #decode(key: string, text: string, now: number): { entry: RemoteEntry<V>; header: DecodedHeader } | undefined {
    const decoded = decodeEntry(text);
    if (decoded === undefined) {
      this.#undecodable(key, new Error('not a hoard entry'));
      return undefined;
    }
    let value: V;
    try {
      value = this.serializer.decode(decoded.payload) as V;
    } catch (error) {
      this.#undecodable(key, error);
      return undefined;
    }
    const freshFor = decoded.freshUntil === undefined ? undefined : decoded.freshUntil - now;
    return { entry: { value, stale: freshFor !== undefined && freshFor <= 0, freshFor, tags: decoded.tags }, header: decoded };
  }

  /**
   * The entries whose tags were not invalidated since their stamp (the others become undefined
   * and are removed, unless rewritten meanwhile). One read of the tag records for all of them.
   */
  async #withValidTags(
    decoded: readonly ({ entry: RemoteEntry<V>; header: DecodedHeader } | undefined)[],
    full: readonly string[],
  ): Promise<(RemoteEntry<V> | undefined)[]> {
    const tags = new Set<string>();
    for (const d of decoded) if (d?.header.tags !== undefined) for (const tag of d.header.tags) tags.add(tag);
    const records = await this.#records([...tags]);
    return decoded.map((d, i) => {
      if (d === undefined) return undefined;
      if (d.header.tags === undefined || !invalidated(d.header, records)) return d.entry;
      this.#dropInvalid(full[i]!, d.header.stamp);
      return undefined;
    });
  }

  /**
   * A value under the prefix that hoard did not write (or cannot decode) reads as a miss without
   * fetching it again for a while: a foreign 50 MB string must not be shipped on every read and
   * hold up the link for every other key. A write or delete of the key through this store ends it.
   */
  #markForeign(full: string): void {
    this.#foreign.delete(full);
    if (this.#foreign.size >= MAX_FOREIGN) this.#foreign.delete(this.#foreign.keys().next().value!);
    this.#foreign.set(full, Date.now() + FOREIGN_MS);
  }

  #isForeign(full: string): boolean {
    const until = this.#foreign.get(full);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#foreign.delete(full);
    return false;
  }

  async #mgetKnown(full: readonly string[]): Promise<(string | null)[]> {
    const wanted: number[] = [];
    for (let i = 0; i < full.length; i++) if (!this.#isForeign(full[i]!)) wanted.push(i);
    const out = new Array<string | null>(full.length).fill(null);
    const texts = await this.#mget(wanted.map((i) => full[i]!));
    wanted.forEach((i, j) => (out[i] = texts[j] ?? null));
    return out;
  }

  /** Invalidation times of `tags` (µs); tags never invalidated are absent. */
  async #records(tags: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (tags.length === 0) return out;
    const values = await this.#mget(tags.map((t) => this.#tagKey(t)));
    values.forEach((v, i) => {
      if (v !== null) out.set(tags[i]!, Number(v));
    });
    return out;
  }

  /** Removes an entry found invalid by a tag, unless it was rewritten since it was read. */
  #dropInvalid(full: string, stamp: number | undefined): void {
    this.client.eval(UNLINK_IF_STAMP, 1, full, stamp === undefined ? '' : String(stamp)).catch(noop);
  }

  /** FAULTS.md I5: garbage written by someone else is a miss plus an error, never a throw. */
  #undecodable(key: string, cause: unknown): void {
    this.#markForeign(this.#prefix + key);
    const error = new Error(`cannot decode the value at "${key}"; treated as a miss`, { cause });
    error.name = 'DeserializationError';
    for (const listener of this.#errorListeners.slice()) listener(error);
  }

  async #header(key: string): Promise<{ stale: boolean; freshFor: number | undefined } | undefined> {
    if (this.client.status !== 'ready') await this.#connected();
    const full = this.#key(key);
    const header = (await this.#headerCommand(full)) as string | null;
    if (header === null || header === '') return undefined;
    const entry = decodeEntry(header);
    if (entry === undefined) return undefined;
    if (entry.tags !== undefined && invalidated(entry, await this.#records(entry.tags))) {
      this.#dropInvalid(full, entry.stamp);
      return undefined;
    }
    const freshFor = entry.freshUntil === undefined ? undefined : entry.freshUntil - Date.now();
    return { stale: freshFor !== undefined && freshFor <= 0, freshFor };
  }

  /** MGET in chunks, one per hash slot on a cluster (never CROSSSLOT), answers in key order. */
  async #mget(keys: readonly string[]): Promise<(string | null)[]> {
    const out = new Array<string | null>(keys.length).fill(null);
    const groups = isCluster(this.client) ? slotGroups(keys) : [keys.map((_k, i) => i)];
    const batches: number[][] = [];
    for (const group of groups) for (let i = 0; i < group.length; i += CHUNK) batches.push(group.slice(i, i + CHUNK));
    await Promise.all(
      batches.map(async (indexes) => {
        const values = await this.client.mget(indexes.map((i) => keys[i]!));
        indexes.forEach((i, j) => (out[i] = values[j] ?? null));
      }),
    );
    return out;
  }

  async #unlink(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const groups = isCluster(this.client) ? slotGroups(keys) : [keys.map((_k, i) => i)];
    let removed = 0;
    for (const group of groups) {
      for (let i = 0; i < group.length; i += CHUNK) removed += await this.client.unlink(group.slice(i, i + CHUNK).map((j) => keys[j]!));
    }
    return removed;
  }

  /** SCAN on every master (never KEYS), deduplicated; internal keys skipped unless asked for. */
  async #scan(match: string, skipInternal: boolean): Promise<string[]> {
    const found = new Set<string>();
    const nodes: Redis[] = isCluster(this.client) ? mastersOf(this.client) : [this.client];
    await Promise.all(
      nodes.map(async (node) => {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
          cursor = next;
          for (const key of keys) if (!skipInternal || !key.startsWith(this.#internal)) found.add(key);
        } while (cursor !== '0');
      }),
    );
    return [...found];
  }

  // --- marked writes (`hoard warm`) -----------------------------------------------------------

  /**
   * Writes encoded entries together with a marker, in one transaction (MULTI/EXEC): the entries
   * and the marker reach Redis together or not at all. A writer killed at any moment can later
   * ask {@link marked} whether its batch landed, and so write every entry exactly once across a
   * crash (`hoard warm --resume`). A transaction cannot span hash slots, so on a cluster each
   * slot's entries get their own transaction and their own marker, placed in that slot with a
   * hash tag; a key whose slot no marker can share (a `}` in a key without a hash tag) is written
   * in a transaction without one, and reads as not marked. Markers are internal keys
   * (`<prefix>\0w:...`, never listed or matched by patterns) that expire after `markTtl` ms.
   */
  async writeMarked(entries: readonly MarkedWrite[], mark: string, markTtl: number): Promise<void> {
    if (this.client.status !== 'ready') await this.#connected();
    if (entries.length === 0) return;
    const full = entries.map((e) => this.#key(e.key));
    let life: number | undefined;
    for (const e of entries) {
      if (e.tags === undefined || e.tags.length === 0) continue;
      const px = this.#markedPx(e);
      life = life === 0 || px === 0 ? 0 : Math.max(life ?? 0, px);
    }
    // The lifetime record only ever grows, so it may go ahead of the transactions.
    if (life !== undefined) await this.#raiseLife(life);
    // A key given twice: only its last entry is written, as if the writes ran in order.
    const last = new Map<string, number>();
    full.forEach((key, i) => last.set(key, i));
    const now = Date.now();
    await Promise.all(
      this.#markGroups(full, mark).map(async ({ indexes, marker }) => {
        const multi = this.client.multi();
        // Untagged entries go in one script call: one command for the batch instead of one each.
        const plainKeys: string[] = [];
        const plainArgs: (string | number)[] = [];
        for (const i of indexes) {
          const e = entries[i]!;
          const key = full[i]!;
          if (last.get(key) !== i) continue;
          if (this.#foreign.size !== 0) this.#foreign.delete(key);
          const freshUntil = e.ttl === undefined ? undefined : now + e.ttl;
          const px = this.#markedPx(e);
          if (e.tags === undefined || e.tags.length === 0) {
            plainKeys.push(key);
            plainArgs.push(encodeEntry(e.payload, freshUntil), px);
          } else {
            multi.eval(WRITE_TAGGED, 1, key, headPart(freshUntil), tailPart(e.tags, e.payload), '', 0, px);
          }
        }
        if (plainKeys.length !== 0) multi.eval(RedisStore.#WRITE_PLAIN, plainKeys.length, ...plainKeys, ...plainArgs);
        if (marker !== undefined) multi.set(marker, '1', 'PX', markTtl);
        const replies = await multi.exec();
        if (replies === null) throw new Error('the transaction was discarded');
        for (const [error] of replies) if (error !== null) throw error;
      }),
    );
  }

  /** For each of `keys` (as given to {@link writeMarked} with `mark`), whether its marker exists. */
  async marked(keys: readonly string[], mark: string): Promise<boolean[]> {
    if (this.client.status !== 'ready') await this.#connected();
    const out = new Array<boolean>(keys.length).fill(false);
    await Promise.all(
      this.#markGroups(keys.map((k) => this.#key(k)), mark).map(async ({ indexes, marker }) => {
        if (marker === undefined || (await this.client.exists(marker)) === 0) return;
        for (const i of indexes) out[i] = true;
      }),
    );
    return out;
  }

  /** Removes the markers of {@link writeMarked} once the writer has recorded its progress elsewhere. */
  async unmark(keys: readonly string[], mark: string): Promise<void> {
    if (this.client.status !== 'ready') await this.#connected();
    const markers = this.#markGroups(keys.map((k) => this.#key(k)), mark).flatMap((g) => (g.marker === undefined ? [] : [g.marker]));
    await Promise.all(markers.map((m) => this.client.unlink(m)));
  }

  /** SET of each KEYS[i] to ARGV[2i-1], with PX ARGV[2i] unless it is 0. */
  static readonly #WRITE_PLAIN = `
for i, key in ipairs(KEYS) do
  local px = tonumber(ARGV[2 * i])
  if px > 0 then redis.call('SET', key, ARGV[2 * i - 1], 'PX', px) else redis.call('SET', key, ARGV[2 * i - 1]) end
end
return #KEYS`;

  #markedPx(e: MarkedWrite): number {
    const life = e.ttl === undefined || e.grace === Infinity ? 0 : e.ttl + e.grace;
    return life > MAX_PX ? 0 : life;
  }

  /** Entries grouped by transaction: one group on a single node, one per hash slot on a cluster. */
  #markGroups(full: readonly string[], mark: string): { indexes: number[]; marker: string | undefined }[] {
    const base = `${this.#internal}w:${mark}`;
    if (!isCluster(this.client)) return [{ indexes: full.map((_k, i) => i), marker: base }];
    return slotGroups(full).map((indexes) => {
      // Redis hashes a key's first non-empty {...} section, else the whole key: a marker tagged
      // with that part lives in the key's slot (checked, since the prefix may hold braces too).
      const key = full[indexes[0]!]!;
      const open = key.indexOf('{');
      const close = open === -1 ? -1 : key.indexOf('}', open + 1);
      const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
      const marker = `${base}:{${hashed}}`;
      return { indexes, marker: slotGroups([key, marker]).length === 1 ? marker : undefined };
    });
  }
}

/** An encoded entry for {@link RedisStore.writeMarked}. Times in ms; `ttl` undefined: no expiry. */
export interface MarkedWrite {
  key: string;
  payload: string;
  ttl: number | undefined;
  grace: number;
  tags: readonly string[] | undefined;
}

/** What {@link RedisStore.inspect} tells about a key. */
export interface RedisKeyInfo<V = unknown> {
  /** Ms until the value turns stale; `Infinity`: no logical expiry. 0 once stale (inside its grace). */
  freshFor: number;
  /** Ms until Redis drops the key (PTTL: TTL plus grace); `Infinity`: no expiry. */
  lifeLeft: number;
  /** Bytes Redis holds for the value (STRLEN: header and encoded payload). */
  bytes: number;
  tags: string[] | undefined;
  /** The decoded value, when asked for. */
  value?: V;
}

function nodeName(node: Redis): string {
  return `${node.options.host ?? ''}:${node.options.port ?? 0}`;
}

const MAX_FOREIGN = 1_000;
const FOREIGN_MS = 10_000;

/** Longest PX Redis takes with room to spare; longer lifetimes are stored without expiry. */
const MAX_PX = 2 ** 47;

/** Whether a tag of the entry was invalidated at or after its stamp. */
function invalidated(header: DecodedHeader, records: ReadonlyMap<string, number>): boolean {
  const stamp = header.stamp ?? 0;
  for (const tag of header.tags ?? []) {
    const at = records.get(tag);
    if (at !== undefined && at >= stamp) return true;
  }
  return false;
}

function notANumber(error: unknown, key: string): unknown {
  if (error instanceof Error && error.message.includes('HOARD_NOT_A_NUMBER')) {
    return new TypeError(`incr: the value at "${key}" is not a number`, { cause: error });
  }
  return error;
}

function finite(ms: number): number | undefined {
  return ms === Infinity ? undefined : ms;
}

const noop = (): void => {};

/**
 * Creates a {@link RedisStore}.
 * @example redisStore({ url: 'redis://localhost:6379' })
 */
export function redisStore<V = unknown>(options?: RedisStoreOptions): RedisStore<V> {
  return new RedisStore<V>(options);
}

export type { Cluster, Redis };
