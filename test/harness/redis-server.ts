/**
 * Throwaway redis-server processes for tests (FAULTS.md section 4).
 *
 * Every test gets its own server on its own loopback port so files can run in parallel and faults
 * (SIGSTOP, kill, CONFIG SET) never leak into the shared Redis on 6379. Servers are spawned
 * directly (no shell) so `pid` is redis-server itself: signalling a wrapper shell would make pause()
 * a silent no-op, which FAULTS.md reports hitting.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { signalQuietly, trackDir, trackProcess } from './cleanup.js';
import { findFreePort } from './ports.js';
import { sendCommand, sendCommands } from './resp.js';

export const REDIS_HOST = '127.0.0.1';

export interface StartRedisOptions {
  /** Fixed port; if it is busy we keep retrying for a few seconds, then fail. Default: a free port. */
  port?: number;
  /** Adds `--requirepass`; cli(), monitor() and the readiness probe authenticate with it. */
  password?: string;
  /**
   * Extra server arguments, e.g. `['--enable-debug-command', 'local']`. A function receives the
   * chosen port, for settings that embed it (cluster config file names).
   */
  extraArgs?: readonly string[] | ((port: number) => readonly string[]);
  /** Choose a port whose cluster bus port (port + 10000) is also free. */
  clusterBus?: boolean;
  /** How long to wait for PONG after spawning. Default 10,000 ms (a loaded 2-core CI box is slow). */
  readyTimeoutMs?: number;
}

/** Collected `MONITOR` output; `lines` fills while the monitor runs. */
export interface RedisMonitor {
  /** Raw MONITOR lines (the leading `OK` and the harness' own sentinel excluded). */
  readonly lines: string[];
  /** Lower-cased command names in order, e.g. `['set', 'get', 'scan']`. */
  commands(): string[];
  /**
   * True if the monitor connection ended before stop() (server killed, `CLIENT KILL TYPE normal`
   * also kills monitors): "KEYS was never sent" would then pass vacuously.
   */
  readonly disconnected: boolean;
  /** Waits until everything sent before the call is recorded, then ends the monitor. */
  stop(): Promise<void>;
}

export interface RedisProcess {
  readonly host: typeof REDIS_HOST;
  readonly port: number;
  /** `redis://127.0.0.1:P` (no credentials, even with a password: pass it separately). */
  readonly url: string;
  readonly password: string | undefined;
  /** PID of the current redis-server; changes after restart(). */
  readonly pid: number;
  /** The server's own --dir (removed by stop()). */
  readonly dir: string;
  /** False after kill() or stop() until restart(). */
  readonly running: boolean;
  /**
   * SIGSTOP: connects still succeed (kernel backlog) but nothing is answered, i.e. a half-open
   * server. Signal delivery is effectively synchronous: the server cannot run again before
   * stopping, so a command sent after pause() returns is never answered until resume().
   */
  pause(): void;
  /** SIGCONT: replies queued while paused are flushed ("late reply" tests). */
  resume(): void;
  /** SIGKILL and wait for exit; the data is gone (no persistence). */
  kill(): Promise<void>;
  /** Kill, then start again on the same port and args, waiting for PONG. */
  restart(): Promise<void>;
  /** SIGCONT + SIGTERM (SIGKILL after 2 s), wait, remove the dir. Idempotent. */
  stop(): Promise<void>;
  /**
   * `redis-cli -h 127.0.0.1 -p P -e ...args`, resolving with stdout minus trailing whitespace.
   * Error replies reject with RedisCliError (thanks to `-e`) instead of returning "ERR ..." as text.
   * Prepend `-c` to follow cluster redirections.
   */
  cli(...args: string[]): Promise<string>;
  /** Starts `redis-cli monitor`; resolves once the server confirmed it is monitoring. */
  monitor(): Promise<RedisMonitor>;
  /** Tail of the server's stdout/stderr, for failure messages. */
  logs(): string;
}

/** redis-server could not bind its port (someone else holds it). */
export class PortInUseError extends Error {
  override name = 'PortInUseError';
  readonly code = 'EADDRINUSE';
  constructor(readonly port: number) {
    super(`port ${port} is already in use`);
  }
}

