import { inspect } from 'node:util';
import type { Context } from '../context.js';
import { bytes, duration, jsonSafe } from '../format.js';
import { fields } from '../table.js';
import { openTarget } from '../target.js';
import type { KeyReport } from '../target.js';

type Holding = NonNullable<KeyReport['tiers']['l1']>;

/** `get <key>`: the value and how it is held. */
export async function get(ctx: Context, key: string): Promise<void> {
  const target = await openTarget(ctx.options, { noTouch: true }, ctx.env);
  const { out } = ctx;
  const { c } = out;
  try {
    const report = await target.inspect(key);
    if (report === undefined) {
      const why = await target.absence?.(key);
      if (out.json) out.data({ key, present: false, ...(why === undefined ? {} : { [why]: true }) });
      else if (why === undefined) out.line(`${key}: ${c.dim('absent')}`);
      else out.line(`${key}: ${c.yellow('absent for hoard')}: ${why === 'foreign' ? 'Redis holds a value there that hoard did not write (hoard reads it as a miss)' : 'one of its tags was invalidated (the entry goes when next read)'}`);
      return;
    }
    if (out.json) {
      out.data({ present: true, ...report, value: jsonSafe(report.value) });
      return;
    }
    const tiers = (['l1', 'l2'] as const).flatMap((t) => {
      const h = report.tiers[t];
      if (h === undefined) return [];
      return ['error' in h ? `${t} (${c.red(h.error)})` : `${t} (${t === 'l1' ? 'memory' : 'Redis'}${h.stale ? ', stale' : ''})`];
    });
    const main = mainHolding(report);
    const rows: [string, string][] = [
      ['key', c.bold(key)],
      ['tier', tiers.join(', ')],
      ['ttl', report.ttl === null ? 'no expiry' : main?.stale === true ? c.yellow('stale: served only by getOrSet, inside its grace') : duration(report.ttl)],
      // A few ms between Redis' TTL and the entry's own expiry is clock noise between writer and server, not grace.
      ['grace', report.grace === null ? 'until evicted' : report.grace < 100 ? 'none' : duration(report.grace)],
      ['tags', report.tags.length === 0 ? c.dim('none') : report.tags.join(', ')],
      ['size', report.bytes === null ? c.dim('unknown') : bytes(report.bytes)],
    ];
    out.line(fields(rows, c));
    out.line(c.dim('value'));
    out.line(inspect(report.value, { colors: c.isColorSupported, depth: 8, maxArrayLength: 200, maxStringLength: 10_000, breakLength: 100, sorted: false }));
  } finally {
    await target.close();
  }
}

function mainHolding(report: KeyReport): Holding | undefined {
  const l2 = report.tiers.l2;
  return l2 !== undefined && !('error' in l2) ? l2 : report.tiers.l1;
}
