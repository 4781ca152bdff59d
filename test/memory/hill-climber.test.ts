import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HillClimber } from '../../src/memory/hill-climber.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

/** Records one sample of `requests` requests at `hitRate`; true when the climber says it is complete. */
function sample(climber: HillClimber, requests: number, hitRate: number): boolean {
  const hits = Math.round(requests * hitRate);
  let due = false;
  for (let i = 0; i < requests - hits; i++) due = climber.recordMiss() || due;
  return climber.recordHits(hits) || due;
}

describe('HillClimber', () => {
  it('decides nothing until a sample (10 requests per entry) is complete', () => {
    const climber = new HillClimber(10_000, 100_000);
    assert.equal(sample(climber, 99_999, 0.5), false);
    assert.equal(climber.adjustment(true), 0);
    assert.equal(sample(climber, 1, 0.5), true);
    assert.notEqual(climber.adjustment(true), 0);
  });

  it('discards samples while the sketch is not counting yet', () => {
    const climber = new HillClimber(10_000, 100_000);
    sample(climber, 100_000, 0.5);
    assert.equal(climber.adjustment(false), 0);
    assert.equal(sample(climber, 50_000, 0.5), false, 'the discarded sample starts over');
  });

  it('keeps its direction while the hit ratio rises, reverses when it falls, and takes smaller steps', () => {
    const climber = new HillClimber(10_000, 100_000);
    // A large cache starts by shrinking the window: 8% of 10,000 entries.
    sample(climber, 100_000, 0.5);
    assert.equal(climber.adjustment(true), -800, 'from 0 to 50%: keep going');
    sample(climber, 100_000, 0.4);
    assert.equal(climber.adjustment(true), 800, 'fell by 10 points: reverse, full step (restart)');
    sample(climber, 100_000, 0.41);
    assert.equal(climber.adjustment(true), 800, 'rose a little: same direction');
    sample(climber, 100_000, 0.415);
    assert.equal(climber.adjustment(true), 784, 'the step decays by 2% per sample');
    sample(climber, 100_000, 0.405);
    assert.equal(climber.adjustment(true), -768, 'fell a little: reverse with the decayed step');
  });

  it('a small cache starts by growing its window, by at least 2 entries', () => {
    const climber = new HillClimber(16, 2_560);
    sample(climber, 2_560, 0.5);
    assert.equal(climber.adjustment(true), 2);
    assert.ok(climber.stepSize > 0, 'growing');
  });
});
