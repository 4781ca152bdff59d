import { checkKey, scopeTags } from '../../cache/validate.js';
import { parseDuration } from '../../config/duration.js';
import type { MarkedWrite } from '../../redis/redis-store.js';
import { TIMED_OUT, withDeadline } from '../../resilience/deadline.js';
import type { Serializer } from '../../serialization/codec.js';
import type { Checkpoint, PendingBatch } from './checkpoint.js';

/** Where a warm-up writes: a Redis target, seen through what the run needs. */
export interface WarmSink {
  serializer: Serializer;
  /** Writes a batch and its marker in one transaction per hash slot. */
  writeMarked(entries: readonly MarkedWrite[], mark: string, markTtl: number): Promise<void>;
  /** Whether the markers of these keys exist. */
  marked(keys: readonly string[], mark: string): Promise<boolean[]>;
  unmark(keys: readonly string[], mark: string): Promise<void>;
}

export interface WarmOptions {
  /** Factories running at once, and batches being written at once. */
  concurrency: number;
  /** Entries per batch. */
  batchSize: number;
  /** TTL (ms) of items without one; undefined: no expiry. */
  defaultTtl: number | undefined;
  /** Deadline of each batch write. */
  timeout: number;
  signal: AbortSignal;
  onProgress(handled: number, written: number): void;
}

export interface WarmFailure {
  /** Position of the item in the module's sequence. */
  index: number;
  key: string | undefined;
  reason: string;
}

export interface WarmSummary {
  /** Items written by this run. */
  written: number;
  /** Items not written by this run: written by an earlier one (`--resume`), or whose factory returned undefined. */
  skipped: number;
  /** Of `skipped`: written by an earlier run. */
  alreadyWritten: number;
  /** Of `skipped`: the factory returned undefined (nothing to cache, as with getOrSet). */
  nothingToWrite: number;
  /** Items that could not be written: a factory threw, a bad key, TTL or tags, a value that cannot be serialized. */
  failed: number;
  /** The first failures, for the report. */
  failures: WarmFailure[];
  /** Items the module yielded (this run saw). */
  seen: number;
  ms: number;
  /** Why the run stopped before the end of the module, when it did. */
  stopped: string | undefined;
  /** Pending batches of an earlier run found in Redis (written) or not (written again). */
  recovered: { found: number; lost: number };
}

/** How long batch markers outlive an interrupted run (a resume may come days later). */
const MARK_TTL = 7 * 86_400_000;
const MAX_FAILURES_KEPT = 20;

type Outcome = { ok: true; value: unknown } | { ok: false; reason: string };

interface Slot {
  index: number;
  key: string;
  ttl: number | undefined;
  tags: string[] | undefined;
  outcome: Outcome | Promise<Outcome>;
}

interface OpenBatch {
  start: number;
  end: number;
  slots: Slot[];
  failed: WarmFailure[];
}

/**
 * Runs a warm-up: pulls items from the module only as fast as they are written (memory stays
 * bounded by `concurrency` batches), runs factories `concurrency` at a time, and writes entries in
 * batches, each one pipelined transaction (see `Checkpoint` for how every item is written once).
 */
