import { randomUUID } from 'node:crypto';
import { parseDuration, timerDelay } from '../config/duration.js';
import type { Duration } from '../config/duration.js';
import type { Bus, BusListener, BusMessage } from '../bus/bus.js';
import { connect } from './connect.js';
import type { ClusterNode, RedisClient } from './connect.js';

export interface RedisBusOptions {
  /** `redis://` or `rediss://` URL. @default 'redis://localhost:6379' */
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

/**
 * The invalidation bus over Redis pub/sub: one connection publishes, one subscribes. Messages
 * carry the origin (an instance ignores its own) and a sequence number (duplicates and reordered
 * messages of one origin are dropped). The bus reports `down` when its subscriber disconnects or
 * its heartbeats stop coming back, and `up` once it hears itself again after resubscribing
 * (FAULTS.md item 11, N3, N7, N8).
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
  readonly #lastSeq = new Map<string, number>();
  #closed = false;

  constructor(options: RedisBusOptions = {}) {
    this.#options = options;
    this.heartbeat = parseDuration(options.heartbeat ?? '1s', 'heartbeat');
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  start(channel: string, listener: BusListener): void {
    if (this.#listener !== undefined) throw new Error('a bus serves one cache; create one redisBus() per cache');
    this.#channel = channel;
    this.#listener = listener;
    const options = { url: this.#options.url, cluster: this.#options.cluster };
    const ignore = (): void => {
      // Connection errors show as `down`; the clients keep reconnecting by themselves.
    };
    this.#pub = connect(options, ignore).client;
    const sub = connect(options, ignore).client;
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

  async publish(message: BusMessage): Promise<void> {
    await this.#send({ o: this.id, s: ++this.#seq, m: message });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await Promise.allSettled([this.#pub, this.#sub].map(async (c) => c?.quit()));
    this.#pub?.disconnect();
    this.#sub?.disconnect();
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
    if (pub === undefined || this.#closed) return;
    await pub.publish(this.#channel, JSON.stringify(wire));
  }

  #receive(text: string): void {
    let wire: Wire;
    try {
      wire = JSON.parse(text) as Wire;
    } catch {
      return; // not ours
    }
    if (typeof wire !== 'object' || wire === null || typeof wire.o !== 'string' || typeof wire.s !== 'number') return;
    if (wire.o === this.id) {
      this.#lastHeard = Date.now();
      if (!this.#healthy) {
        this.#healthy = true;
        this.#listener?.up();
      }
      return;
    }
    const last = this.#lastSeq.get(wire.o) ?? 0;
    if (wire.s <= last) return;
    this.#lastSeq.set(wire.o, wire.s);
    if (this.#lastSeq.size > 10_000) this.#lastSeq.delete(this.#lastSeq.keys().next().value!);
    if (wire.m !== undefined) this.#listener?.message(wire.m);
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
