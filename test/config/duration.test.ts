import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { ConfigError, createCache, memoryStore, parseDuration } from '../../src/index.js';
import { MAX_TIMER_MS, timerDelay } from '../../src/config/duration.js';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

function isConfigError(option: string, message?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.option, option);
    assert.equal(error.code, 'HOARD_CONFIG');
    assert.ok(error.message.startsWith(`${option}: `), error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  };
}

describe('parseDuration', () => {
  it('parses every unit', () => {
    assert.equal(parseDuration('250ms', 'ttl'), 250);
    assert.equal(parseDuration('1.5s', 'ttl'), 1_500);
    assert.equal(parseDuration('5m', 'ttl'), 300_000);
    assert.equal(parseDuration('2h', 'ttl'), 7_200_000);
    assert.equal(parseDuration('1d', 'ttl'), 86_400_000);
    assert.equal(parseDuration('30s', 'ttl'), 30_000);
    assert.equal(parseDuration('0.5h', 'ttl'), 1_800_000);
  });

  it('takes numbers as milliseconds', () => {
    assert.equal(parseDuration(1, 'ttl'), 1);
    assert.equal(parseDuration(60_000, 'ttl'), 60_000);
    assert.equal(parseDuration(2 ** 47, 'ttl'), 2 ** 47);
  });

  it('a duration past what Redis can express (about 4,460 years) means never expires (issue 6, point 10)', () => {
    assert.equal(parseDuration(2 ** 47 + 1, 'ttl'), Infinity);
    assert.equal(parseDuration(Number.MAX_SAFE_INTEGER, 'ttl'), Infinity);
    assert.equal(parseDuration(1e19, 'ttl'), Infinity);
    assert.equal(parseDuration('200000000d', 'ttl'), Infinity);
  });

  it('Infinity means never expires', () => {
    assert.equal(parseDuration(Infinity, 'ttl'), Infinity);
  });

  it('rounds fractions of a millisecond up', () => {
    assert.equal(parseDuration(1.2, 'ttl'), 2);
    assert.equal(parseDuration(0.001, 'ttl'), 1);
    assert.equal(parseDuration('0.5ms', 'ttl'), 1);
    assert.equal(parseDuration('1.0001s', 'ttl'), 1_001);
    assert.equal(parseDuration('2.0ms', 'ttl'), 2);
  });

  it('is exact for decimal strings (no floating point millisecond too many)', () => {
    // 0.27 * 60_000 is 16200.000000000002 in floating point; rounding that up gives 16201.
    assert.equal(parseDuration('0.27m', 'ttl'), 16_200);
    assert.equal(parseDuration('0.07h', 'ttl'), 252_000);
    assert.equal(parseDuration('0.07d', 'ttl'), 6_048_000);
    assert.equal(parseDuration('2.007s', 'ttl'), 2_007);
    for (let i = 1; i < 1000; i++) {
      const text = (i / 100).toFixed(2);
      assert.equal(parseDuration(`${text}m`, 'ttl'), i * 600, `${text}m`);
    }
  });

  it('a bad duration is a ConfigError naming the option', () => {
    for (const [value, pattern] of [
      ['5 parsecs', /250ms, 1\.5s, 5m, 2h or 1d/],
      ['5', /250ms/],
      ['5 m', /250ms/],
      ['5M', /250ms/],
      ['-1s', /250ms/],
      ['.5s', /250ms/],
      ['1e3ms', /250ms/],
      ['', /250ms/],
      ['Infinity', /250ms/],
      [-1, />= 0/],
      [-Infinity, />= 0/],
      [NaN, />= 0/],
      [null, /got object/],
      [undefined, /got undefined/],
      [true, /got boolean/],
      [{}, /got object/],
      [10n, /got bigint/],
    ] as const) {
      assert.throws(() => parseDuration(value, 'grace'), isConfigError('grace', pattern), inspect(value));
    }
  });

  it('0 is a ConfigError unless allowed', () => {
    assert.throws(() => parseDuration(0, 'ttl'), isConfigError('ttl', /greater than 0/));
    assert.throws(() => parseDuration('0s', 'ttl'), isConfigError('ttl'));
    assert.throws(() => parseDuration('0.0ms', 'ttl'), isConfigError('ttl'));
    assert.equal(parseDuration(0, 'timeout.soft', { allowZero: true }), 0);
    assert.equal(parseDuration('0ms', 'timeout.soft', { allowZero: true }), 0);
  });

  it('timer delays are clamped to Node\'s limit, never shortened otherwise', () => {
    assert.equal(MAX_TIMER_MS, 2 ** 31 - 1);
    assert.equal(timerDelay(1_000), 1_000);
    assert.equal(timerDelay(MAX_TIMER_MS), MAX_TIMER_MS);
    assert.equal(timerDelay(parseDuration('30d', 'ttl')), MAX_TIMER_MS);
    assert.equal(timerDelay(Infinity), MAX_TIMER_MS);
  });
});

