/**
 * First contact: the packed package installed into fresh projects, used the way its README says.
 * - `CACHE_BACKEND=redis | tiered` with `import { cache } from 'hoard'` alone, from ESM and
 *   CommonJS, and from an esbuild bundle run where no node_modules exist;
 * - without ioredis installed, `cache.ready()` rejects with a ConfigError naming CACHE_BACKEND
 *   that says what to install, and the cache still serves from memory;
 * - the types under TypeScript's older `node10` resolution (`hoard/redis` included), and
 *   `@Cached` under `experimentalDecorators` (NestJS) and under standard decorators, compiled
 *   by tsc and run.
 *
 * Needs the build (`npm run build`, which `npm test` runs first). Installs from the npm cache
 * when it can (`--prefer-offline`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startRedis } from '../harness/index.js';
import type { RedisProcess } from '../harness/index.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = (name: string): string => path.join(root, 'node_modules', '.bin', name);

let work: string;
let tarball: string;
let redis: RedisProcess;
/** A project with hoard, ioredis and @types/node installed. */
let withRedis: string;
/** A project with hoard alone. */
let withoutRedis: string;

async function project(name: string, packages: readonly string[]): Promise<string> {
  const dir = path.join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', tarball, ...packages], {
    cwd: dir,
    timeout: 240_000,
  });
  return dir;
}

/** Runs `node file` in `cwd` with only the given environment (plus PATH), returning its last stdout line as JSON. */
async function node(cwd: string, file: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [file], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as Record<string, unknown>;
}

/** What the sample programs do: the README's quick start against the environment's backend. */
const SAMPLE = (load: string): string => `${load}
const main = async () => {
  await cache.set('user:1', { name: 'Ada' });
  const value = await cache.get('user:1');
  let calls = 0;
  const loaded = await cache.getOrSet('user:2', async () => { calls++; return { name: 'Grace' }; });
  await cache.ready();
  const stats = cache.stats();
  await cache.close();
  console.log(JSON.stringify({ value, loaded, calls, l2Available: stats.l2Available ?? null }));
};
main().catch((error) => { console.log(JSON.stringify({ error: String(error), option: error.option ?? null })); });
`;

before(async () => {
  if (!existsSync(path.join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  work = await mkdtemp(path.join(os.tmpdir(), 'hoard-first-contact-'));
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root, timeout: 120_000 });
  const packed = JSON.parse(stdout) as { filename: string }[];
  tarball = path.join(work, packed[0]!.filename);
  [redis, withRedis, withoutRedis] = await Promise.all([
    startRedis(),
    project('with-redis', ['ioredis@5', '@types/node@20']),
    project('without-redis', []),
  ]);
});

