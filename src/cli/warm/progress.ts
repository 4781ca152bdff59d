import type { Output } from '../output.js';
import { count } from '../format.js';

/** How far a warm-up got: items handled (written, skipped or failed) out of `total` when known. */
export interface Progress {
  /** `written` (this run) sets the rate shown; items skipped on resume cost nothing. */
  update(handled: number, written: number): void;
  stop(): void;
}

/** Without a total, a status line this often (ms) when not on a terminal. */
const STATUS_EVERY = 5_000;

/**
 * Progress on stderr: a cli-progress bar on a terminal; elsewhere (CI logs, pipes) a status line
 * each time another 10% is done, or every 5 s when the total is unknown.
 */
export async function progress(out: Output, total: number | undefined, label: string): Promise<Progress> {
  const started = performance.now();
  const rate = (written: number): string => count(written / Math.max(0.001, (performance.now() - started) / 1000));
  if (out.interactive) {
    const { SingleBar } = await import('cli-progress');
    const known = total !== undefined && total > 0;
    const bar = new SingleBar({
      stream: out.stderr,
      format: known
        ? `${label} ${out.ec.cyan('{bar}')} {percentage}% | {value}/{total} items | {rate} written/s | eta {eta_formatted}`
        : `${label} {value} items | {rate} written/s | {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
      fps: 10,
      barsize: 30,
    });
    bar.start(known ? total : 0, 0, { rate: '0' });
    return {
      update: (handled, written) => bar.update(handled, { rate: rate(written) }),
      stop: () => bar.stop(),
    };
  }
  let nextTenth = 1;
  let lastLine = performance.now();
  return {
    update(handled, written) {
      if (total !== undefined && total > 0) {
        while (nextTenth <= 10 && handled >= (total * nextTenth) / 10) {
          out.note(`${label} ${nextTenth * 10}% (${count(handled)} of ${count(total)} items, ${rate(written)} written/s)`);
          nextTenth++;
        }
      } else if (performance.now() - lastLine >= STATUS_EVERY) {
        lastLine = performance.now();
        out.note(`${label} ${count(handled)} items (${rate(written)} written/s)`);
      }
    },
    stop() {},
  };
}
