/**
 * Parent side of the multi-instance harness: N cache instances as separate Node processes driven
 * over IPC (FAULTS.md section 3.6 and "Multi-instance tests").
 *
 * Separate processes are the point: one instance can be SIGKILLed, SIGSTOPped or have its event
 * loop blocked while the others keep running, which no in-process simulation reproduces.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signalQuietly, trackProcess } from './cleanup.js';
import type { ChildMessage, Handlers, ParentMessage, SerializedError } from './instance-child.js';

export { pollUntil, PollTimeoutError, type PollOptions } from './poll.js';
export type { Handler, Handlers } from './instance-child.js';

export interface StartInstancesOptions {
  /** The child module (.ts, run through tsx); it must call serveInstance(). Path or file: URL. */
  entry: string | URL;
  /** Added to this process' environment, e.g. `{ REDIS_URL: proxy.url }`. */
  env?: Record<string, string>;
  /** Per-instance extra environment, e.g. a proxy per instance so one link can be cut. */
  envFor?: (index: number) => Record<string, string>;
  /** Default deadline of each call(). Default 5,000 ms. */
  callTimeoutMs?: number;
  /** How long a child may take to load (tsx compiles on first run). Default 20,000 ms. */
  readyTimeoutMs?: number;
  /** Copy the children's stdout/stderr to ours as it arrives (debugging). Default false. */
  forwardOutput?: boolean;
}

export interface CallOptions {
  timeoutMs?: number;
}

type Result<H extends Handlers, M extends keyof H> = Promise<Awaited<ReturnType<H[M]>>>;

export interface Instance<H extends Handlers = Handlers> {
  /** Position in the group, for messages. */
  readonly index: number;
  readonly pid: number;
  /** Methods the child registered. */
  readonly methods: readonly string[];
  readonly exited: boolean;
  /**
   * Calls a child handler. Child errors reject with InstanceCallError carrying the remote name,
   * message and code, so `assert.rejects(p, { name: 'CacheTimeoutError' })` works across processes.
   */
  call<M extends keyof H & string>(method: M, ...args: Parameters<H[M]>): Result<H, M>;
  /** call() with its own deadline (e.g. longer than the default for a slow loader). */
  callWith<M extends keyof H & string>(options: CallOptions, method: M, ...args: Parameters<H[M]>): Result<H, M>;
  /** SIGSTOP the whole instance: its timers, sockets and subscriber all freeze. */
  pause(): void;
  resume(): void;
  /** SIGKILL and wait for exit; no cleanup runs in the child (a crash). */
  kill(): Promise<void>;
  /** Graceful: runs the child's onShutdown, then exits; SIGKILL after 5 s. Idempotent. */
  stop(): Promise<void>;
  /** The child's stdout+stderr tail, for failure messages. */
  output(): string;
}

/** A fixed-length tuple type, so `const [a, b] = group.instances` needs no `!` under noUncheckedIndexedAccess. */
export type TupleOf<T, N extends number, Acc extends T[] = []> = number extends N
  ? T[]
  : Acc['length'] extends N
    ? Acc
    : TupleOf<T, N, [...Acc, T]>;

export interface InstanceGroup<H extends Handlers = Handlers, N extends number = number> {
  readonly instances: TupleOf<Instance<H>, N>;
  /** Graceful stop of every instance, in parallel. */
  stopAll(): Promise<void>;
}

/** A child handler failed; fields mirror the remote error. */
export class InstanceCallError extends Error {
  readonly code: string | number | undefined;
  readonly remoteStack: string | undefined;
  constructor(
    error: SerializedError,
    readonly method: string,
    readonly instance: number,
  ) {
    super(error.message);
    this.name = error.name;
    this.code = error.code;
    this.remoteStack = error.stack;
  }
}

/** The call got no answer in time (child paused, blocked or handler hung). */
export class InstanceCallTimeoutError extends Error {
  override name = 'InstanceCallTimeoutError';
  readonly code = 'ETIMEDOUT';
}

/** The child exited while the call was pending or before it was made. */
export class InstanceExitedError extends Error {
  override name = 'InstanceExitedError';
  readonly code = 'ERR_INSTANCE_EXITED';
}

const OUTPUT_TAIL_CHARS = 16_384;

/**
 * `--import tsx` would be resolved against the child's cwd; resolving it here, from the harness,
 * keeps instances working when a test runs from another directory.
 */
const TSX_LOADER = import.meta.resolve('tsx');

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  method: string;
}

function isChildMessage(message: unknown): message is ChildMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    'type' in message &&
    (message.type === 'hoard-rpc-ready' || message.type === 'hoard-rpc-result')
  );
}

class ChildInstance<H extends Handlers> implements Instance<H> {
  #methods: string[] = [];
  #nextId = 1;
  #exited = false;
  #output = '';
  readonly #pending = new Map<number, Pending>();
  readonly #exit: Promise<void>;
  readonly #untrack: () => void;
  readonly ready: Promise<void>;

