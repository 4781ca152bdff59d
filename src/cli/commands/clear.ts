import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { openTarget } from '../target.js';
import { warnings } from './invalidate.js';

/** `clear --yes`: clears the namespace; without `--yes`, says what it would clear and exits with 2. */
export async function clear(ctx: Context, options: { yes?: true | undefined }): Promise<void> {
  const target = await openTarget(ctx.options, { mutates: options.yes === true, noTouch: options.yes !== true }, ctx.env);
  const { out } = ctx;
  try {
    if (options.yes !== true) {
      const preview = await target.clearPreview();
      throw new UsageError(`refusing to clear without --yes. This would clear ${preview}.`, { hint: 'run again with --yes' });
    }
    await target.clear();
    if (out.json) out.data({ cleared: true, target: target.label });
    else out.line(`cleared ${target.label}`);
    warnings(ctx, target);
  } finally {
    await target.close();
  }
}
