/**
 * FAULTS.md H12 for streams: a 50 MiB streamed body passes through every adapter untouched and
 * uncached, no request ever holds more than maxBodyBytes of it, and a slow stream reaches the
 * client as it is written (server-sent events must not wait for a buffer to fill).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { bufferedInternals } from '../../src/http/buffered.js';
import { guardProcess } from '../helpers/guard.js';
import { ADAPTERS, registerCleanup, startServer } from './support.js';

registerCleanup();
guardProcess();

const MiB = 1024 * 1024;

interface Counted {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  /** ms from the request to the first body byte, and to the end. */
  firstByte: number;
  end: number;
}

/** A GET that counts the body instead of keeping it. */
function countBody(port: number, path: string): Promise<Counted> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let bytes = 0;
      let firstByte = -1;
      res.on('data', (d: Buffer) => {
        if (firstByte < 0) firstByte = performance.now() - started;
        bytes += d.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, firstByte, end: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

// A collection before each sample, so that the transfer's garbage does not count as held memory.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Live heap and array buffers after a collection. */
function live(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

for (const adapter of ADAPTERS) {
  describe(`${adapter}: streamed bodies`, () => {
    it('passes a 50 MiB stream through uncached, holding no more than maxBodyBytes', async (t) => {
      const s = await startServer(adapter, () => ({ headers: { 'content-type': 'application/octet-stream' }, stream: { chunks: 800, size: 64 * 1024 } }));
      bufferedInternals(true);
      const baseline = live();
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, live());
      }, 25);
      try {
        const r = await countBody(s.port, '/download');
        assert.equal(r.status, 200);
        assert.equal(r.bytes, 50 * MiB, 'every byte arrived');
        assert.equal(r.headers['x-cache'], 'MISS');
      } finally {
        clearInterval(sampler);
      }
      const held = bufferedInternals().peakBuffered;
      t.diagnostic(`held ${held} bytes; live memory grew ${((peak - baseline) / MiB).toFixed(1)} MiB`);
      assert.ok(held <= MiB, `at most maxBodyBytes (1 MiB) held, got ${held}`);
      // Buffering the body would hold all 50 MiB; sockets, streams in flight and garbage not yet
      // collected (heapUsed is sampled without forcing a collection) hold up to a few tens.
      assert.ok(peak - baseline < 32 * MiB, `live memory grew by ${((peak - baseline) / MiB).toFixed(1)} MiB`);
      assert.equal(s.cache.stats().size, 0, 'nothing stored');
      const again = await countBody(s.port, '/download');
      assert.equal(again.headers['x-cache'], 'MISS');
      assert.equal(s.calls('/download'), 2);
    });

    it('a slow stream reaches the client as it is written', async () => {
      const s = await startServer(adapter, () => ({ headers: { 'content-type': 'text/event-stream' }, stream: { chunks: 3, size: 16, gapMs: 150 } }));
      const r = await countBody(s.port, '/events');
      assert.equal(r.bytes, 48);
      assert.ok(r.end - r.firstByte >= 200, `the first bytes came ${(r.end - r.firstByte).toFixed(0)} ms before the end`);
    });
  });
}
