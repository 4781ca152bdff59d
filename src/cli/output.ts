import { createColors } from 'picocolors';

export type Colors = ReturnType<typeof createColors>;

/** Whether to colour a stream: only a terminal, and never with `NO_COLOR`; `FORCE_COLOR` forces it. */
function colourFor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/**
 * Where commands write: results on stdout (human text, or JSON with `--json`), progress and
 * diagnostics on stderr, so `hoard keys 'user:*' | wc -l` and `hoard stats --json | jq` see only
 * results. Colour only on a terminal.
 */
export class Output {
  readonly json: boolean;
  /** Colours for stdout. */
  readonly c: Colors;
  /** Colours for stderr. */
  readonly ec: Colors;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;

  constructor(json: boolean, stdout: NodeJS.WriteStream = process.stdout, stderr: NodeJS.WriteStream = process.stderr, env: NodeJS.ProcessEnv = process.env) {
    this.json = json;
    this.stdout = stdout;
    this.stderr = stderr;
    this.c = createColors(colourFor(stdout, env));
    this.ec = createColors(colourFor(stderr, env));
  }

  /** Whether stderr is a terminal (progress bars, in-place refresh). */
  get interactive(): boolean {
    return this.stderr.isTTY === true;
  }

  /** A line of results. */
  line(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  /** A line of diagnostics or progress. */
  note(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  /** A result as one JSON document. */
  data(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, this.stdout.isTTY === true ? 2 : undefined)}\n`);
  }

  /** Writes a chunk of a long result, waiting when the reader is slower than we are (bounded memory). */
  async stream(chunk: string): Promise<void> {
    if (this.stdout.write(chunk)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        this.stdout.off('drain', onDrain);
        this.stdout.off('error', onError);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onDrain = (): void => done();
      const onError = (error: Error): void => done(error);
      this.stdout.once('drain', onDrain);
      this.stdout.once('error', onError);
    });
  }

  /** Resolves once everything written so far has been handed to the OS. */
  async flush(): Promise<void> {
    await Promise.all([this.stdout, this.stderr].map((s) => new Promise<void>((resolve) => (s.writableLength === 0 ? resolve() : s.write('', () => resolve())))));
  }
}