export async function runWarm(items: AsyncIterator<unknown> | Iterator<unknown>, sink: WarmSink, checkpoint: Checkpoint, options: WarmOptions): Promise<WarmSummary> {
  const started = performance.now();
  const summary: WarmSummary = { written: 0, skipped: 0, alreadyWritten: 0, nothingToWrite: 0, failed: 0, failures: [], seen: 0, ms: 0, stopped: undefined, recovered: { found: 0, lost: 0 } };
  const handled = (): number => summary.written + summary.skipped + summary.failed;
  const fail = (failure: WarmFailure): void => {
    summary.failed++;
    if (summary.failures.length < MAX_FAILURES_KEPT) summary.failures.push(failure);
  };

  const mark = (batch: PendingBatch): string => `${checkpoint.run}:${batch.batch}`;
  /** Writes the checkpoint when due; the markers of the batches it now records can go. */
  const flush = async (force: boolean): Promise<void> => {
    const covered = checkpoint.flush(force);
    const marked = covered.filter((b) => b.entries.length !== 0);
    await Promise.all(marked.map((b) => sink.unmark(b.entries.map(([, key]) => key), mark(b)).catch(() => undefined)));
  };

  // 1. Batches an earlier run sent without recording: their markers say whether they landed.
  for (const pending of checkpoint.pending()) {
    const keys = pending.entries.map(([, key]) => key);
    const written = keys.length === 0 ? [] : await sink.marked(keys, mark(pending));
    if (written.some(Boolean)) {
      summary.recovered.found++;
      checkpoint.commit(pending, written);
    } else {
      summary.recovered.lost++;
      checkpoint.drop(pending);
    }
  }
  await flush(true);

  // 2. Items in order; skipped ones only extend the open batch's range.
  const writing = new Set<Promise<void>>();
  let factories = 0;
  let factoryFreed: (() => void) | undefined;
  let fatal: string | undefined;
  let batch: OpenBatch = { start: 0, end: 0, slots: [], failed: [] };

  const runFactory = (factory: (context: { key: string; signal: AbortSignal }) => unknown, key: string): Promise<Outcome> => {
    factories++;
    return (async (): Promise<Outcome> => {
      try {
        return { ok: true, value: await factory({ key, signal: options.signal }) };
      } catch (error) {
        return { ok: false, reason: `the factory threw: ${error instanceof Error ? error.message : String(error)}` };
      } finally {
        factories--;
        factoryFreed?.();
      }
    })();
  };

  const write = async (open: OpenBatch): Promise<void> => {
    // Factories run already: waiting on each in turn costs no time, and values need no promise.
    const outcomes: Outcome[] = [];
    for (const slot of open.slots) outcomes.push(slot.outcome instanceof Promise ? await slot.outcome : slot.outcome);
    const entries: MarkedWrite[] = [];
    const sent: [number, string][] = [];
    const failed = [...open.failed];
    open.slots.forEach((slot, i) => {
      const outcome = outcomes[i]!;
      if (!outcome.ok) return void failed.push({ index: slot.index, key: slot.key, reason: outcome.reason });
      if (outcome.value === undefined) {
        summary.skipped++;
        summary.nothingToWrite++;
        return;
      }
      let payload: string;
      try {
        payload = sink.serializer.encode(outcome.value);
      } catch (error) {
        return void failed.push({ index: slot.index, key: slot.key, reason: error instanceof Error ? error.message : String(error) });
      }
      entries.push({ key: slot.key, payload, ttl: slot.ttl, grace: 0, tags: slot.tags });
      sent.push([slot.index, slot.key]);
    });
    const pending: PendingBatch = { batch: checkpoint.nextBatch(), range: [open.start, open.end], entries: sent, failed: failed.map((f) => f.index) };
    if (entries.length !== 0) {
      checkpoint.begin(pending);
      const result = await withDeadline(sink.writeMarked(entries, mark(pending), MARK_TTL), options.timeout).catch((error: unknown) => error as Error);
      if (result === TIMED_OUT || result instanceof Error) {
        // Left pending: a resumed run asks the marker whether it landed.
        fatal ??= result === TIMED_OUT ? `Redis did not answer a batch within ${options.timeout} ms` : `Redis refused a batch: ${result.message}`;
        return;
      }
    }
    checkpoint.commit(pending);
    summary.written += entries.length;
    for (const failure of failed) fail(failure);
    options.onProgress(handled(), summary.written);
    await flush(false);
  };

  const submit = async (open: OpenBatch): Promise<void> => {
    if (open.end === open.start) return;
    while (writing.size >= options.concurrency) await Promise.race(writing);
    const promise: Promise<void> = write(open).finally(() => writing.delete(promise));
    writing.add(promise);
  };

  try {
    for (let index = 0; ; index++) {
      if (options.signal.aborted) {
        summary.stopped = 'interrupted';
        break;
      }
      if (fatal !== undefined) break;
      let next: IteratorResult<unknown>;
      try {
        next = await items.next();
      } catch (error) {
        fatal = `the module's iterator threw: ${error instanceof Error ? error.message : String(error)}`;
        break;
      }
      if (next.done === true) break;
      summary.seen++;
      batch.end = index + 1;
      if (checkpoint.isDone(index)) {
        summary.skipped++;
        summary.alreadyWritten++;
        if (summary.skipped % 1000 === 0) options.onProgress(handled(), summary.written);
        continue;
      }
      const item = parseItem(next.value, options.defaultTtl);
      if ('reason' in item) {
        batch.failed.push({ index, key: item.key, reason: item.reason });
      } else if (item.factory !== undefined) {
        while (factories >= options.concurrency) await new Promise<void>((resolve) => (factoryFreed = resolve));
        batch.slots.push({ index, key: item.key, ttl: item.ttl, tags: item.tags, outcome: runFactory(item.factory, item.key) });
      } else {
        batch.slots.push({ index, key: item.key, ttl: item.ttl, tags: item.tags, outcome: { ok: true, value: item.value } });
      }
      if (batch.slots.length + batch.failed.length >= options.batchSize) {
        await submit(batch);
        batch = { start: index + 1, end: index + 1, slots: [], failed: [] };
      }
    }
    if (fatal === undefined) await submit(batch);
  } finally {
    await Promise.allSettled([...writing]);
    await flush(true);
    if (fatal !== undefined) summary.stopped = fatal;
    summary.ms = performance.now() - started;
    options.onProgress(handled(), summary.written);
  }
  return summary;
}

type Parsed =
  | { key: string; ttl: number | undefined; tags: string[] | undefined; value?: unknown; factory?: (context: { key: string; signal: AbortSignal }) => unknown }
  | { key: string | undefined; reason: string };

/** Checks an item as the facade checks `set`: key, TTL, tags, and exactly one of value or factory. */
function parseItem(item: unknown, defaultTtl: number | undefined): Parsed {
  if (typeof item !== 'object' || item === null) return { key: undefined, reason: `expected { key, value } or { key, factory }, got ${item === null ? 'null' : typeof item}` };
  const { key, value, factory, ttl, tags } = item as Record<string, unknown>;
  const named = typeof key === 'string' ? key : undefined;
  try {
    checkKey(key);
    const hasFactory = factory !== undefined;
    if (hasFactory && typeof factory !== 'function') return { key, reason: 'factory must be a function' };
    if (hasFactory === (value !== undefined)) return { key, reason: hasFactory ? 'give value or factory, not both' : 'no value (undefined cannot be cached) and no factory' };
    const ms = ttl === undefined ? defaultTtl : parseDuration(ttl, 'ttl');
    const parsed = { key, ttl: ms === Infinity ? undefined : ms, tags: tags === undefined ? undefined : scopeTags(tags, '') };
    return hasFactory ? { ...parsed, factory: factory as (context: { key: string; signal: AbortSignal }) => unknown } : { ...parsed, value };
  } catch (error) {
    return { key: named, reason: error instanceof Error ? error.message : String(error) };
  }
}
