/**
 * Multi-instance coherence over the Redis bus (FAULTS.md 3.6 N1-N6, N8, N9; R5 part), with the
 * contract of API.md "Bus" and "Redis-backed caches": every instance is a separate Node process
 * (test/redis/fixtures/cache-instance.ts) driven over IPC, all on one redis-server started here.
 *
 * Group `bus` (A, B, C): each instance's bus connects as its own ACL user (`i0`, `i1`, `i2`,
 * declared on the server command line, so they survive a restart), which lets
 * `CLIENT KILL USER i1 TYPE pubsub` drop B's subscriber alone. Group `nobus` (D, E): no bus.
 *
 * Deadlines are behavioural bounds with generous slack for a loaded 2-core machine; measured
 * propagation times are printed as test diagnostics.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { guardProcess, sleep } from '../helpers/guard.js';
import { pollUntil, sendCommand, startInstances, startProxy, startRedis } from '../harness/index.js';
import type { Instance, InstanceGroup, RedisProcess, RespReply } from '../harness/index.js';
import type { CacheInstanceHandlers } from './fixtures/cache-instance.js';

guardProcess();

/** Propagation bound of FAULTS.md N1/N2 (ms). */
const PROPAGATION_MS = 50;
/** Added to every deadline: a loaded 2-core machine, other test files running in parallel. */
const SLACK_MS = 400;
/**
 * Subscriber reconnect: ioredis' first retry comes after 100 ms (CLIENT_DEFAULTS.retryStrategy),
 * then connect, ready check, SUBSCRIBE and one heartbeat round trip.
 */
const RECONNECT_MS = 500;
const HEARTBEAT = '1s';
const PASSWORD = 'bus-test-pw';

type Inst = Instance<CacheInstanceHandlers>;
const entry = new URL('./fixtures/cache-instance.ts', import.meta.url);

let redis: RedisProcess;
let group: InstanceGroup<CacheInstanceHandlers, 3>;
let nobus: InstanceGroup<CacheInstanceHandlers, 2>;
let A: Inst, B: Inst, C: Inst, D: Inst, E: Inst;
const PREFIX = 'bus:';
const NOBUS_PREFIX = 'nobus:';
const CHANNEL = `${PREFIX}bus`;

before(async () => {
  redis = await startRedis({
    // One ACL user per instance of the bus group, for the bus connections only.
    extraArgs: [0, 1, 2].flatMap((i) => ['--user', `i${i}`, 'on', `>${PASSWORD}`, '~*', '&*', '+@all']),
  });
  const common = { HOARD_REDIS_URL: redis.url, HOARD_HEARTBEAT: HEARTBEAT, HOARD_L2_TIMEOUT: '1s' };
  [group, nobus] = await Promise.all([
    startInstances<CacheInstanceHandlers, 3>(3, {
      entry,
      env: { ...common, HOARD_PREFIX: PREFIX },
      envFor: (i) => ({ HOARD_BUS_URL: `redis://i${i}:${PASSWORD}@${redis.host}:${redis.port}` }),
      readyTimeoutMs: 60_000,
    }),
    startInstances<CacheInstanceHandlers, 2>(2, {
      entry,
      env: { ...common, HOARD_PREFIX: NOBUS_PREFIX, HOARD_BUS: 'false' },
      readyTimeoutMs: 60_000,
    }),
  ]);
  [A, B, C] = group.instances;
  [D, E] = nobus.instances;
  for (const inst of [A, B, C, D, E]) {
    const state = await inst.call('ready', 15_000);
    assert.deepEqual(state, { l2Available: true, busHealthy: true }, `instance ${inst.index} ready`);
  }
});

after(async () => {
  await Promise.all([group?.stopAll(), nobus?.stopAll()]);
  await redis?.stop();
});

// --------------------------------------------------------------------------------------------------

function redisCommand(...args: string[]): Promise<RespReply> {
  return sendCommand(redis.port, args, { timeoutMs: 5_000 });
}

async function numsub(channel = CHANNEL): Promise<number> {
  const reply = await redisCommand('PUBSUB', 'NUMSUB', channel);
  assert.ok(Array.isArray(reply), `PUBSUB NUMSUB reply ${String(reply)}`);
  return Number((reply as readonly RespReply[])[1]);
}

