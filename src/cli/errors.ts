/**
 * Errors of the `hoard` CLI, each with the exit code it ends the process with: 2 for a usage error
 * (the command line or the environment is wrong; nothing was done), 1 for an operation that failed
 * (Redis unreachable, a bad token, a refused write).
 */
export class CliError extends Error {
  readonly exitCode: 1 | 2;
  /** What to do about it, printed under the message. */
  readonly hint: string | undefined;

  constructor(message: string, exitCode: 1 | 2, options?: { hint?: string | undefined; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.hint = options?.hint;
  }
}

/** The command line asks for something that cannot be done as asked: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string, options?: { hint?: string | undefined; cause?: unknown }) {
    super(message, 2, options);
    this.name = 'UsageError';
  }
}

/** The operation was tried and failed: exit code 1. */
export class OperationError extends CliError {
  constructor(message: string, options?: { hint?: string | undefined; cause?: unknown }) {
    super(message, 1, options);
    this.name = 'OperationError';
  }
}

/**
 * The exit code an error ends the CLI with. hoard's own errors are matched by `code` (no import
 * of the error classes on the start-up path): a bad option, variable or key is a usage error.
 */
export function exitCodeOf(error: unknown): 1 | 2 {
  if (error instanceof CliError) return error.exitCode;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'HOARD_CONFIG' || code === 'HOARD_INVALID_KEY') return 2;
  return 1;
}