after(async () => {
  await redis?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

async function keysIn(prefix: string): Promise<string[]> {
  const text = await redis.cli('--scan', '--pattern', `${prefix}*`);
  return text.split('\n').filter((k) => k !== '' && !k.includes('\u0000'));
}

describe('CACHE_BACKEND from hoard alone', () => {
  it('ESM: CACHE_BACKEND=redis stores in Redis, from the first set on', async () => {
    await writeFile(path.join(withRedis, 'esm.mjs'), SAMPLE("import { cache } from 'hoard';"));
    const out = await node(withRedis, 'esm.mjs', { CACHE_BACKEND: 'redis', REDIS_URL: redis.url, CACHE_KEY_PREFIX: 'esm:' });
    assert.deepEqual(out, { value: { name: 'Ada' }, loaded: { name: 'Grace' }, calls: 1, l2Available: true });
    assert.deepEqual((await keysIn('esm:')).sort(), ['esm:user:1', 'esm:user:2']);
  });

  it('CommonJS: CACHE_TYPE=tiered with REDIS_HOST / REDIS_PORT stores in Redis', async () => {
    await writeFile(path.join(withRedis, 'cjs.cjs'), SAMPLE("const { cache } = require('hoard');"));
    const out = await node(withRedis, 'cjs.cjs', { CACHE_TYPE: 'tiered', REDIS_HOST: redis.host, REDIS_PORT: String(redis.port), CACHE_KEY_PREFIX: 'cjs:' });
    assert.deepEqual(out, { value: { name: 'Ada' }, loaded: { name: 'Grace' }, calls: 1, l2Available: true });
    assert.deepEqual((await keysIn('cjs:')).sort(), ['cjs:user:1', 'cjs:user:2']);
  });

  it('an esbuild bundle keeps the Redis backend and runs with no node_modules at all', async () => {
    await writeFile(path.join(withRedis, 'bundled.cjs'), SAMPLE("const { cache } = require('hoard');"));
    const out = path.join(work, 'bundle-run');
    await mkdir(out, { recursive: true });
    await run(bin('esbuild'), ['bundled.cjs', '--bundle', '--platform=node', '--format=cjs', '--log-level=error', `--outfile=${path.join(out, 'app.cjs')}`], { cwd: withRedis });
    assert.deepEqual(await readdir(out), ['app.cjs'], 'one self-contained file');
    const result = await node(out, 'app.cjs', { CACHE_BACKEND: 'redis', REDIS_URL: redis.url, CACHE_KEY_PREFIX: 'bundle:' });
    assert.deepEqual(result, { value: { name: 'Ada' }, loaded: { name: 'Grace' }, calls: 1, l2Available: true });
    assert.deepEqual((await keysIn('bundle:')).sort(), ['bundle:user:1', 'bundle:user:2']);
  });

  it('without ioredis: ready() rejects with a ConfigError naming CACHE_BACKEND that says what to install; memory still serves', async () => {
    await writeFile(
      path.join(withoutRedis, 'missing.mjs'),
      `import { cache } from 'hoard';
cache.on('error', () => {});
await cache.set('k', 1);
const value = await cache.get('k');
const failure = await cache.ready().then(() => undefined, (error) => error);
console.log(JSON.stringify({ value, name: failure?.name ?? null, option: failure?.option ?? null, message: failure?.message ?? null, l2Error: cache.stats().l2Error ?? null }));
await cache.close();
`,
    );
    const out = await node(withoutRedis, 'missing.mjs', { CACHE_BACKEND: 'redis', REDIS_URL: redis.url });
    assert.equal(out.value, 1, 'the memory fallback serves');
    assert.equal(out.name, 'ConfigError');
    assert.equal(out.option, 'CACHE_BACKEND');
    assert.match(String(out.message), /npm install ioredis/);
    assert.match(String(out.l2Error), /npm install ioredis/, 'stats().l2Error says it too');
  });

  it('a bad REDIS_PORT is a ConfigError naming it, at createCache()', async () => {
    await writeFile(
      path.join(withRedis, 'badport.mjs'),
      `import { createCache } from 'hoard';
try { createCache(); console.log(JSON.stringify({ threw: false })); }
catch (error) { console.log(JSON.stringify({ threw: true, name: error.name, option: error.option })); }
`,
    );
    const out = await node(withRedis, 'badport.mjs', { CACHE_BACKEND: 'tiered', REDIS_PORT: 'tcp://10.0.0.7:6379' });
    assert.deepEqual(out, { threw: true, name: 'ConfigError', option: 'REDIS_PORT' });
  });
});

describe('types where users are', () => {
  it('node10 resolution finds the types of hoard and hoard/redis; getOrSet with a context infers its value', async () => {
    const dir = path.join(withRedis, 'node10');
    await mkdir(dir, { recursive: true });
    await writeFile(
      path.join(dir, 'app.ts'),
      `import { createCache, memoryStore } from 'hoard';
import { redisStore, redisBus } from 'hoard/redis';
interface User { id: number; name: string }
declare function loadUser(id: number): Promise<User>;
const cache = createCache({ l1: memoryStore(), l2: redisStore({ url: 'redis://127.0.0.1:6379' }), bus: redisBus({ url: 'redis://127.0.0.1:6379' }) });
export async function find(id: number): Promise<User> {
  const user = await cache.getOrSet(\`user:\${id}\`, async (ctx) => {
    ctx.setOptions({ ttl: '1m' });
    return loadUser(id);
  });
  const name: string = user.name;
  void name;
  return user;
}
`,
    );
    await writeFile(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'commonjs', moduleResolution: 'node10', target: 'ES2022', noEmit: true, types: ['node'] }, files: ['app.ts'] }),
    );
    await cp(path.join(withRedis, 'node_modules'), path.join(dir, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    await tsc(dir);
  });

  it('hoard/http type-checks with skipLibCheck off in a project without Fastify or Hono (optional peers)', async () => {
    for (const resolution of ['node10', 'nodenext'] as const) {
      const dir = path.join(withRedis, `http-types-${resolution}`);
      await mkdir(dir, { recursive: true });
      await writeFile(
        path.join(dir, 'app.ts'),
        `import http from 'node:http';
import { cacheResponse, cachePublic } from 'hoard/http';
const all = cacheResponse({ ttl: '1m', tags: (req) => [String(req.url)] });
const pages = cachePublic('1h');
http.createServer((req, res) => all(req, res, () => pages(req, res, () => res.end('ok'))));
`,
      );
      await writeFile(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            module: resolution === 'node10' ? 'commonjs' : 'nodenext',
            moduleResolution: resolution,
            target: 'ES2022',
            noEmit: true,
            skipLibCheck: false,
            esModuleInterop: true,
            types: ['node'],
          },
          files: ['app.ts'],
        }),
      );
      await cp(path.join(withRedis, 'node_modules'), path.join(dir, 'node_modules'), { recursive: true, verbatimSymlinks: true });
      await tsc(dir);
    }
  });

  it('@Cached and @InvalidatesCache compile and cache under experimentalDecorators (NestJS) and under standard decorators', async () => {
    for (const legacy of [true, false]) {
      const dir = path.join(withRedis, legacy ? 'legacy-decorators' : 'standard-decorators');
      await mkdir(dir, { recursive: true });
      await writeFile(
        path.join(dir, 'app.ts'),
        `import { Cached, InvalidatesCache, createCache, memoryStore } from 'hoard';
const cache = createCache({ store: memoryStore() });
let runs = 0;
class Users {
  @Cached({ cache, ttl: '5m', tags: (id: number) => [\`user:\${id}\`] })
  async find(id: number): Promise<{ id: number; run: number }> {
    runs++;
    return { id, run: runs };
  }
  @InvalidatesCache({ cache, tags: (id: number) => [\`user:\${id}\`] })
  async rename(id: number): Promise<void> {
    void id;
  }
}
async function main(): Promise<void> {
  const users = new Users();
  const a = await users.find(1);
  const b = await users.find(1);
  await users.rename(1);
  const c = await users.find(1);
  console.log(JSON.stringify({ a: a.run, b: b.run, c: c.run, keys: cache.stats().size }));
  await cache.close();
}
void main();
`,
      );
      await writeFile(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            module: 'commonjs',
            moduleResolution: 'node10',
            target: 'ES2022',
            outDir: 'out',
            types: ['node'],
            ...(legacy ? { experimentalDecorators: true, emitDecoratorMetadata: true } : {}),
          },
          files: ['app.ts'],
        }),
      );
      await cp(path.join(withRedis, 'node_modules'), path.join(dir, 'node_modules'), { recursive: true, verbatimSymlinks: true });
      await tsc(dir);
      const out = await node(dir, 'out/app.js', {});
      assert.deepEqual(out, { a: 1, b: 1, c: 2, keys: 1 }, legacy ? 'experimentalDecorators' : 'standard decorators');
    }
  });
});

async function tsc(dir: string): Promise<void> {
  try {
    await run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, timeout: 120_000 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    assert.fail(`tsc failed in ${path.basename(dir)}:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}