/** Pub/sub connections of ACL user `user` still subscribed (from CLIENT LIST). */
async function subscribersOf(user: string): Promise<number> {
  const list = await redisCommand('CLIENT', 'LIST', 'TYPE', 'pubsub');
  assert.equal(typeof list, 'string');
  return (list as string)
    .split('\n')
    .filter((line) => line.includes(` user=${user} `) && /\bsub=[1-9]/.test(line)).length;
}

/** Polls `inst.get(key)` until it deep-equals `expected`; resolves with the elapsed ms. */
function until(inst: Inst, key: string, expected: unknown, timeoutMs: number, ns?: string, what = ''): Promise<number> {
  return pollUntil(async () => isDeepStrictEqual(await inst.call('get', key, ns), expected), {
    timeoutMs,
    intervalMs: 5,
    description: `instance ${inst.index}: get(${JSON.stringify(key)}${ns === undefined ? '' : ` in ${ns}`}) === ${JSON.stringify(expected)}${what}`,
  });
}

/**
 * Reads `keys` on each instance until its memory tier holds them. One read is not always enough:
 * when the writer's bus message arrives while the reader's L2 read is in flight, the reader
 * rightly does not keep what it read (the "caching in progress" rule), so it reads again.
 */
async function warm(instances: readonly Inst[], entries: readonly [key: string, value: unknown][], ns?: string): Promise<void> {
  for (const inst of instances) {
    for (const [key, value] of entries) {
      await pollUntil(
        async () => {
          assert.deepEqual(await inst.call('get', key, ns), value, `instance ${inst.index} warm on ${key}`);
          return inst.call('l1Has', ns === undefined ? key : `${ns}:${key}`);
        },
        { timeoutMs: 2_000, description: `instance ${inst.index} holds ${key} in L1` },
      );
    }
  }
}

async function flushes(inst: Inst): Promise<number> {
  const stats = await inst.call('stats');
  assert.equal(typeof stats.l1Flushes, 'number', 'Redis-backed caches report l1Flushes');
  return stats.l1Flushes!;
}

async function allHealthy(instances: readonly Inst[], timeoutMs = 10_000): Promise<void> {
  for (const inst of instances) {
    const state = await inst.call('ready', timeoutMs);
    assert.deepEqual(state, { l2Available: true, busHealthy: true }, `instance ${inst.index} healthy again`);
  }
}

const fmt = (ms: readonly number[]): string => ms.map((m) => m.toFixed(1)).join(', ');
const median = (ms: readonly number[]): number => [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)] ?? NaN;

// --------------------------------------------------------------------------------------------------

