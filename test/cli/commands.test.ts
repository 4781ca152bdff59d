/**
 * The `hoard` bin against a real redis-server (issue 12): every inspection and invalidation
 * command, human and JSON output, exit codes 0 / 1 / 2, the target taken from the flags or from the
 * environment as createCache() reads it, and --help with examples on every command.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { before, describe, it } from 'node:test';
import { createCache } from '../../src/index.js';
import type { Cache } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { guardProcess } from '../helpers/guard.js';
import type { RedisProcess } from '../harness/index.js';
import { collect, freshPrefix, json, onCleanup, registerCleanup, runCli, server, show, spawnCli } from './support.js';

registerCleanup();
guardProcess();

const COMMANDS = ['stats', 'get', 'keys', 'ttl', 'del', 'invalidate', 'clear', 'warm', 'bench', 'doctor'];

let redis: RedisProcess;

before(async () => {
  redis = await server();
});

/** A cache on the test server under `prefix`, closed after the file. */
function cacheOn(prefix: string): Cache {
  const cache = createCache({ store: redisStore({ url: redis.url }), namespace: prefix }, {});
  onCleanup(() => cache.close());
  return cache;
}

const on = (prefix: string, ...args: string[]): string[] => ['--redis-url', redis.url, '--prefix', prefix, ...args];

describe('help and usage', () => {
  it('hoard --help lists every command and exits 0', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0, show(r));
    for (const command of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${command}\\b`, 'm'), `lists ${command}`);
    assert.match(r.stdout, /Exit codes: 0 done, 1 the operation failed/, 'documents the exit codes');
  });

  it('every command has --help with examples', async () => {
    const results = await Promise.all(COMMANDS.map((command) => runCli([command, '--help'])));
    results.forEach((r, i) => {
      assert.equal(r.code, 0, `${COMMANDS[i]} --help: ${show(r)}`);
      assert.match(r.stdout, /Examples:\n\s+\$ hoard /, `${COMMANDS[i]} --help has examples`);
    });
  });

  it('docs/cli.md has a section with an example for every command --help lists', async () => {
    const { readFileSync } = await import('node:fs');
    const docs = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
    const help = await runCli(['--help']);
    const commands = help.stdout.slice(help.stdout.indexOf('Commands:'), help.stdout.indexOf('\n\n', help.stdout.indexOf('Commands:')));
    const listed = [...commands.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    assert.deepEqual(listed, COMMANDS, 'the commands of --help');
    for (const command of listed) {
      const at = docs.indexOf(`\n## \`${command}`);
      assert.ok(at !== -1, `docs/cli.md has a section for ${command}`);
      const section = docs.slice(at, docs.indexOf('\n## ', at + 1) === -1 ? undefined : docs.indexOf('\n## ', at + 1));
      assert.match(section, new RegExp(`\\$ hoard .*\\b${command}\\b`), `the ${command} section shows it run`);
    }
  });

  it('usage errors exit with 2: no command, unknown command or option, missing argument, bad number', async () => {
    const cases = [[], ['frobnicate'], ['stats', '--frobnicate'], ['get'], ['keys', '--limit', 'many'], ['invalidate', '--redis-url', redis.url]];
    const results = await Promise.all(cases.map((args) => runCli(args)));
    results.forEach((r, i) => assert.equal(r.code, 2, `hoard ${cases[i]!.join(' ')}: ${show(r)}`));
    assert.match(results[5]!.stderr, /at least one of --tag, --pattern or --key/, 'invalidate says what it needs');
  });

  it('a bad CACHE_* variable or --prefix is a usage error naming it', async () => {
    const bad = await runCli(['ttl', 'k'], { env: { CACHE_REDIS_URL: 'http://nope' } });
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /CACHE_REDIS_URL/, 'names the variable');
    const empty = await runCli(['--redis-url', redis.url, '--prefix', '', 'ttl', 'k']);
    assert.equal(empty.code, 2, show(empty));
    assert.match(empty.stderr, /--prefix/, 'names the option');
  });

  it('an unreachable Redis exits with 1 and names the fix', async () => {
    const r = await runCli(['--redis-url', 'redis://127.0.0.1:1', 'get', 'k']);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/, 'says what it could not reach');
    assert.match(r.stderr, /fix: /, 'names a fix');
    const asJson = await runCli(['--redis-url', 'redis://127.0.0.1:1', '--json', 'stats']);
    assert.equal(asJson.code, 1, show(asJson));
    assert.equal(json<{ error: { exitCode: number } }>(asJson).error.exitCode, 1, 'the error as JSON for scripts');
  });
});

