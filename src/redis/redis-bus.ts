import { randomUUID } from 'node:crypto';
import { parseDuration, timerDelay } from '../config/duration.js';
import type { Duration } from '../config/duration.js';
import { parseBusMessage } from '../bus/bus.js';
import type { Bus, BusListener, BusMessage } from '../bus/bus.js';
import { withDeadline } from '../resilience/deadline.js';
import { checkKnownOptions, connect, CONNECT_OPTIONS } from './connect.js';
import type { ClusterNode, ConnectOptions, RedisClient } from './connect.js';
import { ConfigError } from '../errors/config-error.js';

export interface RedisBusOptions extends Omit<ConnectOptions, 'client'> {
  /** `redis://` or `rediss://` URL (or `host`, `port`, `db`, `username`, `password`, `tls`). @default 'redis://localhost:6379' */
  url?: string | undefined;
  /** Seed nodes of a Redis Cluster (pub/sub reaches subscribers on every node). */
  cluster?: readonly ClusterNode[] | undefined;
  /**
   * How often the bus publishes a heartbeat to itself. Pub/sub is at-most-once: when three
   * heartbeats in a row do not come back, messages may have been lost, and the cache flushes its
   * memory tier once the bus hears itself again. @default '1s'
   */
  heartbeat?: Duration | undefined;
}

/** On the wire: origin, sequence number, message. A heartbeat is a message with no body. */
interface Wire {
  o: string;
  s: number;
  m?: BusMessage;
}

const MISSED_HEARTBEATS = 3;
/** Longest message text read; a larger one is not hoard's (it publishes at most 1,000 keys a message). */
const MAX_MESSAGE_TEXT = 4 << 20;
const QUIT_WAIT = 1_000;

/**
 * The invalidation bus over Redis pub/sub: one connection publishes, one subscribes. Messages
 * carry the origin (an instance ignores its own) and a sequence number (for tracing only:
 * messages are invalidations, which are idempotent and order-free, so nothing is dropped by
 * number, and a forged number cannot silence an origin). Every message is validated before it is
 * applied; a malformed one is ignored with an `error` event. The bus reports `down` when its
 * subscriber disconnects, cannot connect or authenticate, or its heartbeats stop coming back,
 * and `up` once it hears itself again (FAULTS.md item 11, N3, N7, N8).
 */
export class RedisBus implements Bus {
  readonly id = randomUUID();
  readonly heartbeat: number;
  readonly #options: RedisBusOptions;
  #pub: RedisClient | undefined;
  #sub: RedisClient | undefined;
  #channel = '';
  #listener: BusListener | undefined;
  #seq = 0;
  #healthy = false;
  #lastHeard = 0;
  #timer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  /** Publishes not answered yet, awaited by close(). */
  readonly #sending = new Set<Promise<number>>();
  /** A connection error was reported since the bus was last healthy (one `error` event per outage). */
  #reported = false;

  /** Opens its own publisher and subscriber connections (in the background); see {@link RedisBusOptions}. */
  constructor(options: RedisBusOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new ConfigError('options', 'expected an object');
    checkKnownOptions(options, [...CONNECT_OPTIONS.filter((o) => o !== 'client'), 'heartbeat'], 'redisBus()');
    this.#options = options;
    this.heartbeat = parseDuration(options.heartbeat ?? '1s', 'heartbeat');
  }