describe('bus: separate processes, one Redis', () => {
  it('N1: A.set(k, v2) reaches the L1 of B and C within 50 ms + slack (polled every 5 ms)', async (t: TestContext) => {
    const timesB: number[] = [];
    const timesC: number[] = [];
    for (let round = 0; round < 5; round++) {
      const key = `n1:${round}`;
      await A.call('set', key, 'v1');
      await warm([A, B, C], [[key, 'v1']]);
      // The clock starts before A's set is sent: the bound covers A's L2 write and the message.
      const started = performance.now();
      const set = A.call('set', key, 'v2');
      const [tb, tc] = await Promise.all([
        until(B, key, 'v2', PROPAGATION_MS + SLACK_MS),
        until(C, key, 'v2', PROPAGATION_MS + SLACK_MS),
      ]);
      await set;
      timesB.push(tb);
      timesC.push(tc);
      assert.ok(performance.now() - started < 10_000);
    }
    const all = [...timesB, ...timesC];
    t.diagnostic(`N1 propagation A->B ms: [${fmt(timesB)}]; A->C ms: [${fmt(timesC)}]; median ${median(all).toFixed(1)}, max ${Math.max(...all).toFixed(1)}`);
    for (const ms of all) assert.ok(ms <= PROPAGATION_MS + SLACK_MS, `propagation ${ms} ms`);
  });

  it('N2: delete, invalidateTags and clear in ns1 are observed on B and C; ns2 is untouched', async (t: TestContext) => {
    const keys: [string, unknown][] = [
      ['k1', 'one'],
      ['k2', 'two'],
      ['k3', 'three'],
    ];
    for (const ns of ['ns1', 'ns2']) {
      await A.call('setMany', keys.map(([key, value]) => ({ key, value: `${ns}-${String(value)}`, ...(key === 'k2' ? { tags: ['t'] } : {}) })), ns);
    }
    const warmNs = (ns: string): Promise<void> => warm([B, C], keys.map(([k, v]) => [k, `${ns}-${String(v)}`]), ns);
    await warmNs('ns1');
    await warmNs('ns2');
    const times: string[] = [];
    const observe = async (label: string, key: string): Promise<void> => {
      const [tb, tc] = await Promise.all([
        until(B, key, undefined, PROPAGATION_MS + SLACK_MS, 'ns1', ` after ${label}`),
        until(C, key, undefined, PROPAGATION_MS + SLACK_MS, 'ns1', ` after ${label}`),
      ]);
      times.push(`${label} B ${tb.toFixed(1)} C ${tc.toFixed(1)}`);
    };

    assert.equal(await A.call('delete', 'k1', 'ns1'), true);
    await observe('delete', 'k1');
    assert.equal(await A.call('invalidateTags', ['t'], 'ns1'), 1);
    await observe('invalidateTags', 'k2');
    await A.call('clear', 'ns1');
    await observe('clear(ns1)', 'k3');
    t.diagnostic(`N2 propagation ms: ${times.join('; ')}`);

    // ns2: the same keys and the same tag, still in B's and C's memory and in Redis.
    await sleep(50);
    for (const inst of [B, C]) {
      for (const [key, value] of keys) {
        assert.equal(await inst.call('l1Has', `ns2:${key}`), true, `instance ${inst.index} still holds ns2:${key} in L1`);
        assert.equal(await inst.call('get', key, 'ns2'), `ns2-${String(value)}`);
        assert.equal(await inst.call('get', key, 'ns1'), undefined);
      }
    }
    assert.equal(await redisCommand('EXISTS', `${PREFIX}ns2:k1`, `${PREFIX}ns2:k2`, `${PREFIX}ns2:k3`), 3);
    assert.equal(await redisCommand('EXISTS', `${PREFIX}ns1:k1`, `${PREFIX}ns1:k2`, `${PREFIX}ns1:k3`), 0);
  });

  it('N5: the writer keeps its own fresh L1 entry (its message is not applied to itself) while B evicts', async () => {
    const key = 'n5';
    await A.call('set', key, 'v1');
    await warm([B], [[key, 'v1']]);
    const flushesA = await flushes(A);
    await A.call('set', key, 'v2');
    assert.equal(await A.call('l1Peek', key), 'v2', 'A wrote its new value to L1');
    await pollUntil(async () => !(await B.call('l1Has', key)), { timeoutMs: PROPAGATION_MS + SLACK_MS, description: 'B evicts k' });
    // A's own message went out at the same time B's arrived; give it time to come back if it would.
    await sleep(200);
    assert.equal(await A.call('l1Peek', key), 'v2', 'A still holds its fresh copy');
    assert.equal(await flushes(A), flushesA, 'A did not flush its L1');
    const before = await A.call('stats');
    assert.equal(await A.call('get', key), 'v2');
    const afterStats = await A.call('stats');
    assert.equal(afterStats.hits - before.hits, 1);
    assert.equal(afterStats.misses, before.misses);
    assert.equal(afterStats.size >= 1, true);
    assert.equal(await B.call('get', key), 'v2');
  });

  it('N6: A.set(k, v1); A.set(k, v2) back to back while B reads k in a loop: B never ends on v1', async (t: TestContext) => {
    const sequences: string[] = [];
    for (let round = 0; round < 8; round++) {
      const key = `n6:${round}`;
      await A.call('set', key, 'v0');
      await warm([B], [[key, 'v0']]);
      const reads = B.call('readLoop', key, 400);
      await sleep(30);
      await Promise.all([A.call('set', key, 'v1'), A.call('set', key, 'v2')]);
      await until(B, key, 'v2', PROPAGATION_MS + SLACK_MS);
      const seen = await reads;
      sequences.push(seen.map(String).join('>'));
      assert.equal(seen.at(-1), 'v2', `B's reads ended on ${String(seen.at(-1))}: ${seen.map(String).join(' > ')}`);
      await sleep(100);
      assert.equal(await B.call('get', key), 'v2');
      const held = await B.call('l1Peek', key);
      assert.ok(held === 'v2' || held === undefined, `B's L1 holds ${String(held)}`);
    }
    t.diagnostic(`N6 values seen by B per round: ${sequences.join(' | ')}`);
  });

  describe('every mutation publishes (API.md "Bus")', () => {
    it('set', async () => {
      await A.call('set', 'p:set', 1);
      await warm([B], [['p:set', 1]]);
      await A.call('set', 'p:set', 2);
      await until(B, 'p:set', 2, PROPAGATION_MS + SLACK_MS);
    });

    it('setMany', async () => {
      await A.call('setMany', [
        { key: 'p:sm1', value: 1 },
        { key: 'p:sm2', value: 2 },
      ]);
      await warm([B], [
        ['p:sm1', 1],
        ['p:sm2', 2],
      ]);
      await A.call('setMany', [
        { key: 'p:sm1', value: 10 },
        { key: 'p:sm2', value: 20 },
      ]);
      await until(B, 'p:sm1', 10, PROPAGATION_MS + SLACK_MS);
      await until(B, 'p:sm2', 20, PROPAGATION_MS + SLACK_MS);
    });

    it('incr', async () => {
      await A.call('set', 'p:incr', 5);
      await warm([B], [['p:incr', 5]]);
      assert.equal(await A.call('incr', 'p:incr', 1), 6);
      await until(B, 'p:incr', 6, PROPAGATION_MS + SLACK_MS);
      assert.equal(await B.call('incr', 'p:incr', 2), 8);
      await until(A, 'p:incr', 8, PROPAGATION_MS + SLACK_MS);
    });

    it('delete', async () => {
      await A.call('set', 'p:del', 1);
      await warm([B], [['p:del', 1]]);
      assert.equal(await A.call('delete', 'p:del'), true);
      await until(B, 'p:del', undefined, PROPAGATION_MS + SLACK_MS);
    });

    it('deleteMany', async () => {
      await A.call('setMany', [
        { key: 'p:dm1', value: 1 },
        { key: 'p:dm2', value: 2 },
      ]);
      await warm([B], [
        ['p:dm1', 1],
        ['p:dm2', 2],
      ]);
      assert.equal(await A.call('deleteMany', ['p:dm1', 'p:dm2']), 2);
      await until(B, 'p:dm1', undefined, PROPAGATION_MS + SLACK_MS);
      await until(B, 'p:dm2', undefined, PROPAGATION_MS + SLACK_MS);
    });

    it('deletePattern', async () => {
      await A.call('setMany', [
        { key: 'pat:1', value: 1 },
        { key: 'pat:2', value: 2 },
        { key: 'other:1', value: 3 },
      ]);
      await warm([B], [
        ['pat:1', 1],
        ['pat:2', 2],
        ['other:1', 3],
      ]);
      assert.equal(await A.call('deletePattern', 'pat:*'), 2);
      await until(B, 'pat:1', undefined, PROPAGATION_MS + SLACK_MS);
      await until(B, 'pat:2', undefined, PROPAGATION_MS + SLACK_MS);
      assert.equal(await B.call('l1Has', 'other:1'), true);
    });

    it('invalidateTags', async () => {
      await A.call('set', 'p:tag1', 1, { tags: ['tg'] });
      await A.call('set', 'p:tag2', 2, { tags: ['other'] });
      await warm([B], [
        ['p:tag1', 1],
        ['p:tag2', 2],
      ]);
      assert.equal(await A.call('invalidateTags', ['tg']), 1);
      await until(B, 'p:tag1', undefined, PROPAGATION_MS + SLACK_MS);
      assert.equal(await B.call('l1Has', 'p:tag2'), true);
    });

    it('clear (root)', async () => {
      await A.call('setMany', [
        { key: 'p:c1', value: 1 },
        { key: 'p:c2', value: 2 },
      ]);
      await warm([B, C], [
        ['p:c1', 1],
        ['p:c2', 2],
      ]);
      await A.call('clear');
      for (const inst of [B, C]) {
        await until(inst, 'p:c1', undefined, PROPAGATION_MS + SLACK_MS);
        await until(inst, 'p:c2', undefined, PROPAGATION_MS + SLACK_MS);
      }
    });

    it('a value filled by getOrSet', async () => {
      // B holds 'stale' in L1 while Redis lost the key: only A's message can correct B.
      await B.call('set', 'p:gos', 'stale');
      assert.equal(await redisCommand('DEL', `${PREFIX}p:gos`), 1);
      assert.equal(await B.call('get', 'p:gos'), 'stale');
      const calls = await A.call('loaderCalls');
      assert.equal(await A.call('getOrSet', 'p:gos', 'value', 'fresh'), 'fresh');
      assert.equal(await A.call('loaderCalls'), calls + 1);
      await until(B, 'p:gos', 'fresh', PROPAGATION_MS + SLACK_MS);
    });

    it('values filled by getOrSetMany', async () => {
      await B.call('setMany', [
        { key: 'p:gosm1', value: 'stale' },
        { key: 'p:gosm2', value: 'stale' },
      ]);
      assert.equal(await redisCommand('DEL', `${PREFIX}p:gosm1`, `${PREFIX}p:gosm2`), 2);
      assert.deepEqual(await B.call('getMany', ['p:gosm1', 'p:gosm2']), ['stale', 'stale']);
      assert.deepEqual(await A.call('getOrSetMany', ['p:gosm1', 'p:gosm2'], 'prefixed', 'fresh-'), ['fresh-p:gosm1', 'fresh-p:gosm2']);
      await until(B, 'p:gosm1', 'fresh-p:gosm1', PROPAGATION_MS + SLACK_MS);
      await until(B, 'p:gosm2', 'fresh-p:gosm2', PROPAGATION_MS + SLACK_MS);
    });
  });

  it('N3: B\'s subscriber is killed; A.set during the gap; B resubscribes, flushes L1 once and reads v2', async (t: TestContext) => {
    const key = 'n3';
    await A.call('set', key, 'v1');
    await warm([A, B, C], [[key, 'v1']]);
    const before = await Promise.all([A, B, C].map(flushes));
    assert.equal(await numsub(), 3);

    const started = performance.now();
    assert.equal(await redisCommand('CLIENT', 'KILL', 'USER', 'i1', 'TYPE', 'pubsub'), 1, 'exactly B\'s subscriber was killed');
    await A.call('set', key, 'v2');
    const subscribersAtSet = await numsub();
    const ms = await until(B, key, 'v2', RECONNECT_MS + PROPAGATION_MS + SLACK_MS, undefined, ' after B resubscribed');
    const total = performance.now() - started;
    t.diagnostic(
      `N3: B read v2 ${total.toFixed(1)} ms after the kill (${ms.toFixed(1)} ms after A.set); ` +
        `subscribers on the channel right after A.set: ${subscribersAtSet} (2 = the set fell in B's gap)`,
    );
    assert.ok(total <= RECONNECT_MS + PROPAGATION_MS + SLACK_MS + 100, `B read v2 after ${total} ms`);
    await pollUntil(async () => (await numsub()) === 3, { timeoutMs: 5_000, description: 'B subscribed again' });
    await allHealthy([A, B, C]);
    const afterFlushes = await Promise.all([A, B, C].map(flushes));
    assert.deepEqual(afterFlushes, [before[0], before[1]! + 1, before[2]], 'only B flushed, exactly once');
  });

  it('N8: B blocked 2 s with pubsub limit 1kb; A bursts: Redis drops B\'s subscriber; B resubscribes, flushes, reads fresh values', async (t: TestContext) => {
    const key = 'n8';
    await A.call('set', key, 'v1');
    await warm([B], [[key, 'v1']]);
    const flushesB = await flushes(B);
    await redisCommand('CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 1kb 0 0');
    try {
      const blockedAt = performance.now();
      const blocked = B.callWith({ timeoutMs: 20_000 }, 'block', 2_000);
      blocked.catch(() => undefined); // awaited below; handled if an assertion fails first
      await sleep(100); // B is inside Atomics.wait now
      // First 1 KB messages one at a time, which the running subscribers (A, C) keep up with,
      // so only the blocked one falls behind; if B's socket buffers absorb all that, 12 KB
      // messages, which may get A's and C's subscribers dropped too (they reconnect and flush).
      let rounds = 0;
      let sentKb = 0;
      let dropped = false;
      while (!dropped && performance.now() - blockedAt < 1_800) {
        const perMessage = performance.now() - blockedAt < 600 ? 1 : 12;
        const count = perMessage === 1 ? 100 : 480;
        await A.callWith({ timeoutMs: 10_000 }, 'burst', count, 1_000, perMessage, rounds++);
        sentKb += count;
        dropped = (await subscribersOf('i1')) === 0;
      }
      const burstMs = performance.now() - blockedAt;
      const others = [await subscribersOf('i0'), await subscribersOf('i2')];
      assert.ok(dropped, `B's subscriber was not dropped after ${rounds} bursts, ~${sentKb} KB of bus messages (${burstMs.toFixed(0)} ms)`);
      // Published while B has no subscriber: lost for B (at-most-once).
      await A.call('set', key, 'v2');
      assert.ok(String(await redisCommand('GET', `${PREFIX}${key}`)).endsWith('"v2"'), 'v2 is in Redis');
      const blockedFor = await blocked;
      assert.ok(blockedFor >= 1_900, `B was blocked ${blockedFor} ms`);
      const unblocked = performance.now();
      const ms = await until(B, key, 'v2', RECONNECT_MS + PROPAGATION_MS + SLACK_MS, undefined, ' after B resubscribed');
      t.diagnostic(
        `N8: B's subscriber dropped after ${rounds} bursts (~${sentKb} KB of bus messages, ${burstMs.toFixed(0)} ms); ` +
          `B read v2 ${(performance.now() - unblocked).toFixed(1)} ms after unblocking (poll ${ms.toFixed(1)} ms); ` +
          `A's and C's subscribers still connected at that moment: ${others.join('/')}`,
      );
    } finally {
      await redisCommand('CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 32mb 8mb 60');
    }
    await allHealthy([A, B, C]);
    await pollUntil(async () => (await numsub()) === 3, { timeoutMs: 5_000, description: 'every instance subscribed again' });
    const flushed = (await flushes(B)) - flushesB;
    t.diagnostic(`N8: B flushed its L1 ${flushed} time(s)`);
    assert.ok(flushed >= 1, 'B flushed its L1');
    // Afterwards the bus works again for B.
    await A.call('set', 'n8:after', 'x1');
    await warm([B], [['n8:after', 'x1']]);
    await A.call('set', 'n8:after', 'x2');
    await until(B, 'n8:after', 'x2', PROPAGATION_MS + SLACK_MS);
  });

  it('N4 + R5: Redis restart: every instance flushes L1 exactly once; PUBSUB NUMSUB is the instance count again', async (t: TestContext) => {
    const key = 'n4';
    await A.call('set', key, 'v1');
    await warm([A, B, C], [[key, 'v1']]);
    const before = await Promise.all([A, B, C].map(flushes));
    const started = performance.now();
    await redis.restart();
    for (const [i, inst] of [A, B, C].entries()) {
      await pollUntil(async () => (await flushes(inst)) > before[i]!, {
        timeoutMs: 15_000,
        intervalMs: 20,
        description: `instance ${inst.index} flushed its L1 after the restart`,
      });
    }
    const recovered = performance.now() - started;
    await pollUntil(async () => (await numsub()) === 3, { timeoutMs: 5_000, description: 'PUBSUB NUMSUB back to 3' });
    // Several heartbeats later: still exactly one flush each, still every instance subscribed.
    await sleep(2_500);
    assert.deepEqual(await Promise.all([A, B, C].map(flushes)), before.map((n) => n + 1), 'exactly one flush per instance');
    assert.equal(await numsub(), 3, 'PUBSUB NUMSUB equals the instance count');
    await allHealthy([A, B, C]);
    t.diagnostic(`N4: all instances flushed ${recovered.toFixed(0)} ms after the restart began`);
    // What B held during the outage did not outlive it: Redis lost k, so does B.
    assert.equal(await B.call('l1Has', key), false);
    assert.equal(await B.call('get', key), undefined);
    // The bus works after the restart.
    await A.call('set', 'n4:after', 'w1');
    await warm([B, C], [['n4:after', 'w1']]);
    await A.call('set', 'n4:after', 'w2');
    await until(B, 'n4:after', 'w2', PROPAGATION_MS + SLACK_MS);
    await until(C, 'n4:after', 'w2', PROPAGATION_MS + SLACK_MS);
  });
});

