import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** Items are numbered in the order the module yields them, from 0. */
type Range = [start: number, end: number];

/** The checkpoint file: what a run has written, so a later run with `--resume` skips it. */
export interface CheckpointState {
  version: 1;
  /** Absolute path of the warm-up module. */
  module: string;
  /** The target, without credentials. */
  target: string;
  /** Names this run's batch markers in Redis (`RedisStore.writeMarked`). */
  run: string;
  /** Number of the next batch: batch markers are never reused within a run. */
  nextBatch: number;
  /** Items written (or found nothing to write), as sorted, merged ranges `[start, end)`. */
  done: Range[];
  /** Items inside `done` that failed (a factory threw, a bad item): tried again on resume. */
  failed: number[];
  /** Items done and not failed: for people and scripts watching the file. */
  completed: number;
  updatedAt: string;
}

/** A batch on its way to Redis: written to disk before it is sent, removed once recorded. */
export interface PendingBatch {
  batch: number;
  /** The items the batch covers, skipped ones included. */
  range: Range;
  /** Index and key of every entry sent, in the order sent (markers are found again from them). */
  entries: [index: number, key: string][];
  /** Items of the range that failed. */
  failed: number[];
}

/**
 * Progress of a warm-up, kept so that a run killed at any moment and started again with
 * `--resume` writes every item exactly once and counts it once:
 *
 * 1. Before a batch is sent, it is written to a pending file next to the checkpoint.
 * 2. The batch reaches Redis in one transaction with a marker (`RedisStore.writeMarked`).
 * 3. Once Redis answered, the checkpoint records the batch (written atomically: a temporary file
 *    renamed over it, at most every {@link SAVE_EVERY} ms for all batches done meanwhile), then
 *    the pending file and the marker go.
 *
 * On resume, a pending file means the run died between 1 and 3: the marker says whether the
 * batch landed. Files are written with plain writes (no fsync): they survive the process being
 * killed, which is what a checkpoint is for; a machine crash may lose the last batches, which
 * are then written again.
 */
/** How often (ms) the checkpoint is rewritten while batches complete: one write covers them all. */
export const SAVE_EVERY = 250;

export class Checkpoint {
  readonly path: string;
  readonly #dir: string;
  #state: CheckpointState;
  #failed: Set<number>;
  /** Batches recorded in memory, not yet in the file: their pending files and markers must stay. */
  #unsaved: PendingBatch[] = [];
  #savedAt = 0;

  private constructor(path: string, state: CheckpointState) {
    this.path = path;
    this.#dir = `${path}.pending`;
    this.#state = state;
    this.#failed = new Set(state.failed);
  }

  /** The default checkpoint path of a module and target: one per pair, in the current directory. */
  static defaultPath(module: string, target: string, cwd: string = process.cwd()): string {
    const hash = createHash('sha256').update(`${module}\n${target}`).digest('hex').slice(0, 12);
    return join(cwd, `.hoard-warm-${basename(module).replace(/[^\w.-]/g, '_')}-${hash}.json`);
  }

  /** Whether a checkpoint exists at `path`. */
  static exists(path: string): boolean {
    return existsSync(path);
  }

  /** Starts afresh (any earlier checkpoint at `path` and its pending batches are removed). */
  static create(path: string, module: string, target: string): Checkpoint {
    const file = resolve(path);
    rmSync(`${file}.pending`, { recursive: true, force: true });
    const checkpoint = new Checkpoint(file, { version: 1, module, target, run: randomUUID().slice(0, 8), nextBatch: 0, done: [], failed: [], completed: 0, updatedAt: new Date().toISOString() });
    checkpoint.save();
    return checkpoint;
  }

  /** Opens the checkpoint of an interrupted run of the same module on the same target. */
  static open(path: string, module: string, target: string): Checkpoint {
    const file = resolve(path);
    let state: CheckpointState;
    try {
      state = JSON.parse(readFileSync(file, 'utf8')) as CheckpointState;
    } catch (cause) {
      throw new UsageError(`warm: cannot read the checkpoint ${file}: ${(cause as Error).message}`, { hint: 'run with --restart to start over', cause });
    }
    if (state.version !== 1 || !Array.isArray(state.done) || !Array.isArray(state.failed) || typeof state.run !== 'string') {
      throw new UsageError(`warm: ${file} is not a checkpoint of hoard warm`, { hint: 'give another --checkpoint, or --restart to overwrite it' });
    }
    if (state.module !== module || state.target !== target) {
      throw new UsageError(`warm: the checkpoint ${file} belongs to ${state.module} on ${state.target}`, { hint: 'give this run its own --checkpoint, or --restart to discard that one' });
    }
    const checkpoint = new Checkpoint(file, state);
    // Batches numbered after the last save may have left pending files: never reuse their markers.
    for (const pending of checkpoint.pending()) state.nextBatch = Math.max(state.nextBatch, pending.batch + 1);
    return checkpoint;
  }