  /** Subscribed, and hearing its own heartbeats: no message can have been missed. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** Subscribes to `channel` (named after the cache's prefix); called once by the cache that owns the bus. */
  start(channel: string, listener: BusListener): void {
    if (this.#listener !== undefined) throw new Error('a bus serves one cache; create one redisBus() per cache');
    this.#channel = channel;
    this.#listener = listener;
    const { heartbeat: _heartbeat, ...options } = this.#options;
    const ignore = (): void => {};
    // Connection errors (refused, NOAUTH, WRONGPASS) are reported once per outage; the clients
    // keep reconnecting by themselves and the watchdog keeps the cache off its L1 meanwhile.
    const report = (error: Error): void => {
      if (this.#reported || this.#closing !== undefined) return;
      this.#reported = true;
      listener.error(error, 'bus');
    };
    this.#pub = connect(options, report).client;
    const sub = connect(options, report).client;
    this.#sub = sub;
    sub.on('message', (ch: string, text: string) => {
      if (ch === channel) this.#receive(text);
    });
    sub.on('ready', () => {
      // ioredis resubscribes by itself on reconnect; subscribing again is harmless and covers the
      // first connection. Once subscribed, a heartbeat sent now proves the path end to end.
      sub.subscribe(channel).then(() => this.#beat(), ignore);
    });
    sub.on('close', () => this.#down());
    const ref = new WeakRef(this);
    this.#timer = setInterval(() => ref.deref()?.tick(), timerDelay(this.heartbeat));
    this.#timer.unref();
  }

  /** Sends `message` to every other instance on the channel (at most once, like all pub/sub). */
  async publish(message: BusMessage): Promise<void> {
    await this.#send({ o: this.id, s: ++this.#seq, m: message });
  }

  /** Idempotent; waits at most a second for the connections to quit (a hung server never answers). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer !== undefined) clearInterval(this.#timer);
      // Publishes still in the client's pipeline first: a QUIT sent now would overtake them, and
      // they would fail when the server hangs up.
      const deadline = Date.now() + QUIT_WAIT;
      await withDeadline(Promise.allSettled([...this.#sending]), QUIT_WAIT);
      await withDeadline(Promise.allSettled([this.#pub, this.#sub].map(async (c) => c?.quit())), Math.max(0, deadline - Date.now()));
      this.#pub?.disconnect();
      this.#sub?.disconnect();
    })();
    return this.#closing;
  }

  /** @internal Heartbeat and watchdog, driven by the interval. */
  tick(): void {
    if (this.#healthy && Date.now() - this.#lastHeard > MISSED_HEARTBEATS * this.heartbeat) this.#down();
    this.#beat();
  }

  #beat(): void {
    this.#send({ o: this.id, s: ++this.#seq }).catch(() => {
      // A heartbeat that cannot be sent is a missed heartbeat: the watchdog sees it.
    });
  }

  async #send(wire: Wire): Promise<void> {
    const pub = this.#pub;
    if (pub === undefined || this.#closing !== undefined) return;
    const sending = pub.publish(this.#channel, JSON.stringify(wire));
    this.#sending.add(sending);
    try {
      await sending;
    } finally {
      this.#sending.delete(sending);
    }
  }

  #receive(text: string): void {
    if (text.length > MAX_MESSAGE_TEXT) return this.#malformed(`a message of ${text.length} characters`);
    let wire: unknown;
    try {
      wire = JSON.parse(text);
    } catch {
      return this.#malformed('a message that is not JSON');
    }
    if (typeof wire !== 'object' || wire === null) return this.#malformed('a message that is not an object');
    const { o, s, m } = wire as Partial<Record<keyof Wire, unknown>>;
    if (typeof o !== 'string' || o.length === 0 || o.length > 64) return this.#malformed('a message without a valid origin');
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) return this.#malformed('a message without a valid sequence number');
    if (o === this.id) {
      this.#lastHeard = Date.now();
      if (!this.#healthy) {
        this.#healthy = true;
        this.#reported = false;
        this.#listener?.up();
      }
      return;
    }
    if (m === undefined) return; // another instance's heartbeat
    const message = parseBusMessage(m);
    if (typeof message === 'string') return this.#malformed(message);
    try {
      this.#listener?.message(message);
    } catch (error) {
      // Applying a message never takes the subscriber down with it.
      this.#listener?.error(error instanceof Error ? error : new Error(String(error)), 'bus:message');
    }
  }

  #malformed(what: string): void {
    const error = new Error(`ignored ${what} on the bus channel ${this.#channel}`);
    error.name = 'BusMessageError';
    this.#listener?.error(error, 'bus:message');
  }

  #down(): void {
    if (!this.#healthy) return;
    this.#healthy = false;
    this.#listener?.down();
  }
}

/**
 * Creates a {@link RedisBus}.
 * @example createCache({ l1: memoryStore(), l2: redisStore({ url }), bus: redisBus({ url }) })
 */
export function redisBus(options?: RedisBusOptions): RedisBus {
  return new RedisBus(options);
}