/** A redis-cli invocation failed: error reply (with -e), connection failure or timeout. */
export class RedisCliError extends Error {
  override name = 'RedisCliError';
  constructor(
    message: string,
    readonly args: readonly string[],
    readonly stdout: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

const LOG_TAIL_BYTES = 16_384;
const CLI_TIMEOUT_MS = 10_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One redis-server child process plus what we learned about it. */
interface Launched {
  child: ChildProcess;
  pid: number;
  exited: Promise<Exit>;
  hasExited: () => boolean;
}

function serverArgs(port: number, dir: string, password: string | undefined, extra: readonly string[]): string[] {
  const args = ['--port', String(port), '--bind', REDIS_HOST, '--save', '', '--appendonly', 'no', '--dir', dir];
  if (password !== undefined) args.push('--requirepass', password);
  return [...args, ...extra];
}

/**
 * Spawns once and waits until *this* child answers PING. Checking `process_id` matters: if another
 * test's server already holds the port, a bare PING would get PONG from the wrong server while ours
 * is exiting with "Address already in use".
 */
async function launch(
  port: number,
  args: readonly string[],
  password: string | undefined,
  readyTimeoutMs: number,
  appendLog: (chunk: Buffer) => void,
): Promise<Launched> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const untrack = child.pid === undefined ? () => undefined : trackProcess(child.pid, 'redis-server');
  // This launch's own output: the server-wide tail also holds earlier runs' logs, which must not
  // turn a new failure into a stale "Address already in use".
  let output = '';
  const onOutput = (chunk: Buffer): void => {
    appendLog(chunk);
    if (output.length < LOG_TAIL_BYTES) output += chunk.toString('utf8');
  };
  const logs = (): string => output;
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  let exitInfo: Exit | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      untrack();
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.once('error', (error) => {
      untrack();
      spawnError = error;
      exitInfo = { code: null, signal: null };
      resolve(exitInfo);
    });
  });
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exitInfo !== undefined) {
      if (spawnError) throw new Error(`could not spawn redis-server: ${spawnError.message}`, { cause: spawnError });
      if (/Address already in use/i.test(logs())) throw new PortInUseError(port);
      throw new Error(`redis-server on port ${port} exited (code ${exitInfo.code}, signal ${exitInfo.signal}):\n${logs()}`);
    }
    const pid = child.pid;
    if (pid !== undefined) {
      try {
        const [pong, info] = await sendCommands(port, [['PING'], ['INFO', 'server']], {
          timeoutMs: 500,
          ...(password === undefined ? {} : { password }),
        });
        if (pong === 'PONG' && typeof info === 'string' && info.includes(`process_id:${pid}\r\n`)) {
          return { child, pid, exited, hasExited: () => exitInfo !== undefined };
        }
      } catch {
        // Not listening yet (ECONNREFUSED) or still loading: poll again.
      }
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`redis-server on port ${port} did not answer PING within ${readyTimeoutMs} ms:\n${logs()}`);
    }
    await sleep(10);
  }
}

class RedisServer implements RedisProcess {
  readonly host = REDIS_HOST;
  readonly url: string;
  #current: Launched | undefined;
  #stopped = false;
  #log: Buffer[] = [];
  #logBytes = 0;
  readonly #monitors = new Set<MonitorSession>();
  readonly #untrackDir: () => void;

  constructor(
    readonly port: number,
    readonly dir: string,
    readonly password: string | undefined,
    private readonly args: readonly string[],
    private readonly readyTimeoutMs: number,
  ) {
    this.url = `redis://${REDIS_HOST}:${port}`;
    this.#untrackDir = trackDir(dir);
  }