describe('durations given to the cache', () => {
  const setup = (): { cache: ReturnType<typeof createCache>; clock: ReturnType<typeof fakeClock> } => {
    const clock = fakeClock();
    return { cache: createCache({ store: memoryStore({ clock }), clock }, {}), clock };
  };

  it('`ttl: 0` given to set is a ConfigError and leaves the existing value untouched', async () => {
    const { cache } = setup();
    await cache.set('k', 'old', { ttl: '1m' });
    await assert.rejects(() => cache.set('k', 'new', { ttl: 0 }), isConfigError('ttl'));
    assert.equal(await cache.get('k'), 'old');
    assert.equal(await cache.ttl('k'), 60_000);
  });

  it('a bad ttl or grace in set, setMany and getOrSet is a ConfigError naming it', async () => {
    const { cache } = setup();
    await cache.set('k', 'old');
    await assert.rejects(() => cache.set('k', 'new', { ttl: '5 parsecs' as '5s' }), isConfigError('ttl', /5 parsecs/));
    await assert.rejects(() => cache.set('k', 'new', { ttl: -1 }), isConfigError('ttl'));
    await assert.rejects(() => cache.set('k', 'new', { ttl: NaN }), isConfigError('ttl'));
    await assert.rejects(() => cache.set('k', 'new', { grace: -5 }), isConfigError('grace'));
    await assert.rejects(() => cache.setMany([{ key: 'a', value: 1 }, { key: 'k', value: 'new', ttl: 0 }]), isConfigError('ttl'));
    let runs = 0;
    await assert.rejects(() => cache.getOrSet('g', () => ++runs, { ttl: 0 }), isConfigError('ttl'));
    await assert.rejects(() => cache.getOrSet('g', () => ++runs, { grace: 0 }), isConfigError('grace'));
    await assert.rejects(() => cache.getOrSet('g', () => ++runs, { timeout: { hard: -1 } }), isConfigError('timeout.hard'));
    assert.equal(runs, 0);
    assert.equal(await cache.get('k'), 'old');
    assert.equal(await cache.has('a'), false);
  });

  it('string and number ttls expire on time', async () => {
    const { cache, clock } = setup();
    await cache.set('s', 1, { ttl: '1.5s' });
    await cache.set('n', 2, { ttl: 1_500 });
    await cache.set('f', 3, { ttl: 0.2 });
    await cache.set('inf', 4, { ttl: Infinity });
    assert.equal(await cache.ttl('s'), 1_500);
    assert.equal(await cache.ttl('f'), 1);
    assert.equal(await cache.ttl('inf'), Infinity);
    clock.advance(1);
    assert.equal(await cache.get('f'), undefined);
    clock.advance(1_498);
    assert.deepEqual(await cache.getMany(['s', 'n']), [1, 2]);
    clock.advance(1);
    assert.deepEqual(await cache.getMany(['s', 'n', 'inf']), [undefined, undefined, 4]);
  });

  it('bad durations in createCache and memoryStore options are ConfigErrors naming the option', () => {
    assert.throws(() => createCache({ defaultTtl: '5 parsecs' as '5s' }, {}), isConfigError('defaultTtl'));
    assert.throws(() => createCache({ defaultTtl: 0 }, {}), isConfigError('defaultTtl'));
    assert.throws(() => createCache({ defaultGrace: -1 }, {}), isConfigError('defaultGrace'));
    assert.throws(() => createCache({ graceBackoff: NaN }, {}), isConfigError('graceBackoff'));
    assert.throws(() => memoryStore({ ttl: '1 fortnight' as '1d' }), isConfigError('ttl'));
    assert.throws(() => memoryStore({ sweepInterval: 0 }), isConfigError('sweepInterval'));
  });

  it('`defaultTtl: Infinity` means never expires', async () => {
    const clock = fakeClock();
    const cache = createCache({ clock, defaultTtl: Infinity }, {});
    await cache.set('k', 1);
    assert.equal(await cache.ttl('k'), Infinity);
    clock.advance(100 * 365 * 86_400_000);
    assert.equal(await cache.get('k'), 1);
  });
});