describe('bus not subscribed yet at startup (issue 6, point 7)', () => {
  it('an instance whose bus cannot connect reads through to Redis, never serves a stale L1 copy, says so, and uses L1 once its bus is up', async (t: TestContext) => {
    // F's bus goes through a proxy that refuses connections, so F starts with L2 but no bus. Its
    // L1 cannot hear other instances: serving it would serve what they changed.
    const proxy = await startProxy(redis.port);
    proxy.set({ mode: 'refuse' });
    let late: InstanceGroup<CacheInstanceHandlers, 1> | undefined;
    try {
      const key = 'boot';
      await A.call('set', key, 'v1');
      late = await startInstances<CacheInstanceHandlers, 1>(1, {
        entry,
        env: { HOARD_REDIS_URL: redis.url, HOARD_BUS_URL: proxy.url, HOARD_HEARTBEAT: HEARTBEAT, HOARD_L2_TIMEOUT: '1s', HOARD_PREFIX: PREFIX },
        readyTimeoutMs: 60_000,
      });
      const [F] = late.instances;
      assert.deepEqual(await F.call('ready', 500), { l2Available: true, busHealthy: false }, 'F serves with L2 but without a bus');
      assert.equal(await F.call('get', key), 'v1');
      assert.equal(await F.call('l1Has', key), false, 'nothing kept in L1 without a bus');
      await A.call('set', key, 'v2'); // F cannot hear this
      assert.equal(await F.call('get', key), 'v2', 'F reads through to Redis while its bus is down');
      const stats = await F.call('stats');
      assert.equal(stats.busHealthy, false, 'stats() shows the bus is down');
      assert.ok((await F.call('errors')).some((e) => e.startsWith('l2/bus:')), 'an error event for the bus connection');
      proxy.set({ mode: 'pass' });
      await pollUntil(() => F.call('busHealthy'), { timeoutMs: 10_000, intervalMs: 20, description: 'F\'s bus subscribed' });
      await warm([F], [[key, 'v2']]);
      await A.call('set', key, 'v3');
      const ms = await until(F, key, 'v3', PROPAGATION_MS + SLACK_MS, undefined, ' once its bus is up');
      t.diagnostic(`F read v3 ${ms.toFixed(1)} ms after A's set, through its bus`);
    } finally {
      await late?.stopAll();
      await proxy.close();
    }
  });
});

