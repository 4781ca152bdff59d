import { relative } from 'node:path';
import { Cache } from '../../cache/cache.js';
import { parseDuration } from '../../config/duration.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { count, duration } from '../format.js';
import { fields } from '../table.js';
import { openRedisTarget } from '../target.js';
import { Checkpoint } from '../warm/checkpoint.js';
import { progress } from '../warm/progress.js';
import { runWarm } from '../warm/runner.js';
import { loadSource } from '../warm/source.js';
import { warnings } from './invalidate.js';

export interface WarmCommandOptions {
  concurrency: number;
  batch: number;
  ttl?: string | undefined;
  resume?: true | undefined;
  restart?: true | undefined;
  checkpoint?: string | undefined;
}

/** `warm <module> [--concurrency n] [--resume]`: fills the cache from a module, with a checkpoint. */
export async function warm(ctx: Context, module: string, options: WarmCommandOptions): Promise<number> {
  if (options.resume === true && options.restart === true) throw new UsageError('give --resume or --restart, not both');
  const ttl = options.ttl === undefined ? undefined : parseDuration(options.ttl, '--ttl');
  const timeout = parseDuration(ctx.options.timeout, '--timeout');
  const target = await openRedisTarget('warm', ctx.options, { mutates: true }, ctx.env);
  const { out } = ctx;
  try {
    const source = await loadSource(module);
    const path = options.checkpoint ?? Checkpoint.defaultPath(source.file, target.label);
    let checkpoint: Checkpoint;
    if (Checkpoint.exists(path) && options.resume === true) {
      checkpoint = Checkpoint.open(path, source.file, target.label);
    } else if (Checkpoint.exists(path) && options.restart !== true) {
      throw new UsageError(`warm: an interrupted run of ${module} left a checkpoint at ${relative(process.cwd(), path) || path}`, {
        hint: 'run again with --resume to skip what it wrote, or --restart to start over',
      });
    } else {
      if (options.resume === true) out.note(out.ec.dim(`no checkpoint at ${path}: starting from the first item`));
      checkpoint = Checkpoint.create(path, source.file, target.label);
    }
    const core = Cache.coreOf(target.cache);
    const bar = await progress(out, source.total, 'warm');
    const summary = await runWarm(
      source.items,
      {
        serializer: core.serializer,
        writeMarked: (entries, mark, markTtl) => target.writeMarked(entries, mark, markTtl),
        marked: (keys, mark) => target.store.marked(keys, mark),
        unmark: (keys, mark) => target.store.unmark(keys, mark),
      },
      checkpoint,
      {
        concurrency: options.concurrency,
        batchSize: options.batch,
        defaultTtl: ttl ?? core.defaultTtl,
        timeout,
        signal: ctx.signal,
        onProgress: (handled, written) => bar.update(handled, written),
      },
    ).finally(() => bar.stop());
    const complete = summary.stopped === undefined && summary.failed === 0;
    if (complete) checkpoint.remove();
    const rate = summary.written / Math.max(0.001, summary.ms / 1000);
    if (out.json) {
      const { failures, ...rest } = summary;
      out.data({ ...rest, ms: Math.round(summary.ms), itemsPerSecond: Math.round(rate), failures, checkpoint: complete ? null : checkpoint.path });
    } else {
      const skipped = [
        summary.alreadyWritten === 0 ? undefined : `${count(summary.alreadyWritten)} written by an earlier run`,
        summary.nothingToWrite === 0 ? undefined : `${count(summary.nothingToWrite)} with nothing to write`,
      ].filter((s) => s !== undefined);
      out.line(
        fields(
          [
            ['written', out.c.green(count(summary.written))],
            ['skipped', `${count(summary.skipped)}${skipped.length === 0 ? '' : out.c.dim(` (${skipped.join(', ')})`)}`],
            ['failed', summary.failed === 0 ? '0' : out.c.red(count(summary.failed))],
            ['time', `${duration(summary.ms)} ${out.c.dim(`(${count(rate)} items/s)`)}`],
          ],
          out.c,
        ),
      );
    }
    for (const failure of summary.failures) out.note(`${out.ec.red('failed')} item ${failure.index}${failure.key === undefined ? '' : ` (${JSON.stringify(failure.key)})`}: ${failure.reason}`);
    if (summary.failed > summary.failures.length) out.note(out.ec.dim(`... and ${count(summary.failed - summary.failures.length)} more`));
    if (summary.stopped !== undefined) out.note(`${out.ec.red('stopped:')} ${summary.stopped}`);
    if (!complete) out.note(`checkpoint kept at ${checkpoint.path}: run again with --resume to ${summary.stopped === undefined ? 'retry the failed items' : 'go on from there'}`);
    warnings(ctx, target);
    return complete ? 0 : 1;
  } finally {
    await target.close();
  }
}
