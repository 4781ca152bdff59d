/**
 * Runs the real `hoard` bin from source as a child process (`node --import tsx src/cli/main.ts`),
 * with an environment of the test's choosing (none of the outer CACHE_* / REDIS_* / HOARD_*
 * variables leak in), and registers what the tests start so one `after()` stops it all.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { startCluster, startRedis } from '../harness/index.js';
import type { RedisCluster, RedisProcess, StartClusterOptions, StartRedisOptions } from '../harness/index.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Under tsx on a loaded 2-core machine a run takes about a second; this bounds a stuck one. */
const DEFAULT_TIMEOUT = 60_000;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CliOptions {
  /** Variables on top of a clean environment (PATH, HOME, ...). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
  /** Extra node options before the entry (`--import ./fixture.mjs`). */
  nodeArgs?: readonly string[];
  /** Entry file instead of the source main (a built bundle). */
  entry?: string;
}

/** The environment of a child: the outer one without anything that configures hoard or Redis. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(CACHE_|REDIS_|HOARD_)/.test(name) || name === 'NO_COLOR' || name === 'FORCE_COLOR') continue;
    env[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  return env;
}

/** Starts the CLI; the caller reads or kills the child. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): ChildProcess {
  const entry = options.entry ?? MAIN;
  const nodeArgs = options.entry === undefined ? ['--import', 'tsx', ...(options.nodeArgs ?? [])] : [...(options.nodeArgs ?? [])];
  const child = spawn(process.execPath, [...nodeArgs, entry, ...args], { cwd: options.cwd ?? ROOT, env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs the CLI to the end: exit code, output, wall time. Kills it past `timeoutMs`. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const started = performance.now();
  const child = spawnCli(args, options);
  return collect(child, options.timeoutMs ?? DEFAULT_TIMEOUT, started, args);
}

/** Waits for a spawned child, collecting its output. */
export function collect(child: ChildProcess, timeoutMs: number, started = performance.now(), args: readonly string[] = []): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hoard ${args.join(' ')} did not end within ${timeoutMs} ms\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** The CLI's stdout as JSON, with its output in the message when it is not. */
export function json<T = Record<string, unknown>>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
}

/** One line describing a run, for assertion messages. */
export function show(result: CliResult): string {
  return `exit ${result.code}${result.signal === null ? '' : ` (${result.signal})`}\nstdout: ${result.stdout.slice(0, 3000)}\nstderr: ${result.stderr.slice(0, 3000)}`;
}

const children = new Set<ChildProcess>();
const cleanups: (() => Promise<unknown>)[] = [];

/** Never lets one stuck close hang the file. */
async function bounded(fn: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([fn().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
  clearTimeout(timer);
}

/** Call once at the top of a test file: stops the children, servers and clusters it started. */
export function registerCleanup(): void {
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    for (const fn of cleanups.splice(0).reverse()) await bounded(fn);
  });
}

/** Something to close in `after()`, in reverse order of registration. */
export function onCleanup(fn: () => Promise<unknown>): void {
  cleanups.push(fn);
}

export async function server(options: StartRedisOptions = {}): Promise<RedisProcess> {
  const redis = await startRedis(options);
  onCleanup(() => redis.stop());
  return redis;
}

export async function cluster(options: StartClusterOptions = {}): Promise<RedisCluster> {
  const c = await startCluster(options);
  onCleanup(() => c.stop());
  return c;
}

/** A prefix no other test uses. */
let prefixes = 0;
export function freshPrefix(label: string): string {
  return `cli-${label}-${process.pid}-${++prefixes}:`;
}
