import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '../../config/duration.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { bytes, count, latency, percent } from '../format.js';
import type { Colors } from '../output.js';
import type { RedisReport } from '../redis/info.js';
import { fields, grid } from '../table.js';
import { openTarget } from '../target.js';
import type { AdminStats, StatsReport } from '../target.js';

const DEFAULT_INTERVAL = 2_000;
const MIN_INTERVAL = 100;

/** `stats [--watch [interval]]`. */
export async function stats(ctx: Context, options: { watch?: string | true | undefined }): Promise<void> {
  const interval = options.watch === undefined ? undefined : watchInterval(options.watch);
  const target = await openTarget(ctx.options, { noTouch: true }, ctx.env);
  const { out } = ctx;
  try {
    if (interval === undefined) {
      const report = await target.stats();
      if (out.json) out.data(report);
      else out.line(render(report, undefined, out.c));
      return;
    }
    let previous: { report: StatsReport; at: number } | undefined;
    let drawn = 0;
    while (!ctx.signal.aborted) {
      const report = await target.stats();
      const at = Date.now();
      if (out.json) {
        // One JSON document a line (NDJSON), so a reader can act on each refresh as it comes.
        out.line(JSON.stringify({ at: new Date(at).toISOString(), ...report }));
      } else {
        const text = `${render(report, previous === undefined ? undefined : { report: previous.report, seconds: (at - previous.at) / 1000 }, out.c)}\n${out.c.dim(`refreshed ${new Date(at).toLocaleTimeString()} every ${interval} ms; Ctrl-C to stop`)}`;
        // On a terminal, redraw in place; elsewhere, one block after another.
        if (out.stdout.isTTY === true && drawn > 0) out.stdout.write(`\x1b[${drawn}F\x1b[J`);
        out.line(text);
        drawn = text.split('\n').length;
      }
      previous = { report, at };
      await sleep(interval, undefined, { signal: ctx.signal }).catch(() => undefined);
    }
  } finally {
    await target.close();
  }
}

/** `--watch 5` is seconds (as `watch -n 5`); `--watch 500ms` a duration. */
function watchInterval(value: string | true): number {
  if (value === true) return DEFAULT_INTERVAL;
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : parseDuration(value, '--watch');
  if (!(ms >= MIN_INTERVAL)) throw new UsageError(`--watch: expected an interval of at least ${MIN_INTERVAL} ms, got ${JSON.stringify(value)}`);
  return Math.round(ms);
}

interface Before {
  report: StatsReport;
  seconds: number;
}

/** The report as text: the service's cache figures, then Redis'. */
export function render(report: StatsReport, before: Before | undefined, c: Colors): string {
  const parts: string[] = [c.bold(report.target)];
  if (report.cache !== undefined) parts.push(renderCache(report.cache, before?.report.cache === undefined ? undefined : { cache: before.report.cache, seconds: before.seconds }, c));
  const redis = report.redis ?? redisOf(report.cache);
  if (redis !== undefined) parts.push(renderRedis(redis, c));
  else if (report.cache?.redis !== undefined && 'error' in report.cache.redis) parts.push(`${c.bold('Redis')}\n${c.red(report.cache.redis.error)}`);
  return parts.join('\n\n');
}

function redisOf(cache: AdminStats | undefined): Partial<RedisReport> | undefined {
  const r = cache?.redis;
  return r === undefined || 'error' in r ? undefined : r;
}

function renderCache(s: AdminStats, before: { cache: AdminStats; seconds: number } | undefined, c: Colors): string {
  const rows: [string, string][] = [
    ['hit rate', `${percent(s.hitRate)} (${count(s.hits)} hits, ${count(s.misses)} misses)`],
    ['sets', count(s.sets)],
    ['deletes', count(s.deletes)],
    ['evictions', count(s.evictions)],
    ['expirations', count(s.expirations)],
    ['errors', s.errors === 0 ? '0' : c.red(count(s.errors))],
    ['size', `${count(s.size)} entries in memory${s.bytes === undefined ? '' : `, ${bytes(s.bytes)}`}`],
    ['latency', `p50 ${latency(s.latency.p50)}, p99 ${latency(s.latency.p99)}`],
  ];
  if (before !== undefined && before.seconds > 0) {
    const asked = s.hits + s.misses - before.cache.hits - before.cache.misses;
    rows.splice(1, 0, ['lookups/s', count(Math.max(0, asked) / before.seconds)]);
  }
  if (s.l2 !== undefined) {
    const state = s.l2.state === 'up' ? c.green('up') : c.red(s.l2.state);
    rows.push(['redis tier', `${state}${s.l2.bus === undefined ? '' : `, bus ${s.l2.bus ? c.green('healthy') : c.red('down')}`}${s.l2Error === undefined ? '' : ` (${s.l2Error})`}`]);
  }
  const tiers = [['l1', s.tiers.l1] as const, ...(s.tiers.l2 === undefined ? [] : [['l2', s.tiers.l2] as const])].map(([name, t]) => [name, count(t.hits), count(t.misses), count(t.evictions), count(t.errors)]);
  const parts = [`${c.bold(`Cache ${JSON.stringify(s.name)}`)}\n${fields(rows, c)}`, grid(['tier', 'hits', 'misses', 'evictions', 'errors'], tiers, c, [1, 2, 3, 4])];
  if (s.namespaces.length !== 0) parts.push(grid(['namespace', 'entries'], s.namespaces.map((n) => [n.prefix, count(n.entries)]), c, [1]));
  return parts.join('\n');
}

function renderRedis(r: Partial<RedisReport>, c: Colors): string {
  const rows: [string, string][] = [];
  if (r.version !== undefined) rows.push(['version', `${r.version} (${r.mode ?? 'standalone'}${r.nodes !== undefined && r.nodes > 1 ? `, ${r.nodes} masters` : ''})`]);
  if (r.usedMemory !== undefined) rows.push(['memory', `${bytes(r.usedMemory)} of ${r.maxmemory === undefined || r.maxmemory === 0 ? c.yellow('no limit (maxmemory 0)') : bytes(r.maxmemory)}`]);
  if (r.maxmemoryPolicy !== undefined) rows.push(['policy', r.maxmemoryPolicy === 'noeviction' ? c.yellow(r.maxmemoryPolicy) : r.maxmemoryPolicy]);
  if (r.keyspaceHits !== undefined && r.keyspaceMisses !== undefined) {
    const asked = r.keyspaceHits + r.keyspaceMisses;
    rows.push(['hit rate', `${percent(asked === 0 ? 0 : r.keyspaceHits / asked)} (${count(r.keyspaceHits)} hits, ${count(r.keyspaceMisses)} misses, all clients)`]);
  }
  if (r.evictedKeys !== undefined) rows.push(['evicted keys', count(r.evictedKeys)]);
  if (r.expiredKeys !== undefined) rows.push(['expired keys', count(r.expiredKeys)]);
  if (r.keys !== undefined) rows.push(['keys', `${count(r.keys)} in the database`]);
  if (r.opsPerSec !== undefined) rows.push(['ops/s', count(r.opsPerSec)]);
  if (r.connectedClients !== undefined) rows.push(['clients', count(r.connectedClients)]);
  return `${c.bold('Redis')}\n${fields(rows, c)}`;
}