  constructor(
    readonly index: number,
    private readonly child: ChildProcess,
    entry: string,
    private readonly callTimeoutMs: number,
    readyTimeoutMs: number,
    forwardOutput: boolean,
  ) {
    this.#untrack = child.pid === undefined ? () => undefined : trackProcess(child.pid, entry);
    const collect = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
      if (forwardOutput) process.stderr.write(`[instance ${index}] ${chunk.toString('utf8')}`);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.#exit = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (error) => {
        this.#output += `\n${error.message}`;
        resolve();
      });
    }).then(() => {
      this.#exited = true;
      this.#untrack();
      for (const [id, pending] of this.#pending) {
        clearTimeout(pending.timer);
        this.#pending.delete(id);
        pending.reject(new InstanceExitedError(`instance ${index} exited during ${pending.method}()`));
      }
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signalQuietly(child.pid, 'SIGKILL');
        reject(new Error(`instance ${index} not ready within ${readyTimeoutMs} ms:\n${this.#output}`));
      }, readyTimeoutMs);
      child.on('message', (message: unknown) => {
        if (!isChildMessage(message)) return;
        if (message.type === 'hoard-rpc-ready') {
          clearTimeout(timer);
          this.#methods = message.methods;
          resolve();
          return;
        }
        const pending = this.#pending.get(message.id);
        if (pending === undefined) return; // Timed out already; the late answer is dropped.
        this.#pending.delete(message.id);
        clearTimeout(pending.timer);
        if (message.ok) pending.resolve(message.value);
        else pending.reject(new InstanceCallError(message.error, pending.method, index));
      });
      void this.#exit.then(() => {
        clearTimeout(timer);
        reject(new InstanceExitedError(`instance ${index} exited before it was ready:\n${this.#output}`));
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get methods(): readonly string[] {
    return this.#methods;
  }

  get exited(): boolean {
    return this.#exited;
  }

  output(): string {
    return this.#output;
  }

  call<M extends keyof H & string>(method: M, ...args: Parameters<H[M]>): Result<H, M> {
    return this.callWith({}, method, ...args);
  }

  callWith<M extends keyof H & string>(options: CallOptions, method: M, ...args: Parameters<H[M]>): Result<H, M> {
    const timeoutMs = options.timeoutMs ?? this.callTimeoutMs;
    return new Promise<unknown>((resolve, reject) => {
      if (this.#exited || !this.child.connected) {
        reject(new InstanceExitedError(`instance ${this.index} has exited; cannot call ${method}()`));
        return;
      }
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new InstanceCallTimeoutError(`instance ${this.index}: ${method}() got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer, method });
      const message: ParentMessage = { type: 'hoard-rpc-call', id, method, args };
      this.child.send(message, (error) => {
        if (error === null) return;
        this.#pending.delete(id);
        clearTimeout(timer);
        reject(error);
      });
    }) as Result<H, M>;
  }

  pause(): void {
    signalQuietly(this.child.pid, 'SIGSTOP');
  }

  resume(): void {
    signalQuietly(this.child.pid, 'SIGCONT');
  }

  async kill(): Promise<void> {
    if (this.#exited) return;
    signalQuietly(this.child.pid, 'SIGKILL');
    await this.#exit;
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    // A paused child could never process the shutdown message.
    signalQuietly(this.child.pid, 'SIGCONT');
    const timer = setTimeout(() => signalQuietly(this.child.pid, 'SIGKILL'), 5_000);
    if (this.child.connected) {
      const message: ParentMessage = { type: 'hoard-rpc-shutdown' };
      this.child.send(message, (error) => {
        if (error !== null) signalQuietly(this.child.pid, 'SIGKILL');
      });
    } else {
      signalQuietly(this.child.pid, 'SIGKILL');
    }
    await this.#exit;
    clearTimeout(timer);
  }
}

/**
 * Forks `n` copies of `entry` and resolves once all of them called serveInstance(). If one fails
 * to start, the others are killed before rejecting, so a broken fixture never leaks processes.
 *
 * Pass the entry's handler type for typed calls:
 * `startInstances<EchoHandlers, 2>(2, { entry })` then `a.call('echo', 1)` is checked.
 */
export async function startInstances<H extends Handlers = Handlers, N extends number = number>(
  n: N,
  options: StartInstancesOptions,
): Promise<InstanceGroup<H, N>> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  const entry = options.entry instanceof URL ? fileURLToPath(options.entry) : path.resolve(options.entry);
  const created: ChildInstance<H>[] = [];
  for (let index = 0; index < n; index++) {
    const child = fork(entry, [], {
      execArgv: ['--import', TSX_LOADER],
      env: { ...process.env, ...options.env, ...options.envFor?.(index), HOARD_INSTANCE_INDEX: String(index) },
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    created.push(new ChildInstance<H>(index, child, entry, options.callTimeoutMs ?? 5_000, options.readyTimeoutMs ?? 20_000, options.forwardOutput ?? false));
  }
  const stopAll = async (): Promise<void> => {
    await Promise.all(created.map((i) => i.stop()));
  };
  const results = await Promise.allSettled(created.map((i) => i.ready));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(created.map((i) => i.kill()));
    throw failed.reason;
  }
  return { instances: created as unknown as TupleOf<Instance<H>, N>, stopAll };
}
