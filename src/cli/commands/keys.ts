import type { Context } from '../context.js';
import { count } from '../format.js';
import { openTarget } from '../target.js';

/** Keys asked for per SCAN page: large enough for few round trips, small enough to keep memory flat. */
const PAGE = 1_000;

/**
 * `keys [glob] [--limit n]`: pages through the keyspace with SCAN (never KEYS) and writes each
 * page out before asking for the next, waiting for a slow reader: memory stays flat whatever the
 * number of keys. As with SCAN, a key changed during the listing may show or not, and a key may
 * show twice while Redis resizes its table.
 */
export async function keys(ctx: Context, glob: string, options: { limit?: number | undefined }): Promise<number> {
  const target = await openTarget(ctx.options, { noTouch: true }, ctx.env);
  const { out } = ctx;
  const limit = options.limit ?? Infinity;
  let n = 0;
  let cursor = '0';
  try {
    if (out.json) await out.stream('[');
    do {
      const page = await target.scan(glob, cursor, PAGE);
      cursor = page.cursor;
      let chunk = '';
      for (const key of page.keys) {
        if (n >= limit) break;
        chunk += out.json ? `${n === 0 ? '' : ','}\n${JSON.stringify(key)}` : `${key}\n`;
        n++;
      }
      if (chunk !== '') await out.stream(chunk);
    } while (cursor !== '0' && n < limit && !ctx.signal.aborted);
    if (out.json) await out.stream(n === 0 ? ']\n' : '\n]\n');
    if (!out.json && out.interactive) out.note(out.ec.dim(`${count(n)} ${n === 1 ? 'key' : 'keys'}${n >= limit ? ` (--limit ${count(limit)})` : ''}`));
    // Interrupted before the end: the listing is incomplete.
    return cursor !== '0' && n < limit ? 1 : 0;
  } finally {
    await target.close();
  }
}
