import type { Cluster, Redis } from 'ioredis';
import { parseDuration } from '../config/duration.js';
import type { Duration } from '../config/duration.js';
import { ConfigError } from '../errors/config-error.js';
import { InvalidKeyError } from '../errors/invalid-key-error.js';
import { codec } from '../serialization/codec.js';
import type { Serializer } from '../serialization/codec.js';
import type { RemoteEntry, RemoteStore, StaleEntry, StoreCapabilities, StoreEntry, StoreSetOptions } from '../stores/store.js';
import { escapeGlob } from '../util/glob.js';
import { connect, isCluster, mastersOf, slotGroups } from './connect.js';
import type { ClusterNode, RedisClient } from './connect.js';
import { decodeEntry, encodeEntry, isSafeTag } from './envelope.js';
import { HEADER_ONLY, INCR, TAG_ADD, UNLINK_IF_TAGGED, UNLOCK } from './scripts.js';
import { randomUUID } from 'node:crypto';

export interface RedisStoreOptions {
  /** `redis://` or `rediss://` URL. @default 'redis://localhost:6379' */
  url?: string | undefined;
  /** An existing ioredis client (or Cluster). hoard never closes it; its `keyPrefix` must be unset. */
  client?: RedisClient | undefined;
  /** Seed nodes of a Redis Cluster. */
  cluster?: readonly ClusterNode[] | undefined;
  /** Prepended to every key, as `createCache({ namespace })`. @default 'hoard:' */
  prefix?: string | undefined;
  /** How values become text. @default hoard's codec (Date, Map, Set, BigInt, Buffer round-trip) */
  serializer?: Serializer | undefined;
  /** Default TTL of entries written without one. Unset: no expiry. */
  ttl?: Duration | undefined;
}

const CAPABILITIES: StoreCapabilities = { sync: false, shared: true, tags: true, patterns: true, grace: true };
const SCAN_COUNT = 1000;
const CONNECT_WAIT = 2_000;
const UNLINK_BATCH = 500;

/**
 * A store in Redis (single node or Cluster) on ioredis. Keys are `<prefix><key>`; internal keys
 * (tag sets) live under `<prefix>\0`, which user keys cannot start with, so patterns never match
 * them and `clear()` removes them. Every multi-key command is grouped by hash slot, patterns SCAN
 * every master (never KEYS), and removal uses UNLINK in batches.
 *
 * The store adds no deadline of its own: the cache facade bounds every call by `l2Timeout` and a
 * circuit breaker. Clients it creates have no offline queue and never resend a command after a
 * reconnect (FAULTS.md items 1 and 4).
 */
export class RedisStore<V = unknown> implements RemoteStore<V> {
  readonly capabilities = CAPABILITIES;
  readonly client: RedisClient;
  readonly prefix: string;
  readonly serializer: Serializer;
  readonly #owned: boolean;
  readonly #internal: string;
  readonly #defaultTtl: number | undefined;
  readonly #errorListeners: ((error: Error) => void)[] = [];
  readonly #statusListeners: ((ready: boolean) => void)[] = [];
  readonly #scripts: ScriptCommands;
  readonly #readyWaiters = new Set<() => void>();
  #closed = false;

