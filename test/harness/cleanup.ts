/**
 * Last-resort cleanup for processes the harness spawns.
 *
 * `after()` hooks do not run when a test file throws at top level, when the runner cancels the file,
 * or when an assertion fails before a hook is registered. A SIGSTOPped redis-server that outlives
 * the run keeps its port, and every later run then times out against a frozen server, so each
 * spawned process registers a synchronous killer here and the process 'exit' hook runs them all.
 *
 * Known gap: nothing runs if this process itself is SIGKILLed. Forked cache instances cover that
 * by exiting on IPC disconnect (see instance-child.ts); redis-server has no equivalent.
 */

type Killer = () => void;

const killers = new Set<Killer>();
let installed = false;

function runAll(): void {
  for (const kill of [...killers]) {
    try {
      kill();
    } catch {
      // Exit-time cleanup must try every process even if one is already gone.
    }
  }
  killers.clear();
}

/**
 * Termination signals bypass 'exit' handlers by default, and `node --test` cancels a timed-out file
 * with SIGTERM, so we clean up and then re-raise the signal to keep the default exit status.
 */
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
}

/**
 * Registers a synchronous killer to run if the process exits before the owner cleans up.
 * Returns the function that unregisters it once the owner stopped the process normally.
 */
export function registerExitKiller(kill: Killer): () => void {
  install();
  killers.add(kill);
  return () => {
    killers.delete(kill);
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