  get run(): string {
    return this.#state.run;
  }

  /** Items done and not failed. */
  get completed(): number {
    return this.#state.completed;
  }

  /** Whether item `index` was written by an earlier run (and did not fail). */
  isDone(index: number): boolean {
    const done = this.#state.done;
    let lo = 0;
    let hi = done.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [start, end] = done[mid]!;
      if (index < start) hi = mid - 1;
      else if (index >= end) lo = mid + 1;
      else return !this.#failed.has(index);
    }
    return false;
  }

  /** Takes the next batch number. */
  nextBatch(): number {
    return this.#state.nextBatch++;
  }

  /** Step 1: the batch is about to be sent. */
  begin(batch: PendingBatch): void {
    mkdirSync(this.#dir, { recursive: true });
    writeFileSync(join(this.#dir, `${batch.batch}.json`), JSON.stringify(batch));
  }

  /**
   * Step 3: the batch is in Redis; `written` says which of its entries (all, normally). Recorded
   * in memory; {@link flush} writes it out.
   */
  commit(batch: PendingBatch, written?: readonly boolean[]): void {
    if (written === undefined || written.every(Boolean)) {
      // Every item of the range was skipped (done before) or tried in this batch, so the range is
      // done, and its failures are this batch's (earlier ones were tried again).
      const [start, end] = batch.range;
      this.#add(batch.range);
      for (const index of [...this.#failed]) if (index >= start && index < end) this.#failed.delete(index);
      for (const index of batch.failed) this.#failed.add(index);
    } else {
      // Only some slots' transactions are known to have landed: record their entries alone (the
      // rest, failures included, are tried again).
      batch.entries.forEach(([index], i) => {
        if (written[i] !== true) return;
        this.#add([index, index + 1]);
        this.#failed.delete(index);
      });
    }
    this.#unsaved.push(batch);
  }

  /**
   * Writes what was committed since the last write, once {@link SAVE_EVERY} ms have passed (or
   * now, with `force`), then removes the pending files it covers. Returns the batches it covered,
   * whose markers may go now.
   */
  flush(force = false): PendingBatch[] {
    if (this.#unsaved.length === 0 || (!force && performance.now() - this.#savedAt < SAVE_EVERY)) return [];
    const covered = this.#unsaved;
    this.#unsaved = [];
    this.save();
    for (const batch of covered) rmSync(join(this.#dir, `${batch.batch}.json`), { force: true });
    return covered;
  }

  /** Batches sent by an earlier run whose outcome was never recorded. */
  pending(): PendingBatch[] {
    if (!existsSync(this.#dir)) return [];
    const batches: PendingBatch[] = [];
    for (const name of readdirSync(this.#dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        batches.push(JSON.parse(readFileSync(join(this.#dir, name), 'utf8')) as PendingBatch);
      } catch {
        // Cut short by the kill before step 2 began: nothing of it was sent.
        rmSync(join(this.#dir, name), { force: true });
      }
    }
    return batches.sort((a, b) => a.batch - b.batch);
  }

  /** Forgets a pending batch that never reached Redis (its items are written again). */
  drop(batch: PendingBatch): void {
    rmSync(join(this.#dir, `${batch.batch}.json`), { force: true });
  }

  /** The run is complete: the checkpoint and its pending batches go. */
  remove(): void {
    rmSync(this.#dir, { recursive: true, force: true });
    rmSync(this.path, { force: true });
  }

  /** Writes the checkpoint atomically: a reader (or a resumed run) never sees half a file. */
  save(): void {
    const state = this.#state;
    state.failed = [...this.#failed].sort((a, b) => a - b);
    state.completed = state.done.reduce((n, [start, end]) => n + end - start, 0) - state.failed.length;
    state.updatedAt = new Date().toISOString();
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(state));
    renameSync(temporary, this.path);
    this.#savedAt = performance.now();
  }

  /** Adds a range to `done`, keeping the ranges sorted and merged. */
  #add([start, end]: Range): void {
    if (end <= start) return;
    const done = this.#state.done;
    let i = 0;
    while (i < done.length && done[i]![1] < start) i++;
    let s = start;
    let e = end;
    let j = i;
    while (j < done.length && done[j]![0] <= e) {
      s = Math.min(s, done[j]![0]);
      e = Math.max(e, done[j]![1]);
      j++;
    }
    done.splice(i, j - i, [s, e]);
  }
}
