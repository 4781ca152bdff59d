import type { Context } from '../context.js';
import { duration } from '../format.js';
import { openTarget } from '../target.js';

/** `ttl <key>`: ms until the value turns stale, `Infinity`, or absent. */
export async function ttl(ctx: Context, key: string): Promise<void> {
  const target = await openTarget(ctx.options, { noTouch: true }, ctx.env);
  const { out } = ctx;
  try {
    const ms = await target.ttl(key);
    if (out.json) {
      // JSON has no Infinity: null means no expiry, as in the admin API.
      out.data(ms === undefined ? { key, present: false } : { key, present: true, ttl: ms === Infinity ? null : ms });
    } else if (ms === undefined) out.line('absent');
    else if (ms === Infinity) out.line(`Infinity ${out.c.dim('(no expiry)')}`);
    else out.line(`${ms} ${out.c.dim(`ms (${duration(ms)})`)}`);
  } finally {
    await target.close();
  }
}
