#!/usr/bin/env node
/**
 * The `hoard` bin: parses the command line, runs the command, and ends the process with its exit
 * code: 0 done, 1 the operation failed, 2 usage error. Only commander is loaded up front; commands
 * and the Redis client load when a command runs.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CommanderError } from '@commander-js/extra-typings';
import type { Context, GlobalOptions } from './context.js';
import { CliError, exitCodeOf } from './errors.js';
import { buildProgram } from './program.js';

let exitCode = 0;
let json = false;

async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram(dispatch, version());
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end with 0; any other complaint of commander's (unknown option, missing
      // argument, no command) is a usage error, already printed by commander.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
    }
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') return exitCode;
    return report(error);
  }
}

/** Builds the context of a command, runs it, and keeps its exit code. */
async function dispatch(options: GlobalOptions, run: (ctx: Context) => Promise<number | void>): Promise<void> {
  json = options.json === true;
  const { Output } = await import('./output.js');
  const controller = new AbortController();
  const stop = (): void => {
    // A second Ctrl-C while the command winds down ends the process at once: it did not finish.
    if (controller.signal.aborted) process.exit(1);
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const code = await run({ options, out: new Output(json), env: process.env, signal: controller.signal });
    exitCode = code ?? 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** Prints an error (and its fix) on stderr, and as JSON on stdout with `--json`; returns the exit code. */
function report(error: unknown): number {
  const code = exitCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof CliError ? error.hint : undefined;
  const tty = process.stderr.isTTY === true && (process.env.NO_COLOR ?? '') === '';
  const red = (s: string): string => (tty ? `\x1b[31m${s}\x1b[39m` : s);
  process.stderr.write(`${red('hoard: error:')} ${message}\n${hint === undefined ? '' : `  fix: ${hint}\n`}`);
  if (json) process.stdout.write(`${JSON.stringify({ error: { message, exitCode: code, ...(hint === undefined ? {} : { fix: hint }) } })}\n`);
  return code;
}

/** The package's version, from the package.json above this file (source or build). */
function version(): string {
  try {
    let dir = dirname(realpathSync(process.argv[1] ?? '.'));
    for (let i = 0; i < 5; i++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'hoard' && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // not here: one level up
      }
      dir = dirname(dir);
    }
  } catch {
    // unknown path
  }
  return 'unknown';
}

/** Ends once stdout and stderr have been handed to the OS (a pipe must not lose the tail). */
function exit(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

// A reader that stops early (`hoard keys | head`) is no failure: end quietly, as Unix tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(exitCode);
});

main(process.argv).then(exit, (error: unknown) => exit(report(error)));
