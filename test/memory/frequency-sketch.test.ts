import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrequencySketch } from '../../src/memory/frequency-sketch.js';
import { slotHash } from '../../src/memory/tinylfu.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

/** Fixed 30-bit hashes, so every run sees the same counters. */
const hashOf = (i: number): number => slotHash(`key:${i}`) >>> 0;

describe('FrequencySketch', () => {
  it('counts each key, one increment at a time, up to 15 (4-bit counters saturate)', () => {
    const sketch = new FrequencySketch(1024);
    const a = hashOf(1);
    assert.equal(sketch.frequency(a), 0);
    for (let n = 1; n <= 20; n++) {
      sketch.increment(a);
      assert.equal(sketch.frequency(a), Math.min(n, 15), `after ${n} increments`);
    }
  });

  it('keeps keys apart: another key is not counted for it', () => {
    const sketch = new FrequencySketch(1024);
    for (let n = 0; n < 9; n++) sketch.increment(hashOf(1));
    for (let n = 0; n < 4; n++) sketch.increment(hashOf(2));
    assert.equal(sketch.frequency(hashOf(1)), 9);
    assert.equal(sketch.frequency(hashOf(2)), 4);
    assert.equal(sketch.frequency(hashOf(3)), 0);
  });

  it('reset() halves every counter (rounding down)', () => {
    const sketch = new FrequencySketch(1024);
    const counts = [15, 9, 4, 1];
    counts.forEach((count, i) => {
      for (let n = 0; n < count; n++) sketch.increment(hashOf(i));
    });
    sketch.reset();
    counts.forEach((count, i) => assert.equal(sketch.frequency(hashOf(i)), count >> 1, `key ${i}`));
    assert.equal(sketch.resets, 1);
  });

  it('ages by itself once sampleSize increments were counted (ten per entry)', () => {
    const sketch = new FrequencySketch(256);
    assert.equal(sketch.sampleSize, 2560);
    const hot = hashOf(0);
    for (let n = 0; n < 15; n++) sketch.increment(hot);
    let i = 1;
    while (!sketch.aging) sketch.increment(hashOf(i++));
    assert.ok(i > 2000 && i <= 2560, `a halving is due after about sampleSize increments (${i})`);
    sketch.age();
    assert.equal(sketch.aging, false, 'a small sketch halves in one slice');
    assert.equal(sketch.resets, 1);
    // Saturated at 15 whatever collided with it, so exactly 7 after the halving.
    assert.equal(sketch.frequency(hot), 7);
    assert.ok(sketch.additions < sketch.sampleSize / 2, `the count restarts from less than half (${sketch.additions})`);
  });

  it('halves a large sketch in slices, one per age() call', () => {
    const sketch = new FrequencySketch(1 << 15); // 64k words: 16 slices of 4,096
    const hot = hashOf(0);
    for (let n = 0; n < 15; n++) sketch.increment(hot);
    for (let i = 1; !sketch.aging; i++) sketch.increment(hashOf(i));
    let calls = 0;
    while (sketch.aging) {
      sketch.age();
      calls++;
    }
    assert.equal(calls, 16);
    assert.equal(sketch.resets, 1);
    assert.equal(sketch.frequency(hot), 7);
    sketch.age(); // nothing due: a no-op
    assert.equal(sketch.resets, 1);
  });

  it('incrementBy adds a weight at once, saturating at 15', () => {
    const sketch = new FrequencySketch(1024);
    const a = hashOf(7);
    sketch.incrementBy(a, 8);
    assert.equal(sketch.frequency(a), 8);
    sketch.incrementBy(a, 8);
    assert.equal(sketch.frequency(a), 15);
    assert.equal(sketch.additions, 16);
  });

  it('holds 8 bytes per entry, for a power of two of at least 256 entries', () => {
    assert.equal(new FrequencySketch(1).byteLength, 256 * 8);
    assert.equal(new FrequencySketch(1000).byteLength, 1024 * 8);
    assert.equal(new FrequencySketch(1 << 20).byteLength, (1 << 20) * 8);
  });

  it('an estimate is never below the true count (count-min), with 1,000 keys in a 1,024 sketch', () => {
    const sketch = new FrequencySketch(1024);
    const truth = new Map<number, number>();
    let seed = 7;
    for (let n = 0; n < 2000; n++) {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      const key = seed % 1000;
      sketch.increment(hashOf(key));
      truth.set(key, (truth.get(key) ?? 0) + 1);
    }
    let exact = 0;
    for (const [key, count] of truth) {
      const estimate = sketch.frequency(hashOf(key));
      assert.ok(estimate >= Math.min(count, 15), `key ${key}: estimate ${estimate} below its count ${count}`);
      if (estimate === Math.min(count, 15)) exact++;
    }
    assert.ok(exact / truth.size > 0.9, `most estimates are exact (${exact} of ${truth.size})`);
  });
});