  get pid(): number {
    if (this.#current === undefined) throw new Error(`redis on port ${this.port} is not running`);
    return this.#current.pid;
  }

  get running(): boolean {
    return this.#current !== undefined && !this.#current.hasExited();
  }

  readonly appendLog = (chunk: Buffer): void => {
    this.#log.push(chunk);
    this.#logBytes += chunk.length;
    while (this.#logBytes > LOG_TAIL_BYTES && this.#log.length > 1) {
      this.#logBytes -= this.#log.shift()?.length ?? 0;
    }
  };

  logs(): string {
    return Buffer.concat(this.#log).toString('utf8');
  }

  /** Starts the server, retrying for `busyRetryMs` while the port is held by someone else. */
  async start(busyRetryMs: number): Promise<void> {
    if (this.#stopped) throw new Error('redis server was stopped; start a new one');
    const deadline = Date.now() + busyRetryMs;
    for (;;) {
      try {
        this.#current = await launch(this.port, this.args, this.password, this.readyTimeoutMs, this.appendLog);
        return;
      } catch (error) {
        if (!(error instanceof PortInUseError) || Date.now() > deadline) throw error;
        await sleep(50);
      }
    }
  }

  pause(): void {
    if (!signalQuietly(this.#current?.pid, 'SIGSTOP')) throw new Error(`redis on port ${this.port} is not running`);
  }

  resume(): void {
    signalQuietly(this.#current?.pid, 'SIGCONT');
  }

  async kill(): Promise<void> {
    const current = this.#current;
    if (current === undefined || current.hasExited()) return;
    signalQuietly(current.pid, 'SIGKILL');
    await current.exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    // The port is normally reusable at once (Redis sets SO_REUSEADDR); the retry covers a
    // parallel test file that grabbed it in the gap, which then gets a clear error.
    await this.start(5_000);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all([...this.#monitors].map((m) => m.kill()));
    const current = this.#current;
    if (current !== undefined && !current.hasExited()) {
      signalQuietly(current.pid, 'SIGCONT');
      signalQuietly(current.pid, 'SIGTERM');
      const timer = setTimeout(() => signalQuietly(current.pid, 'SIGKILL'), 2_000);
      await current.exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
    this.#untrackDir();
  }

  cliEnv(): NodeJS.ProcessEnv {
    // REDISCLI_AUTH instead of -a: no "using a password on the command line" warning on stderr.
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (this.password === undefined) delete env['REDISCLI_AUTH'];
    else env['REDISCLI_AUTH'] = this.password;
    return env;
  }

  cli(...args: string[]): Promise<string> {
    return runCli(['-h', REDIS_HOST, '-p', String(this.port), '-e', ...args], { env: this.cliEnv() });
  }

  async monitor(): Promise<RedisMonitor> {
    const session = new MonitorSession(this, () => this.#monitors.delete(session));
    this.#monitors.add(session);
    try {
      await session.ready;
    } catch (error) {
      await session.kill();
      throw error;
    }
    return session;
  }
}

export interface RunCliOptions {
  env?: NodeJS.ProcessEnv;
  /** Default 10,000 ms, so a command sent to a paused server fails the test instead of hanging it. */
  timeoutMs?: number;
}

/** Runs redis-cli; non-zero exit (error reply with -e, refused connection, timeout) rejects. */
export function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<string> {
  const { env = process.env, timeoutMs = CLI_TIMEOUT_MS } = options;
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) {
        resolve(stdout.trimEnd());
        return;
      }
      const exitCode = typeof error.code === 'number' ? error.code : null;
      const detail = (stderr.trim() || stdout.trim() || error.message).split('\n').slice(0, 20).join('\n');
      const why = error.killed ? `timed out after ${timeoutMs} ms` : detail;
      reject(new RedisCliError(`redis-cli ${args.join(' ')}: ${why}`, args, stdout, stderr, exitCode));
    });
  });
}

const SENTINEL_PREFIX = 'hoard-harness-monitor-sentinel-';

class MonitorSession implements RedisMonitor {
  readonly lines: string[] = [];
  readonly ready: Promise<void>;
  #disconnected = false;
  #ended = false;
  #stopping = false;
  #partial = '';
  #sawOk = false;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly #lineWaiters = new Set<() => void>();
  readonly #sentinelsSeen = new Set<string>();

  constructor(
    private readonly server: RedisServer,
    onEnd: () => void,
  ) {
    this.#child = spawn('redis-cli', ['-h', REDIS_HOST, '-p', String(server.port), 'monitor'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: server.cliEnv(),
    });
    const child = this.#child;
    const untrack = child.pid === undefined ? () => undefined : trackProcess(child.pid, 'redis-cli');
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    }).then(() => {
      // Set even when we stopped it, so waiters wake; `disconnected` reports only unexpected ends.
      this.#ended = true;
      if (!this.#stopping) this.#disconnected = true;
      untrack();
      onEnd();
      for (const wake of [...this.#lineWaiters]) wake();
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => settle(new Error(`redis-cli monitor did not start within 5 s: ${stderr}`)), 5_000);
      const check = (): void => {
        if (this.#sawOk) settle(undefined);
        else if (this.#ended) settle(new Error(`redis-cli monitor exited before starting: ${stderr}`));
      };
      const settle = (error: Error | undefined): void => {
        clearTimeout(timer);
        this.#lineWaiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      this.#lineWaiters.add(check);
    });
    child.stdout?.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  get disconnected(): boolean {
    return this.#disconnected;
  }

  #onData(chunk: Buffer): void {
    const text = this.#partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.#partial = parts.pop() ?? '';
    for (const raw of parts) {
      const line = raw.replace(/\r$/, '');
      if (!this.#sawOk) {
        // MONITOR's first reply is +OK: from then on every command reaches us.
        if (line === 'OK') this.#sawOk = true;
      } else if (line.includes(SENTINEL_PREFIX)) {
        this.#sentinelsSeen.add(line);
      } else if (line !== '') {
        this.lines.push(line);
      }
    }
    for (const wake of [...this.#lineWaiters]) wake();
  }

  commands(): string[] {
    const names: string[] = [];
    for (const line of this.lines) {
      const match = /\] "((?:[^"\\]|\\.)*)"/.exec(line);
      if (match?.[1] !== undefined) names.push(match[1].toLowerCase());
    }
    return names;
  }

  /**
   * Sends a unique ECHO and waits until MONITOR shows it: MONITOR output is asynchronous, so
   * without this barrier the last commands of a test could be missed and a "KEYS was never
   * sent" assertion would pass by accident.
   */
  async stop(): Promise<void> {
    if (!this.#ended && this.server.running) {
      const sentinel = `${SENTINEL_PREFIX}${process.pid}-${Math.random().toString(36).slice(2)}`;
      try {
        await sendCommand(this.server.port, ['ECHO', sentinel], {
          timeoutMs: 2_000,
          ...(this.server.password === undefined ? {} : { password: this.server.password }),
        });
        await this.#waitFor(() => [...this.#sentinelsSeen].some((l) => l.includes(sentinel)), 2_000);
      } catch {
        // A paused or dying server cannot echo; stopping must still succeed (see `disconnected`).
      }
    }
    await this.kill();
  }

  #waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (predicate()) done(undefined);
        else if (this.#ended) done(new Error('monitor disconnected'));
      };
      const done = (error: Error | undefined): void => {
        clearTimeout(timer);
        this.#lineWaiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => done(new Error('monitor sentinel not seen in time')), timeoutMs);
      this.#lineWaiters.add(check);
      check();
    });
  }

  async kill(): Promise<void> {
    this.#stopping = true;
    signalQuietly(this.#child.pid, 'SIGKILL');
    await this.#exited;
  }
}

/**
 * Starts a private redis-server. Without `port`, a free port is chosen and a lost race for it
 * (another test file bound it first) silently moves on to another port.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisProcess> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  const maxAttempts = options.port === undefined ? 10 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const port = options.port ?? (await findFreePort(options.clusterBus === true ? { clusterBus: true } : {}));
    const extra = typeof options.extraArgs === 'function' ? options.extraArgs(port) : (options.extraArgs ?? []);
    const dir = mkdtempSync(path.join(os.tmpdir(), `hoard-redis-${port}-`));
    const server = new RedisServer(port, dir, options.password, serverArgs(port, dir, options.password, extra), readyTimeoutMs);
    try {
      await server.start(options.port === undefined ? 0 : 3_000);
      return server;
    } catch (error) {
      await server.stop();
      lastError = error;
      if (!(error instanceof PortInUseError)) throw error;
    }
  }
  throw lastError;
}
