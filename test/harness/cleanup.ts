/**
 * Last-resort cleanup for processes and directories the harness creates.
 *
 * `after()` hooks do not run when a test file throws at top level, when the runner cancels it, or
 * when an assertion fails before a hook is registered. A SIGSTOPped redis-server that outlives the
 * run keeps its port and memory forever, so every spawned process is tracked here and killed:
 *
 * - on 'exit' (normal end, process.exit, uncaught exception), synchronously;
 * - on SIGINT/SIGTERM/SIGHUP (`node --test` cancels a timed-out file with SIGTERM), which would
 *   otherwise bypass 'exit' handlers;
 * - when this process is SIGKILLed or OOM-killed, by a small detached "reaper" process that holds
 *   an IPC channel to us and kills everything still tracked once that channel closes.
 *
 * Each entry carries a cmdline fragment that is checked before killing, so a PID reused by an
 * unrelated process after ours exited is never signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

interface TrackedProcess {
  pid: number;
  cmdlineIncludes: string;
}

const processes = new Map<number, TrackedProcess>();
const dirs = new Set<string>();
let installed = false;
let reaper: ChildProcess | undefined;

type ReaperMessage =
  | { op: 'add-process'; pid: number; cmdlineIncludes: string }
  | { op: 'remove-process'; pid: number }
  | { op: 'add-dir'; dir: string }
  | { op: 'remove-dir'; dir: string };

/**
 * Runs as plain CommonJS via `node -e` (no tsx: it must start fast and depend on nothing). It is
 * detached into its own session so a Ctrl-C aimed at the test run does not kill it before it
 * has cleaned up.
 */
const REAPER_SOURCE = `
const fs = require('node:fs');
const procs = new Map();
const dirs = new Set();
const owns = (pid, fragment) => {
  try { return fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').replace(/\\0/g, ' ').includes(fragment); }
  catch { return process.platform !== 'linux'; }
};
process.on('message', (m) => {
  if (m.op === 'add-process') procs.set(m.pid, m.cmdlineIncludes);
  else if (m.op === 'remove-process') procs.delete(m.pid);
  else if (m.op === 'add-dir') dirs.add(m.dir);
  else if (m.op === 'remove-dir') dirs.delete(m.dir);
});
process.on('disconnect', () => {
  for (const [pid, fragment] of procs) {
    if (!owns(pid, fragment)) continue;
    try { process.kill(pid, 'SIGCONT'); } catch {}
    try { process.kill(pid, 'SIGKILL'); } catch {}
  }
  // Give the kernel a moment to release the processes before removing their working dirs.
  setTimeout(() => {
    for (const dir of dirs) { try { fs.rmSync(dir, { recursive: true, force: true }); } catch {} }
    process.exit(0);
  }, 100);
});
`;

function startReaper(): void {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  try {
    const child = spawn(process.execPath, ['-e', REAPER_SOURCE], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      env,
    });
    child.on('error', () => {
      reaper = undefined;
    });
    // Neither the process nor its channel may keep the test process alive.
    child.unref();
    child.channel?.unref();
    reaper = child;
  } catch {
    reaper = undefined; // The exit/signal handlers still cover everything but SIGKILL.
  }
}

function tellReaper(message: ReaperMessage): void {
  if (reaper === undefined || !reaper.connected) return;
  try {
    reaper.send(message);
  } catch {
    // Reaper gone: degrade to the in-process handlers.
  }
}

/** True if pid still runs a command line containing `fragment` (always true off Linux). */
function owns(pid: number, fragment: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(fragment);
  } catch {
    return process.platform !== 'linux';
  }
}

function runAll(): void {
  for (const { pid, cmdlineIncludes } of processes.values()) {
    if (!owns(pid, cmdlineIncludes)) continue;
    // SIGCONT first so a paused process is never left stopped, even if SIGKILL were refused.
    signalQuietly(pid, 'SIGCONT');
    signalQuietly(pid, 'SIGKILL');
  }
  processes.clear();
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort: a leftover temp dir is harmless, a leftover process is not.
    }
  }
  dirs.clear();
}

/** Cleans up, then re-raises the signal so the process still ends with the default status. */
function onSignal(signal: NodeJS.Signals): void {
  runAll();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  startReaper();
}

/**
 * Kills `pid` (SIGCONT, SIGKILL) if this process ends before the returned untrack function is
 * called. Call untrack once the child has exited. `cmdlineIncludes` guards against PID reuse.
 */
export function trackProcess(pid: number, cmdlineIncludes: string): () => void {
  install();
  processes.set(pid, { pid, cmdlineIncludes });
  tellReaper({ op: 'add-process', pid, cmdlineIncludes });
  return () => {
    if (processes.delete(pid)) tellReaper({ op: 'remove-process', pid });
  };
}

/** Removes `dir` if this process ends before the returned untrack function is called. */
export function trackDir(dir: string): () => void {
  install();
  dirs.add(dir);
  tellReaper({ op: 'add-dir', dir });
  return () => {
    if (dirs.delete(dir)) tellReaper({ op: 'remove-dir', dir });
  };
}

/** Sends a signal, ignoring ESRCH: the target may have exited on its own between checks. */
export function signalQuietly(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if (isErrnoException(error) && error.code === 'ESRCH') return false;
    throw error;
  }
}

export function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error;
}
