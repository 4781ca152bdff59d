import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { openTarget } from '../target.js';
import type { Target } from '../target.js';

export interface InvalidateOptions {
  tag?: string[] | undefined;
  pattern?: string | undefined;
  key?: string[] | undefined;
  dryRun?: true | undefined;
}

/** `invalidate [--tag t...] [--pattern p] [--key k...] [--dry-run]`: prints the count removed. */
export async function invalidate(ctx: Context, options: InvalidateOptions): Promise<void> {
  if (options.tag === undefined && options.pattern === undefined && options.key === undefined) {
    throw new UsageError('invalidate needs at least one of --tag, --pattern or --key');
  }
  const target = await openTarget(ctx.options, { mutates: options.dryRun !== true, noTouch: options.dryRun === true }, ctx.env);
  const { out } = ctx;
  try {
    const result = await target.invalidate({ keys: options.key, tags: options.tag, pattern: options.pattern, dryRun: options.dryRun === true });
    if (out.json) {
      out.data({ removed: result.removed, dryRun: result.dryRun, ...(options.tag === undefined ? {} : { tags: options.tag, tagsCounted: result.tagsCounted }) });
    } else {
      out.line(`${result.removed} ${out.c.dim(result.dryRun ? 'would be removed (dry run: nothing removed)' : 'removed')}`);
      if (!result.tagsCounted) {
        out.line(
          out.c.dim(
            `tags ${options.tag!.join(', ')} ${result.dryRun ? 'not counted' : 'invalidated'}: in Redis their entries are dropped lazily, when next read, so the count does not include them`,
          ),
        );
      }
    }
    warnings(ctx, target);
  } finally {
    await target.close();
  }
}

/** Prints what the target noticed without failing (the bus could not publish). */
export function warnings(ctx: Context, target: Target): void {
  for (const warning of target.warnings ?? []) ctx.out.note(`${ctx.out.ec.yellow('warning:')} ${warning}`);
}
