/**
 * `hoard keys` on 100k keys (issue 12): SCAN pages, never KEYS (checked with MONITOR), and output
 * streamed with bounded memory: while the reader does not read, the CLI stops asking Redis for
 * more pages instead of piling keys up in memory.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import { guardProcess } from '../helpers/guard.js';
import type { RedisProcess } from '../harness/index.js';
import { collect, freshPrefix, registerCleanup, server, show, spawnCli } from './support.js';

registerCleanup();
guardProcess();

const KEYS = 100_000;

let redis: RedisProcess;
const prefix = freshPrefix('many');

before(async () => {
  redis = await server();
  // Server-side, in one call: 100k keys under the prefix, a few outside it.
  await redis.cli('EVAL', `for i = 1, ${KEYS} do redis.call('SET', KEYS[1] .. 'session:' .. string.rep('x', 40) .. i, 'v') end`, '1', prefix);
  await redis.cli('MSET', 'other:1', 'v', 'other:2', 'v');
});

async function scanCalls(): Promise<number> {
  const stats = await redis.cli('INFO', 'commandstats');
  return Number(/cmdstat_scan:calls=(\d+)/.exec(stats)?.[1] ?? '0');
}

describe('keys on 100k keys', () => {
  it('pages with SCAN, never KEYS, stops scanning while its reader waits, and lists every key', async () => {
    await redis.cli('CONFIG', 'RESETSTAT');
    const monitor = await redis.monitor();
    const child = spawnCli(['--redis-url', redis.url, '--prefix', prefix, 'keys', 'session:*']);
    // 1. Nobody reads stdout: once the pipe is full the CLI must wait, not keep scanning.
    let previous = -1;
    let stable = 0;
    const deadline = Date.now() + 45_000;
    while (stable < 5 && Date.now() < deadline) {
      await sleep(200);
      const calls = await scanCalls();
      stable = calls > 0 && calls === previous ? stable + 1 : 0;
      previous = calls;
    }
    assert.ok(stable >= 5, 'the CLI started scanning, then held still');
    // What fills the pipe and the stream buffers on both sides (a few pages), far from all of them.
    assert.ok(previous <= 15, `with the reader waiting, the CLI asked for ${previous} pages of the ~${KEYS / 1000} needed`);
    // 2. Reading resumes: every key arrives.
    const result = await collect(child, 120_000);
    await monitor.stop();
    assert.equal(result.code, 0, show(result));
    const lines = result.stdout.split('\n').filter((l) => l !== '');
    const distinct = new Set(lines);
    assert.equal(distinct.size, KEYS, `every key listed (${lines.length} lines)`);
    assert.ok([...distinct].every((k) => k.startsWith('session:')), 'keys relative to the prefix, only those matching');
    assert.ok(await scanCalls() >= KEYS / 1000, 'paged through the whole keyspace');
    const commands = monitor.commands();
    assert.ok(!monitor.disconnected, 'the monitor saw the whole run');
    assert.ok(commands.includes('scan'), 'SCAN seen by MONITOR');
    assert.ok(!commands.includes('keys'), 'KEYS never sent');
  });

  it('--limit stops early, after few pages', async () => {
    await redis.cli('CONFIG', 'RESETSTAT');
    const child = spawnCli(['--redis-url', redis.url, '--prefix', prefix, 'keys', '--limit', '1500']);
    const result = await collect(child, 60_000);
    assert.equal(result.code, 0, show(result));
    assert.equal(result.stdout.split('\n').filter((l) => l !== '').length, 1500);
    assert.ok(await scanCalls() <= 4, 'stopped scanning at the limit');
  });
});