  constructor(options: RedisStoreOptions = {}) {
    const prefix = options.prefix ?? 'hoard:';
    if (typeof prefix !== 'string') throw new ConfigError('prefix', 'expected a string such as "hoard:"');
    this.prefix = prefix;
    this.#internal = `${prefix}\u0000`;
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
    this.#scripts = scriptsFor(client);
    client.on('ready', () => {
      const waiters = [...this.#readyWaiters];
      this.#readyWaiters.clear();
      for (const waiter of waiters) waiter();
      this.#status(true);
    });
    client.on('close', () => this.#status(false));
  }

  #status(ready: boolean): void {
    for (const listener of this.#statusListeners.slice()) listener(ready);
  }

  onStatus(listener: (ready: boolean) => void): () => void {
    this.#statusListeners.push(listener);
    return () => {
      const at = this.#statusListeners.indexOf(listener);
      if (at !== -1) this.#statusListeners.splice(at, 1);
    };
  }

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

  reset(): void {
    if (this.#owned && !this.#closed) this.client.disconnect(true);
  }

  async ping(): Promise<void> {
    if (this.client.status !== 'ready') await this.#connected();
    await this.client.ping();
  }

  /**
   * Commands are never queued while disconnected; used on its own (not behind a cache, which
   * bounds the wait by `l2Timeout`), the store waits for the connection up to `connectTimeout`.
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

  async get(key: string): Promise<V | undefined> {
    const entry = await this.getEntry(key);
    return entry === undefined || entry.stale ? undefined : entry.value;
  }

  async getStale(key: string): Promise<StaleEntry<V> | undefined> {
    const entry = await this.getEntry(key);
    return entry === undefined ? undefined : { value: entry.value, stale: entry.stale };
  }

  /** The entry with its freshness, for backfilling the memory tier with the remaining TTL. */
  async getEntry(key: string): Promise<RemoteEntry<V> | undefined> {
    if (this.client.status !== 'ready') await this.#connected();
    const text = await this.client.get(this.#key(key));
    return text === null ? undefined : this.#decode(key, text, Date.now());
  }

  async getEntries(keys: readonly string[]): Promise<(RemoteEntry<V> | undefined)[]> {
    if (this.client.status !== 'ready') await this.#connected();
    if (keys.length === 0) return [];
    const full = keys.map((k) => this.#key(k));
    const texts = await this.#mget(full);
    const now = Date.now();
    return texts.map((text, i) => (text === null ? undefined : this.#decode(keys[i]!, text, now)));
  }

  async has(key: string): Promise<boolean> {
    const header = await this.#header(key);
    return header !== undefined && !header.stale;
  }

  async ttl(key: string): Promise<number | undefined> {
    const header = await this.#header(key);
    if (header === undefined || header.stale) return undefined;
    return header.freshFor ?? Infinity;
  }

  async set(key: string, value: V, options?: StoreSetOptions): Promise<void> {
    const ttl = options?.ttl === undefined ? this.#defaultTtl : finite(parseDuration(options.ttl, 'ttl'));
    const grace = options?.grace === undefined ? 0 : parseDuration(options.grace, 'grace');
    await this.write(key, this.serializer.encode(value), ttl, grace, options?.tags);
  }

  /**
   * Writes an already encoded payload (the facade encodes once, before touching any tier, so a
   * `SerializationError` writes nothing anywhere).
   */
  async write(key: string, payload: string, ttl: number | undefined, grace: number, tags: readonly string[] | undefined): Promise<void> {
    if (this.client.status !== 'ready') await this.#connected();
    const full = this.#key(key);
    const text = encodeEntry(payload, ttl === undefined ? undefined : Date.now() + ttl, this.#checkTags(tags));
    const px = ttl === undefined ? 0 : ttl + grace;
    if (tags !== undefined && tags.length !== 0) {
      // Membership first: a crash in between leaves a harmless member without a value, never a
      // tagged value its tag cannot reach.
      await Promise.all(tags.map((tag) => this.#scripts.tagAdd(this.#tagKey(tag), full, px)));
    }
    if (px === 0) await this.client.set(full, text);
    else await this.client.set(full, text, 'PX', px);
  }

  async delete(key: string): Promise<boolean> {
    if (this.client.status !== 'ready') await this.#connected();
    return (await this.client.unlink(this.#key(key))) > 0;
  }

  async incr(key: string, by = 1): Promise<number> {
    if (this.client.status !== 'ready') await this.#connected();
    const ttl = this.#defaultTtl;
    const header = encodeEntry('', ttl === undefined ? undefined : Date.now() + ttl, undefined);
    try {
      return Number(await this.#scripts.incr(this.#key(key), by, ttl ?? 0, header));
    } catch (error) {
      if (error instanceof Error && error.message.includes('HOARD_NOT_A_NUMBER')) {
        throw new TypeError(`incr: the value at "${key}" is not a number`, { cause: error });
      }
      throw error;
    }
  }

  async getMany(keys: readonly string[]): Promise<(V | undefined)[]> {
    const entries = await this.getEntries(keys);
    return entries.map((e) => (e === undefined || e.stale ? undefined : e.value));
  }

  async setMany(entries: readonly StoreEntry<V>[]): Promise<void> {
    await Promise.all(entries.map((e) => this.set(e.key, e.value, { ttl: e.ttl, tags: e.tags })));
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    if (this.client.status !== 'ready') await this.#connected();
    const full = [...new Set(keys)].map((k) => this.#key(k));
    return this.#unlink(full);
  }

  async deletePattern(glob: string): Promise<number> {
    if (this.client.status !== 'ready') await this.#connected();
    return this.#unlink(await this.#scan(escapeGlob(this.prefix) + glob, true));
  }

  async invalidateTags(tags: readonly string[]): Promise<number> {
    if (this.client.status !== 'ready') await this.#connected();
    const checked = this.#checkTags(tags) ?? [];
    if (checked.length === 0) return 0;
    const tagKeys = checked.map((t) => this.#tagKey(t));
    const memberLists = await Promise.all(tagKeys.map((k) => this.client.smembers(k)));
    const members = new Set(memberLists.flat());
    // A member is removed only if its current value still carries one of the tags: a key
    // rewritten without the tag survives. Tag sets lose only the members read here, so a key
    // tagged concurrently keeps its membership (FAULTS.md item 8).
    const results = await Promise.all([...members].map((m) => this.#scripts.unlinkIfTagged(m, checked)));
    await Promise.all(tagKeys.map(async (k, i) => (memberLists[i]!.length === 0 ? 0 : this.client.srem(k, ...memberLists[i]!))));
    return results.reduce<number>((sum, r) => sum + Number(r), 0);
  }

  /** Removes every key under the prefix (internal keys included), never the whole database. */
  async clear(): Promise<void> {
    if (this.client.status !== 'ready') await this.#connected();
    await this.#unlink(await this.#scan(`${escapeGlob(this.prefix)}*`, false));
  }

  async lock(key: string, ttl: number): Promise<string | undefined> {
    if (this.client.status !== 'ready') await this.#connected();
    const token = randomUUID();
    const ok = await this.client.set(this.#lockKey(key), token, 'PX', ttl, 'NX');
    return ok === 'OK' ? token : undefined;
  }

  async unlock(key: string, token: string): Promise<void> {
    if (this.client.status !== 'ready') await this.#connected();
    await this.#scripts.unlock(this.#lockKey(key), token);
  }

  /** Closes the connection if this store opened it; a client passed in is left open. */
  async close(): Promise<void> {
    this.#closed = true;
    if (!this.#owned) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  // ----------------------------------------------------------------------------------------------

  #key(key: string): string {
    if (key.charCodeAt(0) === 0) throw new InvalidKeyError('a key must not start with NUL: that space is reserved for internal keys');
    return this.prefix + key;
  }

  #lockKey(key: string): string {
    return `${this.#internal}l:${key}`;
  }

  #tagKey(tag: string): string {
    return `${this.#internal}t:${tag}`;
  }

  #checkTags(tags: readonly string[] | undefined): readonly string[] | undefined {
    if (tags === undefined) return undefined;
    for (const tag of tags) {
      if (!isSafeTag(tag)) throw new InvalidKeyError(`a tag must not contain the control characters \\x1e or \\x1f, got ${JSON.stringify(tag)}`);
    }
    return tags;
  }

  #decode(key: string, text: string, now: number): RemoteEntry<V> | undefined {
    const entry = decodeEntry(text);
    if (entry === undefined) {
      this.#undecodable(key, new Error('not a hoard entry'));
      return undefined;
    }
    let value: V;
    try {
      value = this.serializer.decode(entry.payload) as V;
    } catch (error) {
      this.#undecodable(key, error);
      return undefined;
    }
    const freshFor = entry.freshUntil === undefined ? undefined : entry.freshUntil - now;
    return { value, stale: freshFor !== undefined && freshFor <= 0, freshFor, tags: entry.tags };
  }

  /** FAULTS.md I5: garbage written by someone else is a miss plus an error, never a throw. */
  #undecodable(key: string, cause: unknown): void {
    const error = new Error(`cannot decode the value at "${key}"; treated as a miss`, { cause });
    error.name = 'DeserializationError';
    for (const listener of this.#errorListeners.slice()) listener(error);
  }

  async #header(key: string): Promise<{ stale: boolean; freshFor: number | undefined } | undefined> {
    if (this.client.status !== 'ready') await this.#connected();
    const header = (await this.#scripts.headerOnly(this.#key(key))) as string | null;
    if (header === null || header === '') return undefined;
    const entry = decodeEntry(header);
    if (entry === undefined) return undefined;
    const freshFor = entry.freshUntil === undefined ? undefined : entry.freshUntil - Date.now();
    return { stale: freshFor !== undefined && freshFor <= 0, freshFor };
  }

  async #mget(keys: readonly string[]): Promise<(string | null)[]> {
    if (!isCluster(this.client)) return this.client.mget(...keys);
    // Cluster: one MGET per hash slot (never CROSSSLOT), answers put back in key order.
    const out = new Array<string | null>(keys.length).fill(null);
    await Promise.all(
      slotGroups(keys).map(async (indexes) => {
        const values = await this.client.mget(...indexes.map((i) => keys[i]!));
        indexes.forEach((i, j) => (out[i] = values[j] ?? null));
      }),
    );
    return out;
  }

  async #unlink(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const batches: string[][] = [];
    if (isCluster(this.client)) {
      for (const indexes of slotGroups(keys)) {
        for (let i = 0; i < indexes.length; i += UNLINK_BATCH) batches.push(indexes.slice(i, i + UNLINK_BATCH).map((j) => keys[j]!));
      }
    } else {
      for (let i = 0; i < keys.length; i += UNLINK_BATCH) batches.push(keys.slice(i, i + UNLINK_BATCH));
    }
    const counts = await Promise.all(batches.map((batch) => this.client.unlink(...batch)));
    return counts.reduce((a, b) => a + b, 0);
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
}

interface ScriptCommands {
  tagAdd(tagKey: string, member: string, px: number): Promise<unknown>;
  unlinkIfTagged(key: string, tags: readonly string[]): Promise<unknown>;
  incr(key: string, by: number, px: number, header: string): Promise<string>;
  headerOnly(key: string): Promise<unknown>;
  unlock(key: string, token: string): Promise<unknown>;
}

/**
 * The Lua scripts as commands of `client` (ioredis sends EVALSHA and falls back to EVAL). They are
 * defined under `hoard*` names, so a client passed in by the user keeps all its own commands.
 */
function scriptsFor(client: RedisClient): ScriptCommands {
  const raw = client as unknown as Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>;
  if (raw.hoardIncr === undefined) {
    client.defineCommand('hoardTagAdd', { numberOfKeys: 1, lua: TAG_ADD });
    client.defineCommand('hoardUnlinkIfTagged', { numberOfKeys: 1, lua: UNLINK_IF_TAGGED });
    client.defineCommand('hoardIncr', { numberOfKeys: 1, lua: INCR });
    client.defineCommand('hoardHeader', { numberOfKeys: 1, lua: HEADER_ONLY });
    client.defineCommand('hoardUnlock', { numberOfKeys: 1, lua: UNLOCK });
  }
  const call = (name: string): ((...args: unknown[]) => Promise<unknown>) => raw[name]!.bind(client);
  const tagAdd = call('hoardTagAdd');
  const unlinkIfTagged = call('hoardUnlinkIfTagged');
  const incr = call('hoardIncr');
  const header = call('hoardHeader');
  const unlock = call('hoardUnlock');
  return {
    tagAdd: (k, m, px) => tagAdd(k, m, px),
    unlinkIfTagged: (k, tags) => unlinkIfTagged(k, ...tags),
    incr: async (k, by, px, h) => String(await incr(k, by, px, h)),
    headerOnly: (k) => header(k),
    unlock: (k, token) => unlock(k, token),
  };
}

function finite(ms: number): number | undefined {
  return ms === Infinity ? undefined : ms;
}

/**
 * Creates a {@link RedisStore}.
 * @example redisStore({ url: 'redis://localhost:6379', prefix: 'app:' })
 */
export function redisStore<V = unknown>(options?: RedisStoreOptions): RedisStore<V> {
  return new RedisStore<V>(options);
}

export type { Cluster, Redis };
