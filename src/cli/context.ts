import type { Output } from './output.js';
import type { TargetOptions } from './target.js';

/** The options every command takes (before or after its name). */
export interface GlobalOptions extends TargetOptions {
  json?: true | undefined;
  timeout: string;
  bus: boolean;
}

/** What a command runs with. */
export interface Context {
  options: GlobalOptions;
  out: Output;
  env: NodeJS.ProcessEnv;
  /** Aborted on the first Ctrl-C (SIGINT) or SIGTERM: long commands stop cleanly. */
  signal: AbortSignal;
}
