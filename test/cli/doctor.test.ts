/**
 * `hoard doctor` against real servers set up the ways it must tell apart (issue 12): a stock one
 * (noeviction, no maxmemory), a well-configured one, one evicting volatile keys only, and ACL
 * users missing SCAN (with and without the right to ask ACL DRYRUN). INFO only, never CONFIG GET.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createCache } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { guardProcess } from '../helpers/guard.js';
import type { RedisProcess } from '../harness/index.js';
import { freshPrefix, json, onCleanup, registerCleanup, runCli, server, show } from './support.js';

registerCleanup();
guardProcess();

interface Report {
  ok: boolean;
  failures: number;
  warnings: number;
  checks: { name: string; status: 'pass' | 'warn' | 'fail' | 'info'; detail: string; fix?: string }[];
}

function check(report: Report, name: string): Report['checks'][number] {
  const found = report.checks.find((c) => c.name === name);
  assert.ok(found !== undefined, `a "${name}" check in ${JSON.stringify(report.checks.map((c) => c.name))}`);
  return found;
}

let stock: RedisProcess;
let tuned: RedisProcess;

before(async () => {
  [stock, tuned] = await Promise.all([server(), server({ extraArgs: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] })]);
});

describe('doctor', () => {
  it('a stock server: noeviction fails with the fix named, no maxmemory warns, exit 1', async () => {
    const monitor = await stock.monitor();
    const r = await runCli(['--redis-url', stock.url, '--json', 'doctor']);
    await monitor.stop();
    assert.equal(r.code, 1, show(r));
    const report = json<Report>(r);
    assert.equal(report.ok, false);
    const policy = check(report, 'maxmemory-policy');
    assert.equal(policy.status, 'fail', JSON.stringify(policy));
    assert.match(policy.fix ?? '', /allkeys-lru/, 'names the fix');
    assert.equal(check(report, 'maxmemory').status, 'warn');
    assert.equal(check(report, 'reachable').status, 'pass');
    assert.equal(check(report, 'latency').status, 'pass');
    assert.equal(check(report, 'permissions').status, 'pass');
    assert.equal(check(report, 'cluster').status, 'info');
    assert.match(check(report, 'version').detail, /^Redis \d+\.\d+/);
    // This server is Redis 7.0: CLIENT NO-TOUCH is probed, refused, and the run goes on.
    assert.match(check(report, 'no-touch').detail, /NO-TOUCH/);
    assert.ok(!monitor.disconnected, 'the monitor saw the whole run');
    assert.ok(!monitor.commands().includes('config'), `INFO only, never CONFIG: ${monitor.commands().join(' ')}`);
    assert.ok(!monitor.commands().includes('keys'), 'never KEYS');

    const human = await runCli(['--redis-url', stock.url, 'doctor']);
    assert.equal(human.code, 1, show(human));
    assert.match(human.stdout, /✗ maxmemory-policy\s+noeviction/, show(human));
    assert.match(human.stdout, /fix: set maxmemory-policy to allkeys-lru/, show(human));
    assert.match(human.stdout, /1 failure, 1 warning/, show(human));
  });

  it('a well-configured server passes (exit 0)', async () => {
    const r = await runCli(['--redis-url', tuned.url, '--json', 'doctor']);
    assert.equal(r.code, 0, show(r));
    const report = json<Report>(r);
    assert.equal(report.ok, true);
    assert.equal(report.warnings, 0, JSON.stringify(report.checks));
    assert.equal(check(report, 'maxmemory').status, 'pass');
    assert.match(check(report, 'maxmemory').detail, /^64 MB/);
    assert.equal(check(report, 'maxmemory-policy').status, 'pass');
    assert.equal(check(report, 'foreign keys').status, 'pass');
  });

  it('keys under the prefix that hoard did not write: a warning with examples, other prefixes ignored', async () => {
    const prefix = freshPrefix('doc');
    const cache = createCache({ store: redisStore({ url: tuned.url }), namespace: prefix }, {});
    onCleanup(() => cache.close());
    await cache.set('mine', 1, { tags: ['t'] });
    await tuned.cli('SET', `${prefix}theirs`, 'plain');
    await tuned.cli('HSET', `${prefix}hash`, 'f', 'v');
    await tuned.cli('SET', 'elsewhere', 'plain');
    const r = await runCli(['--redis-url', tuned.url, '--prefix', prefix, '--json', 'doctor']);
    assert.equal(r.code, 0, `a warning is not a failure: ${show(r)}`);
    const foreign = check(json<Report>(r), 'foreign keys');
    assert.equal(foreign.status, 'warn', JSON.stringify(foreign));
    assert.match(foreign.detail, /^2 of 3 keys/, JSON.stringify(foreign));
    assert.match(foreign.detail, /"theirs"/);
    assert.match(foreign.detail, /"hash"/);
  });

  it('a volatile-* policy warns', async () => {
    const redis = await server({ extraArgs: ['--maxmemory', '32mb', '--maxmemory-policy', 'volatile-lru'] });
    const r = await runCli(['--redis-url', redis.url, '--json', 'doctor']);
    assert.equal(r.code, 0, show(r));
    const policy = check(json<Report>(r), 'maxmemory-policy');
    assert.equal(policy.status, 'warn');
    assert.match(policy.detail, /volatile-lru: only keys with a TTL are evicted/);
  });

  it('an ACL user missing SCAN: doctor fails naming the fix (by ACL DRYRUN, or by trying when ACL is denied too), and keys fails with 1', async () => {
    const redis = await server({ extraArgs: ['--maxmemory', '32mb', '--maxmemory-policy', 'allkeys-lru'] });
    await redis.cli('ACL', 'SETUSER', 'noscan', 'on', '>pw1', '~*', '&*', '+@all', '-scan');
    await redis.cli('ACL', 'SETUSER', 'noacl', 'on', '>pw2', '~*', '&*', '+@all', '-scan', '-acl');
    const withDryRun = await runCli(['--redis-url', `redis://noscan:pw1@127.0.0.1:${redis.port}`, '--json', 'doctor']);
    assert.equal(withDryRun.code, 1, show(withDryRun));
    const permissions = check(json<Report>(withDryRun), 'permissions');
    assert.equal(permissions.status, 'fail');
    assert.match(permissions.detail, /cannot run SCAN \(deletePattern, clear and keys\) \(ACL DRYRUN as user "noscan"\)/, permissions.detail);
    assert.match(permissions.fix ?? '', /ACL SETUSER noscan \+scan/);
    assert.equal(check(json<Report>(withDryRun), 'foreign keys').status, 'warn', 'cannot look under the prefix either');

    const byTrying = await runCli(['--redis-url', `redis://noacl:pw2@127.0.0.1:${redis.port}`, '--json', 'doctor']);
    assert.equal(byTrying.code, 1, show(byTrying));
    const probed = check(json<Report>(byTrying), 'permissions');
    assert.match(probed.detail, /cannot run SCAN .*by trying them/, probed.detail);
    assert.doesNotMatch(probed.detail, /EVAL|PUBLISH|SUBSCRIBE/, 'only SCAN is missing');

    const keys = await runCli(['--redis-url', `redis://noscan:pw1@127.0.0.1:${redis.port}`, 'keys']);
    assert.equal(keys.code, 1, show(keys));
    assert.match(keys.stderr, /NOPERM|no permissions/i, show(keys));
  });

  it('an unreachable Redis: the reachable check fails with its fix, exit 1', async () => {
    const r = await runCli(['--redis-url', 'redis://127.0.0.1:1', '--json', 'doctor']);
    assert.equal(r.code, 1, show(r));
    const reachable = check(json<Report>(r), 'reachable');
    assert.equal(reachable.status, 'fail');
    assert.ok(reachable.fix !== undefined, 'names a fix');
  });

  it('round trips slower than l2Timeout fail', async () => {
    const r = await runCli(['--redis-url', tuned.url, '--json', 'doctor', '--l2-timeout', '1ms']);
    const latency = check(json<Report>(r), 'latency');
    // Loopback PINGs take well under 1 ms, but a loaded machine may reach it: pass or warn, never silent.
    assert.match(latency.detail, /l2Timeout 1 ms/, latency.detail);
    const slow = await runCli(['--redis-url', tuned.url, '--json', 'doctor'], { env: { CACHE_L2_TIMEOUT_MS: '0.0001' } });
    assert.equal(slow.code, 1, show(slow));
    assert.equal(check(json<Report>(slow), 'latency').status, 'fail');
  });
});
