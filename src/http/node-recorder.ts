import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { noteBuffered } from './buffered.js';

type WriteCallback = (error?: Error | null) => void;
type Loose<R> = (this: ServerResponse, ...args: unknown[]) => R;

/** The response's own methods as they were before recording, bound to it. */
export interface Originals {
  end(body?: Buffer, callback?: () => void): void;
}

/** What happens to a complete body. */
export type Completion =
  /** Send it as recorded (the hook may have changed headers). */
  | { type: 'send' }
  /** Send a 304 without body (the hook set status and headers). */
  | { type: 'not-modified' }
  /** Drop the handler's response and write another one through the originals. */
  | { type: 'replace'; write(originals: Originals): void };

export interface RecorderHooks {
  /** The body is complete: ended within one turn of the event loop and within the limit. */
  complete(body: Buffer): Completion;
  /** The body streams (or is too large): from now on it passes through. Headers can still be set. */
  streaming(): void;
  /** After a complete body was handed to the response (outer layers have set their headers). */
  sent(): void;
  /** The response closed before the handler ended it. */
  aborted(): void;
}

const EMPTY = Buffer.alloc(0);
const RECORDING = Symbol('hoard.recording');

type Recorded = ServerResponse & { [RECORDING]?: Recording };

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('The "chunk" argument must be of type string or an instance of Buffer or Uint8Array');
}

/** `writeHead`'s headers argument applied with `setHeader`, so they are readable before sending. */
function applyHeaders(res: ServerResponse, headers: unknown): void {
  if (headers === undefined || headers === null) return;
  if (Array.isArray(headers)) {
    if (headers.length !== 0 && Array.isArray(headers[0])) {
      for (const pair of headers as [string, OutgoingHttpHeader][]) res.setHeader(pair[0], pair[1]);
    } else {
      // Node's raw form: [name, value, name, value, …]; repeated names add lines.
      const seen = new Map<string, string[]>();
      for (let i = 0; i + 1 < headers.length; i += 2) {
        const name = String(headers[i]);
        const lines = seen.get(name.toLowerCase()) ?? [];
        lines.push(String(headers[i + 1]));
        seen.set(name.toLowerCase(), lines);
        res.setHeader(name, lines.length === 1 ? lines[0]! : lines);
      }
    }
    return;
  }
  const record = headers as OutgoingHttpHeaders;
  for (const name of Object.keys(record)) {
    const value = record[name];
    if (value !== undefined) res.setHeader(name, value);
  }
}

/** The state of one recorded response; the response's methods find it under a symbol. */
class Recording implements Originals {
  state: 'open' | 'buffering' | 'passing' | 'done' = 'open';
  readonly chunks: Buffer[] = [];
  readonly callbacks: (WriteCallback | undefined)[] = [];
  size = 0;

  constructor(
    readonly res: ServerResponse,
    readonly limit: number,
    readonly hooks: RecorderHooks,
    readonly writeHead: Loose<ServerResponse>,
    readonly write: Loose<boolean>,
    readonly endFn: Loose<ServerResponse>,
    readonly flushHeaders: Loose<void>,
  ) {}

  end(body?: Buffer, callback?: () => void): void {
    if (body === undefined) this.endFn.call(this.res, callback);
    else this.endFn.call(this.res, body, callback);
  }

  /** From now on everything passes through: what was buffered is written first. */
  stream(): void {
    if (this.state === 'passing' || this.state === 'done') return;
    this.state = 'passing';
    this.hooks.streaming();
    const { chunks, callbacks } = this;
    for (let i = 0; i < chunks.length; i++) this.write.call(this.res, chunks[i]!, callbacks[i] ?? noop);
    chunks.length = 0;
    callbacks.length = 0;
    this.size = 0;
  }

  buffer(chunk: Buffer, callback: WriteCallback | undefined): void {
    this.chunks.push(chunk);
    this.callbacks.push(callback);
    this.size += chunk.length;
    noteBuffered(this.size);
  }
}

function recordingOf(res: ServerResponse): Recording {
  return (res as Recorded)[RECORDING]!;
}

function endOfTurn(r: Recording): void {
  if (r.state === 'buffering') r.stream();
}

// The replacements below are shared by every recorded response (no closure per request); `this`
// is the response, as Node and every framework call these methods on it.

function recordingWriteHead(this: ServerResponse, status: number, ...rest: unknown[]): ServerResponse {
  const r = recordingOf(this);
  if (r.state === 'passing' || r.state === 'done' || !Number.isInteger(status) || status < 100 || status > 999) {
    return r.writeHead.call(this, status, ...rest);
  }
  this.statusCode = status;
  let headers = rest[0];
  if (typeof headers === 'string') {
    this.statusMessage = headers;
    headers = rest[1];
  }
  applyHeaders(this, headers);
  return this;
}