describe('no bus (CACHE_BUS=false)', () => {
  it('N9: D.set(k, v2): E keeps its L1 copy and sees v2 only once that copy\'s TTL has passed', async (t: TestContext) => {
    assert.equal(await numsub(`${NOBUS_PREFIX}bus`), 0, 'no subscriber on the channel');
    const L1_TTL = 1_000;
    const key = 'n9';
    const started = performance.now();
    await D.call('set', key, 'v1', { ttl: L1_TTL });
    assert.equal(await E.call('get', key), 'v1'); // E's L1 copy lives as long as the entry's TTL left
    assert.equal(await E.call('l1Has', key), true);
    await D.call('set', key, 'v2', { ttl: '1m' });
    assert.equal(await E.call('get', key), 'v1', 'without a bus E still serves its L1 copy');
    await until(E, key, 'v2', L1_TTL + SLACK_MS, undefined, ' after its L1 TTL');
    const seenAt = performance.now() - started;
    t.diagnostic(`N9: E saw v2 ${seenAt.toFixed(1)} ms after the first set (L1 TTL ${L1_TTL} ms)`);
    assert.ok(seenAt >= L1_TTL - 20, `E saw v2 after ${seenAt} ms, before its L1 copy expired`);
    assert.ok(seenAt <= L1_TTL + SLACK_MS, `E saw v2 after ${seenAt} ms`);
  });
});
