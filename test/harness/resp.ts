/**
 * A minimal RESP2 client over a raw socket.
 *
 * The harness must observe the server without a client library: a library's reconnects, offline
 * queue and timeouts would hide exactly the faults (a frozen server, a refused auth) the tests are
 * about, and the cache under test will bring its own client anyway.
 */
import net from 'node:net';

/** An error reply (`-ERR ...`) from the server, returned as a value inside pipelines. */
export class RespError extends Error {
  override name = 'RespError';
  /** First word of the reply, e.g. `NOAUTH`, `CROSSSLOT`, `MOVED`. */
  readonly prefix: string;
  constructor(message: string) {
    super(message);
    this.prefix = message.split(' ', 1)[0] ?? '';
  }
}

/** The server did not answer in time; a frozen (SIGSTOPped) server looks exactly like this. */
export class RespTimeoutError extends Error {
  override name = 'RespTimeoutError';
  readonly code = 'ETIMEDOUT';
}

export type RespReply = string | number | null | RespError | readonly RespReply[];

export interface RespOptions {
  host?: string;
  /** Whole-exchange deadline, connect included. Default 2,000 ms. */
  timeoutMs?: number;
  /** Sent as `AUTH` before the commands; its reply is not returned. */
  password?: string;
}

/** Encodes a command as a RESP array of bulk strings (the form every server accepts). */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Incremental parser: returns the reply and the offset after it, or undefined when the buffer
 * does not yet hold a complete reply (TCP may split a reply anywhere).
 */
export function parseReply(buf: Buffer, offset = 0): { reply: RespReply; next: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buf[offset] ?? 0);
  const line = buf.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { reply: line, next: afterLine };
    case '-':
      return { reply: new RespError(line), next: afterLine };
    case ':':
      return { reply: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: null, next: afterLine };
      if (buf.length < afterLine + length + 2) return undefined;
      return { reply: buf.toString('utf8', afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { reply: null, next: afterLine };
      const items: RespReply[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, next);
        if (item === undefined) return undefined;
        items.push(item.reply);
        next = item.next;
      }
      return { reply: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)} at offset ${offset}`);
  }
}

/**
 * Sends commands pipelined on one fresh connection and resolves with one reply per command.
 * Error replies are values (RespError), so one call can assert e.g. NOAUTH then OK.
 * Rejects with RespTimeoutError on deadline and with the socket error if the connection fails.
 */
export function sendCommands(
  port: number,
  commands: readonly (readonly string[])[],
  options: RespOptions = {},
): Promise<RespReply[]> {
  const { host = '127.0.0.1', timeoutMs = 2_000, password } = options;
  const all = password === undefined ? commands : [['AUTH', password], ...commands];
  return new Promise<RespReply[]>((resolve, reject) => {
    const socket = net.connect({ port, host });
    socket.setNoDelay(true);
    let buffer = Buffer.alloc(0);
    const replies: RespReply[] = [];
    let settled = false;
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(password === undefined ? replies : replies.slice(1));
    };
    const timer = setTimeout(() => {
      finish(new RespTimeoutError(`no reply from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => {
      socket.write(Buffer.concat(all.map(encodeCommand)));
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        for (;;) {
          const parsed = parseReply(buffer);
          if (parsed === undefined) break;
          replies.push(parsed.reply);
          buffer = buffer.subarray(parsed.next);
        }
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (replies.length >= all.length) finish(undefined);
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => {
      finish(new Error(`connection to ${host}:${port} closed after ${replies.length}/${all.length} replies`));
    });
  });
}

/** Sends one command; an error reply rejects with RespError (what most assertions want). */
export async function sendCommand(port: number, args: readonly string[], options: RespOptions = {}): Promise<RespReply> {
  const [reply] = await sendCommands(port, [args], options);
  if (reply instanceof RespError) throw reply;
  return reply ?? null;
}

/**
 * A long-lived RESP connection: replies are matched to commands in FIFO order, which is what lets
 * a test send through the proxy, change its delay, send again and check the replies kept order.
 * A timed-out command destroys the connection, since later replies could no longer be matched.
 */
export class RespConnection {
  readonly #socket: net.Socket;
  readonly #pending: { resolve: (reply: RespReply) => void; reject: (error: Error) => void }[] = [];
  #buffer = Buffer.alloc(0);
  #closeError: Error | undefined;
  /** Resolves when the socket closes, with the error that closed it (ECONNRESET...) if any. */
  readonly closed: Promise<Error | undefined>;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.closed = new Promise((resolve) => {
      socket.on('error', (error) => {
        this.#closeError = error;
      });
      socket.on('close', () => {
        const error = this.#closeError ?? new Error('connection closed');
        for (const pending of this.#pending.splice(0)) pending.reject(error);
        resolve(this.#closeError);
      });
    });
  }

  static open(port: number, options: { host?: string; timeoutMs?: number } = {}): Promise<RespConnection> {
    const { host = '127.0.0.1', timeoutMs = 2_000 } = options;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RespTimeoutError(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new RespConnection(socket));
      });
    });
  }

  get isOpen(): boolean {
    return !this.#socket.destroyed;
  }

  /** Sends one command; an error reply rejects with RespError. */
  send(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<RespReply> {
    const { timeoutMs = 2_000 } = options;
    return new Promise<RespReply>((resolve, reject) => {
      if (this.#socket.destroyed) {
        reject(this.#closeError ?? new Error('connection closed'));
        return;
      }
      const timer = setTimeout(() => {
        reject(new RespTimeoutError(`no reply to ${args[0] ?? ''} within ${timeoutMs} ms`));
        this.#socket.destroy();
      }, timeoutMs);
      this.#pending.push({
        resolve: (reply) => {
          clearTimeout(timer);
          if (reply instanceof RespError) reject(reply);
          else resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#socket.write(encodeCommand(args));
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    try {
      for (;;) {
        const parsed = parseReply(this.#buffer);
        if (parsed === undefined) return;
        this.#buffer = this.#buffer.subarray(parsed.next);
        this.#pending.shift()?.resolve(parsed.reply);
      }
    } catch (error) {
      this.#closeError = error instanceof Error ? error : new Error(String(error));
      this.#socket.destroy();
    }
  }
}
