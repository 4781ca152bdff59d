/**
 * In-process TCP fault proxy (FAULTS.md section 4): put it between the cache and Redis to add
 * latency, freeze the link, refuse or reset connections, and count what the client sent.
 *
 * In-process so a test can flip faults synchronously between two awaits; run the cache under test
 * in a child process (instances.ts) when the proxy must outlive a client crash.
 */
import net from 'node:net';

export type ProxyMode = 'pass' | 'blackhole' | 'refuse';

const RESET_GAP_MS = 10;

export interface ProxySettings {
  /**
   * Added to every chunk in each direction (a request/reply round trip costs 2x). Changing it
   * never reorders bytes: a chunk is not sent before the chunks queued ahead of it.
   */
  delayMs?: number;
  /**
   * `blackhole`: connections stay open, bytes both ways are dropped (a dead link without RST, the
   * case that hangs clients without their own deadline). `refuse`: new connections are accepted and
   * closed at once; open ones are untouched (use resetAll() to cut them too).
   */
  mode?: ProxyMode;
  /**
   * After this many server->client bytes on one connection, deliver the partial reply and RST the
   * client (a reset mid-reply). 0 disables. The client normally sees ECONNRESET; on a loaded
   * machine it may read the partial bytes and the RST together and see a plain close instead.
   * Either way it never gets a complete reply.
   */
  resetAfterBytes?: number;
}

export interface ProxyStats {
  /**
   * Client->server data chunks, including ones dropped by blackhole. A pipelined batch can arrive
   * as one chunk, so assert "0 while the breaker is open" or "grew", not exact command counts.
   */
  commands: number;
  /** Connections open right now. */
  connections: number;
  /** Connections accepted since start / resetStats(), refused ones included. */
  accepted: number;
}

/** Per-direction FIFO with a delay: later chunks wait for earlier ones even if delayMs drops. */
class DelayedPipe {
  #queue: { data: Buffer; dueAt: number; written: (() => void) | undefined }[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly socket: net.Socket) {}

  /** `written` runs once the chunk reached the kernel (used to RST right after a partial reply). */
  push(data: Buffer, delayMs: number, written?: () => void): void {
    if (delayMs <= 0 && this.#queue.length === 0) {
      this.#write(data, written);
      return;
    }
    this.#queue.push({ data, dueAt: Date.now() + Math.max(0, delayMs), written });
    this.#schedule();
  }

  #write(data: Buffer, written: (() => void) | undefined): void {
    if (this.socket.destroyed) return;
    if (written === undefined) this.socket.write(data);
    else this.socket.write(data, () => written());
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    const head = this.#queue[0];
    if (head === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const now = Date.now();
      while (this.#queue[0] !== undefined && this.#queue[0].dueAt <= now) {
        const next = this.#queue.shift();
        if (next) this.#write(next.data, next.written);
      }
      this.#schedule();
    }, Math.max(0, head.dueAt - Date.now()));
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
  }
}

interface Link {
  client: net.Socket;
  upstream: net.Socket;
  toServer: DelayedPipe;
  toClient: DelayedPipe;
}

export class FaultProxy {
  readonly #server: net.Server;
  readonly #links = new Set<Link>();
  #settings: Required<ProxySettings> = { delayMs: 0, mode: 'pass', resetAfterBytes: 0 };
  #commands = 0;
  #accepted = 0;
  #port = 0;

  private constructor(
    readonly targetPort: number,
    readonly targetHost: string,
  ) {
    this.#server = net.createServer((client) => this.#accept(client));
  }

  /** Use startProxy(); the constructor cannot await the listening socket. */
  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
    const proxy = new FaultProxy(targetPort, targetHost);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen({ port: 0, host: '127.0.0.1' }, () => {
        proxy.#server.off('error', reject);
        resolve();
      });
    });
    const address = proxy.#server.address();
    if (address === null || typeof address !== 'object') throw new Error('proxy has no port');
    proxy.#port = address.port;
    return proxy;
  }

  /** Where clients connect instead of the target. */
  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.#port}`;
  }

  /** Merges into the current settings; omitted fields keep their value. */
  set(settings: ProxySettings): void {
    this.#settings = { ...this.#settings, ...settings };
  }

  /** Back to pass-through with no delay, no reset threshold. */
  reset(): void {
    this.#settings = { delayMs: 0, mode: 'pass', resetAfterBytes: 0 };
  }

  get settings(): Readonly<Required<ProxySettings>> {
    return { ...this.#settings };
  }

  /** RSTs both sides of every open connection: the client sees ECONNRESET, not a clean close. */
  resetAll(): void {
    for (const link of [...this.#links]) this.#drop(link, true);
  }

  stats(): ProxyStats {
    return { commands: this.#commands, connections: this.#links.size, accepted: this.#accepted };
  }

  resetStats(): void {
    this.#commands = 0;
    this.#accepted = 0;
  }

  /** Stops listening and destroys every connection; pending delayed chunks are discarded. */
  async close(): Promise<void> {
    for (const link of [...this.#links]) this.#drop(link, false);
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    this.#accepted++;
    if (this.#settings.mode === 'refuse') {
      client.on('error', () => undefined);
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    const upstream = net.connect({ port: this.targetPort, host: this.targetHost });
    upstream.setNoDelay(true);
    const link: Link = {
      client,
      upstream,
      toServer: new DelayedPipe(upstream),
      toClient: new DelayedPipe(client),
    };
    this.#links.add(link);
    let down = 0;
    let resetting = false;

    client.on('data', (data: Buffer) => {
      this.#commands++;
      if (this.#settings.mode === 'blackhole') return;
      link.toServer.push(data, this.#settings.delayMs);
    });
    upstream.on('data', (data: Buffer) => {
      if (this.#settings.mode === 'blackhole' || resetting) return;
      const limit = this.#settings.resetAfterBytes;
      down += data.length;
      if (limit > 0 && down > limit) {
        resetting = true;
        const keep = Math.max(0, limit - (down - data.length));
        // The partial reply goes through the pipe (keeps order with delayed chunks); the RST
        // follows shortly after it reached the kernel. Without the gap, data and RST arrive
        // together and Linux reports a clean EOF to the client instead of ECONNRESET.
        link.toClient.push(data.subarray(0, keep), this.#settings.delayMs, () => {
          setTimeout(() => this.#drop(link, true), RESET_GAP_MS);
        });
        return;
      }
      link.toClient.push(data, this.#settings.delayMs);
    });
    const end = (): void => this.#drop(link, false);
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  }

  #drop(link: Link, reset: boolean): void {
    if (!this.#links.delete(link)) return;
    link.toServer.clear();
    link.toClient.clear();
    if (reset) {
      link.client.resetAndDestroy();
      link.upstream.resetAndDestroy();
    } else {
      link.client.destroy();
      link.upstream.destroy();
    }
  }
}

/** Starts a proxy on a free loopback port forwarding to 127.0.0.1:targetPort. */
export function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
  return FaultProxy.start(targetPort, targetHost);
}