describe('inspection', () => {
  const prefix = freshPrefix('inspect');
  before(async () => {
    const cache = cacheOn(prefix);
    await cache.set('user:1', { name: 'Ada', born: new Date('1815-12-10T00:00:00Z'), langs: new Set(['en']), n: 12n }, { ttl: '5m', grace: '1m', tags: ['users', 'tenant:1'] });
    await cache.set('user:2', 'Bob', { ttl: Infinity });
    await cache.set('order:1', 42, { ttl: '10m' });
    // Someone else's key under the prefix, and one outside it.
    await redis.cli('SET', `${prefix}legacy`, 'plain text');
    await redis.cli('SET', 'elsewhere:user:9', 'x');
  });

  it('get prints the value pretty, its TTL, grace, tags, size and tier', async () => {
    const r = await runCli(on(prefix, 'get', 'user:1'));
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /tier\s+l2 \(Redis\)/, 'the tier');
    assert.match(r.stdout, /ttl\s+[1-5]m/, 'the TTL left');
    assert.match(r.stdout, /grace\s+1m/, 'the grace');
    assert.match(r.stdout, /tags\s+users, tenant:1/, 'the tags');
    assert.match(r.stdout, /name: 'Ada'/, 'the value, pretty-printed');
    assert.match(r.stdout, /Set\(1\) \{ 'en' \}/, 'a Set as a Set');
    assert.ok(!r.stdout.includes('\u001b['), 'no colour when stdout is not a terminal');
  });

  it('get --json carries the admin API shape and a JSON-safe value', async () => {
    const r = await runCli(on(prefix, '--json', 'get', 'user:1'));
    assert.equal(r.code, 0, show(r));
    const report = json<{ present: boolean; ttl: number; grace: number; tags: string[]; bytes: number; tiers: { l2?: unknown }; value: Record<string, unknown> }>(r);
    assert.equal(report.present, true);
    assert.ok(report.ttl > 200_000 && report.ttl <= 300_000, `ttl in ms: ${report.ttl}`);
    assert.ok(Math.abs(report.grace - 60_000) < 1_000, `grace in ms: ${report.grace}`);
    assert.deepEqual(report.tags, ['users', 'tenant:1']);
    assert.ok(report.bytes > 0, 'size');
    assert.ok(report.tiers.l2 !== undefined, 'held by L2');
    assert.deepEqual(report.value, { name: 'Ada', born: '1815-12-10T00:00:00.000Z', langs: { '[Set]': ['en'] }, n: '12n' });
  });

  it('get of an absent key, and of a value hoard did not write', async () => {
    const absent = await runCli(on(prefix, '--json', 'get', 'nope'));
    assert.equal(absent.code, 0, show(absent));
    assert.deepEqual(json(absent), { key: 'nope', present: false });
    const legacy = await runCli(on(prefix, 'get', 'legacy'));
    assert.equal(legacy.code, 0, show(legacy));
    assert.match(legacy.stdout, /hoard did not write/, 'says the value is not hoard\'s');
  });

  it('ttl: ms left, Infinity, or absent', async () => {
    const [timed, forever, absent, asJson] = await Promise.all([
      runCli(on(prefix, 'ttl', 'order:1')),
      runCli(on(prefix, 'ttl', 'user:2')),
      runCli(on(prefix, 'ttl', 'nope')),
      runCli(on(prefix, '--json', 'ttl', 'user:2')),
    ]);
    const ms = Number(/^(\d+) ms/.exec(timed.stdout)?.[1]);
    assert.ok(ms > 500_000 && ms <= 600_000, `ms left: ${show(timed)}`);
    assert.match(forever.stdout, /^Infinity/, show(forever));
    assert.equal(absent.stdout.trim(), 'absent', show(absent));
    assert.deepEqual(json(asJson), { key: 'user:2', present: true, ttl: null });
  });

  it('keys lists only the prefix, matching the glob, relative to the prefix', async () => {
    const all = await runCli(on(prefix, 'keys'));
    assert.equal(all.code, 0, show(all));
    assert.deepEqual(all.stdout.trim().split('\n').sort(), ['legacy', 'order:1', 'user:1', 'user:2']);
    const users = await runCli(on(prefix, '--json', 'keys', 'user:*'));
    assert.deepEqual(json<string[]>(users).sort(), ['user:1', 'user:2']);
    const limited = await runCli(on(prefix, 'keys', '--limit', '2'));
    assert.equal(limited.stdout.trim().split('\n').length, 2, show(limited));
  });

  it('the target from the environment, as createCache() reads it (CACHE_REDIS_URL, REDIS_HOST/PORT, CACHE_KEY_PREFIX)', async () => {
    const viaUrl = await runCli(['--json', 'keys', 'user:*'], { env: { CACHE_REDIS_URL: redis.url, CACHE_KEY_PREFIX: prefix } });
    assert.deepEqual(json<string[]>(viaUrl).sort(), ['user:1', 'user:2'], show(viaUrl));
    const viaParts = await runCli(['--json', 'ttl', 'user:2'], { env: { REDIS_HOST: '127.0.0.1', REDIS_PORT: String(redis.port), CACHE_NAMESPACE: prefix.slice(0, -1) } });
    assert.deepEqual(json(viaParts), { key: 'user:2', present: true, ttl: null }, show(viaParts));
  });

  it('stats shows Redis\' figures; --json for scripts', async () => {
    const human = await runCli(on(prefix, 'stats'));
    assert.equal(human.code, 0, show(human));
    assert.match(human.stdout, /policy\s+noeviction/, show(human));
    const r = await runCli(on(prefix, '--json', 'stats'));
    const report = json<{ target: string; redis: { version: string; maxmemoryPolicy: string; keys: number; usedMemory: number } }>(r);
    assert.match(report.target, new RegExp(`prefix "${prefix}"`));
    assert.equal(report.redis.maxmemoryPolicy, 'noeviction');
    assert.ok(report.redis.keys >= 5 && report.redis.usedMemory > 0, `figures: ${r.stdout}`);
  });

  it('stats --watch refreshes until interrupted, one JSON line per refresh, and exits 0', async () => {
    const child = spawnCli(on(prefix, '--json', 'stats', '--watch', '200ms'));
    let lines = 0;
    child.stdout!.on('data', (chunk: Buffer) => {
      lines += chunk.toString().split('\n').filter((l) => l.startsWith('{')).length;
      if (lines >= 3) child.kill('SIGINT');
    });
    const result = collect(child, 60_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    const r = await result;
    assert.equal(code, 0, show(r));
    const docs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { at: string; redis: unknown });
    assert.ok(docs.length >= 3 && docs.every((d) => typeof d.at === 'string' && d.redis !== undefined), show(r));
  });

  it('a password in the URL never shows in the output', async () => {
    const r = await runCli(['--redis-url', `redis://:s3cret@127.0.0.1:${redis.port}`, '--prefix', prefix, 'stats']);
    assert.doesNotMatch(`${r.stdout}${r.stderr}`, /s3cret/, show(r));
  });
});

