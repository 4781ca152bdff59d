let peak = 0;

/** Records that one request holds `bytes` of a body in memory right now. */
export function noteBuffered(bytes: number): void {
  if (bytes > peak) peak = bytes;
}

/** @internal Test hook: the most body bytes any request held at once since the last reset (FAULTS.md H12). */
export function bufferedInternals(reset = false): { peakBuffered: number } {
  const out = { peakBuffered: peak };
  if (reset) peak = 0;
  return out;
}
