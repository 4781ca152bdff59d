import type { Context } from '../context.js';
import { openTarget } from '../target.js';
import { warnings } from './invalidate.js';

/** `del <key...>`: deletes and prints the count of entries removed. */
export async function del(ctx: Context, keys: readonly string[]): Promise<void> {
  const target = await openTarget(ctx.options, { mutates: true }, ctx.env);
  const { out } = ctx;
  try {
    const deleted = await target.delete(keys);
    if (out.json) out.data({ deleted });
    else out.line(`${deleted} ${out.c.dim(deleted === 1 ? 'key deleted' : 'keys deleted')}`);
    warnings(ctx, target);
  } finally {
    await target.close();
  }
}