function recordingWrite(this: ServerResponse, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
  const r = recordingOf(this);
  if (r.state === 'passing' || r.state === 'done') return r.write.call(this, chunk, encoding, callback);
  const cb = (typeof encoding === 'function' ? encoding : callback) as WriteCallback | undefined;
  const buffer = toBuffer(chunk, encoding);
  if (r.size + buffer.length > r.limit) {
    r.stream();
    return r.write.call(this, buffer, cb ?? noop);
  }
  r.buffer(buffer, cb);
  if (r.state === 'open') {
    r.state = 'buffering';
    process.nextTick(endOfTurn, r);
  }
  return true;
}

function recordingEnd(this: ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown): ServerResponse {
  const r = recordingOf(this);
  if (r.state === 'passing' || r.state === 'done') return r.endFn.call(this, chunk, encoding, callback);
  let cb: WriteCallback | undefined;
  if (typeof chunk === 'function') {
    cb = chunk as WriteCallback;
    chunk = undefined;
  } else if (typeof encoding === 'function') {
    cb = encoding as WriteCallback;
  } else if (typeof callback === 'function') {
    cb = callback as WriteCallback;
  }
  const last = chunk === undefined || chunk === null ? EMPTY : toBuffer(chunk, encoding);
  if (r.size + last.length > r.limit) {
    r.stream();
    if (last.length === 0) r.endFn.call(this, cb);
    else r.endFn.call(this, last, cb);
    return this;
  }
  if (last.length !== 0) r.buffer(last, undefined);
  r.state = 'done';
  const { chunks, callbacks } = r;
  const body = chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, r.size);
  let done: (() => void) | undefined = cb;
  if (callbacks.some((c) => c !== undefined)) {
    const pending = callbacks.filter((c): c is WriteCallback => c !== undefined);
    done = (): void => {
      for (const c of pending) c();
      cb?.();
    };
  }
  chunks.length = 0;
  callbacks.length = 0;
  const completion = r.hooks.complete(body);
  if (completion.type === 'replace') completion.write(r);
  else if (completion.type === 'not-modified' || body.length === 0) r.end(undefined, done);
  else r.end(body, done);
  r.hooks.sent();
  return this;
}

function recordingFlushHeaders(this: ServerResponse): void {
  const r = recordingOf(this);
  r.stream();
  r.flushHeaders.call(this);
}

function onClose(this: ServerResponse): void {
  const r = recordingOf(this);
  if (r.state === 'open' || r.state === 'buffering') {
    r.state = 'done';
    r.hooks.aborted();
  }
}

/**
 * Records the response of the request that runs the handler on a miss, by taking over
 * `writeHead`, `write`, `end` and `flushHeaders` of this one response:
 *
 * 1. `writeHead` is held back (its status and headers applied with `setHeader`), so headers can
 *    still be added once the body is known.
 * 2. Writes are buffered until the end of the current turn of the event loop. A body ended in that
 *    turn is complete: `hooks.complete` decides what is sent (the recorded body, a 304, or a stale
 *    page instead of an error).
 * 3. A body still open at the end of the turn, past `limit` bytes, or whose headers are flushed,
 *    streams: what was buffered is written and the rest passes straight through. No more than
 *    `limit` bytes are ever held (FAULTS.md H12).
 *
 * Layers mounted around the cache keep working: calls go to the methods the response had when
 * recording started (an outer `compression()`'s, or Node's), and Node's own implicit `writeHead`
 * reaches the wrappers mounted after the cache.
 */
export function recordResponse(res: ServerResponse, limit: number, hooks: RecorderHooks): void {
  // Kept loosely typed: called back with the argument shapes Node accepts at run time.
  /* eslint-disable @typescript-eslint/unbound-method */
  const recording = new Recording(
    res,
    limit,
    hooks,
    res.writeHead as Loose<ServerResponse>,
    res.write as Loose<boolean>,
    res.end as Loose<ServerResponse>,
    res.flushHeaders,
  );
  /* eslint-enable @typescript-eslint/unbound-method */
  (res as Recorded)[RECORDING] = recording;
  res.writeHead = recordingWriteHead;
  res.write = recordingWrite as ServerResponse['write'];
  res.end = recordingEnd as ServerResponse['end'];
  res.flushHeaders = recordingFlushHeaders;
  res.once('close', onClose);
}

function noop(): void {}