describe('invalidation', () => {
  it('del deletes and prints the count', async () => {
    const prefix = freshPrefix('del');
    const cache = cacheOn(prefix);
    await cache.setMany([{ key: 'a', value: 1 }, { key: 'b', value: 2 }, { key: 'c', value: 3 }]);
    const r = await runCli(on(prefix, 'del', 'a', 'b', 'nope'));
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^2 keys deleted/, show(r));
    assert.deepEqual(json(await runCli(on(prefix, '--json', 'del', 'c'))), { deleted: 1 });
    assert.equal(await redis.cli('EXISTS', `${prefix}a`, `${prefix}b`, `${prefix}c`), '0');
  });

  it('invalidate by tag, pattern and key; --dry-run removes nothing', async () => {
    const prefix = freshPrefix('inv');
    const cache = cacheOn(prefix);
    await cache.set('p:1', 1, { tags: ['products'] });
    await cache.set('p:2', 2, { tags: ['products'] });
    await cache.set('r:2024-01', 'jan');
    await cache.set('r:2024-02', 'feb');
    await cache.set('r:2025-01', 'next');
    await cache.set('u:1', 'u');
    const dry = await runCli(on(prefix, '--json', 'invalidate', '--pattern', 'r:2024-*', '--key', 'u:1', '--dry-run'));
    assert.deepEqual(json(dry), { removed: 3, dryRun: true }, show(dry));
    assert.equal(await redis.cli('EXISTS', `${prefix}r:2024-01`, `${prefix}u:1`), '2', 'a dry run removes nothing');

    const r = await runCli(on(prefix, 'invalidate', '--pattern', 'r:2024-*', '--key', 'u:1', '--tag', 'products'));
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^3 removed/, show(r));
    assert.match(r.stdout, /tags products invalidated/, 'says tags are invalidated lazily');
    assert.equal(await cache.get('p:1'), undefined, 'tagged entries are gone for every reader');
    assert.equal(await cache.get('r:2024-02'), undefined);
    assert.equal(await cache.get('r:2025-01'), 'next', 'outside the pattern stays');
  });

  it('clear without --yes refuses, says what it would clear, exits 2 and removes nothing; with --yes clears only the prefix', async () => {
    const prefix = freshPrefix('clear');
    const cache = cacheOn(prefix);
    await cache.setMany([{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
    await redis.cli('SET', 'not-hoard:a', 'keep');
    const refused = await runCli(on(prefix, 'clear'));
    assert.equal(refused.code, 2, show(refused));
    assert.match(refused.stderr, new RegExp(`every key under the prefix "${prefix}".*2 entries`), show(refused));
    assert.match(refused.stderr, /--yes/, 'names the flag');
    assert.equal(await redis.cli('EXISTS', `${prefix}a`), '1', 'nothing removed');

    const done = await runCli(on(prefix, 'clear', '--yes'));
    assert.equal(done.code, 0, show(done));
    assert.equal(await redis.cli('EXISTS', `${prefix}a`, `${prefix}b`), '0');
    assert.equal(await redis.cli('GET', 'not-hoard:a'), 'keep', 'outside the prefix stays');
  });

  it('mutations reach the memory tier of a two-tier service over the bus', async () => {
    const prefix = freshPrefix('bus');
    const { memoryStore } = await import('../../src/index.js');
    const { redisBus } = await import('../../src/redis/index.js');
    const service = createCache({ l1: memoryStore(), l2: redisStore({ url: redis.url }), bus: redisBus({ url: redis.url }), namespace: prefix }, {});
    onCleanup(() => service.close());
    await service.ready();
    await service.set('k', 'v1');
    assert.equal(await service.get('k'), 'v1', 'in the service\'s memory tier');
    const r = await runCli(on(prefix, 'del', 'k'));
    assert.equal(r.code, 0, show(r));
    const deadline = Date.now() + 5_000;
    while ((await service.get('k')) !== undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await service.get('k'), undefined, 'the service dropped its memory copy');
  });
});

describe('bench', () => {
  it('bench reports get, set and getOrSet with p50 / p99 and ops/s, and leaves no keys behind', async () => {
    const prefix = freshPrefix('bench');
    const r = await runCli(on(prefix, '--json', 'bench', '--seconds', '1.5', '--concurrency', '4'));
    assert.equal(r.code, 0, show(r));
    const report = json<{ results: { op: string; ops: number; opsPerSecond: number; p50: number; p99: number; errors: number; hitRate?: number }[] }>(r);
    assert.deepEqual(report.results.map((x) => x.op), ['set', 'get', 'getOrSet']);
    for (const x of report.results) {
      assert.ok(x.ops > 0 && x.opsPerSecond > 0 && x.p50 > 0 && x.p99 >= x.p50 && x.errors === 0, `figures of ${x.op}: ${JSON.stringify(x)}`);
    }
    const getOrSet = report.results[2]!;
    assert.ok(Math.round(getOrSet.hitRate! * getOrSet.ops) >= getOrSet.ops - 100, `getOrSet misses each of its 100 keys once, then hits: ${JSON.stringify(getOrSet)}`);
    assert.equal(await redis.cli('--scan', '--pattern', `${prefix}*`), '', 'the bench namespace is removed');
  });
});
