/**
 * `hoard --help` starts fast (issue 12): commands and the Redis client load only when a command
 * runs. Checked behaviourally (the packages the process loaded) and by timing the bin as the
 * build ships it (bundled the way tsup bundles it, with esbuild).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { build } from 'esbuild';
import { guardProcess } from '../helpers/guard.js';
import { FIXTURES, MAIN, registerCleanup, ROOT, runCli, server, show } from './support.js';

registerCleanup();
guardProcess();

// .tmp/ is not in the repository: a fresh clone has none.
mkdirSync(join(ROOT, '.tmp'), { recursive: true });
const REPORT = join(ROOT, '.tmp', `cli-usage-${process.pid}.json`);
const OUT = join(ROOT, '.tmp', `cli-startup-${process.pid}`);
after(() => {
  rmSync(REPORT, { force: true });
  rmSync(OUT, { recursive: true, force: true });
});

/** Runs the CLI with the usage reporter preloaded; the packages it loaded and its peak memory. */
async function usage(args: string[], entry?: string): Promise<{ packages: string[]; maxRssKb: number }> {
  rmSync(REPORT, { force: true });
  const r = await runCli(args, { nodeArgs: ['--import', join(FIXTURES, 'report-usage.mjs')], env: { HOARD_TEST_REPORT: REPORT }, ...(entry === undefined ? {} : { entry }) });
  assert.ok(r.code === 0, show(r));
  return JSON.parse(readFileSync(REPORT, 'utf8')) as { packages: string[]; maxRssKb: number };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('start-up', () => {
  it('--help loads commander and not the Redis client; a command against Redis does load it', async () => {
    for (const args of [['--help'], ['get', '--help'], ['warm', '--help']]) {
      const { packages } = await usage(args);
      assert.ok(packages.includes('commander'), `commander loaded: ${packages.join(', ')}`);
      assert.ok(!packages.includes('ioredis') && !packages.includes('@ioredis/commands'), `hoard ${args.join(' ')} must not load ioredis: ${packages.join(', ')}`);
      assert.ok(!packages.includes('cli-table3') && !packages.includes('cli-progress'), `nor the output libraries: ${packages.join(', ')}`);
    }
    const redis = await server();
    const { packages } = await usage(['--redis-url', redis.url, 'ttl', 'k']);
    assert.ok(packages.includes('ioredis'), 'the check sees ioredis when it is loaded');
  });

  it('the built bin answers --help within 150 ms (plus what the machine\'s load adds to a bare node start)', async (t) => {
    const result = await build({
      entryPoints: { cli: MAIN },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      splitting: true,
      outdir: OUT,
      metafile: true,
      logLevel: 'silent',
    });
    // Statically: nothing the entry imports up front reaches ioredis (only dynamic imports do).
    const outputs = result.metafile.outputs;
    const entry = Object.keys(outputs).find((file) => outputs[file]!.entryPoint !== undefined)!;
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const imported of outputs[file]?.imports ?? []) if (imported.kind === 'import-statement') visit(imported.path);
    };
    visit(entry);
    assert.ok(!seen.has('ioredis'), `statically imported: ${[...seen].join(', ')}`);

    const bin = join(ROOT, entry);
    const cli: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < 9; i++) {
      const r = await runCli(['--help'], { entry: bin });
      assert.equal(r.code, 0, show(r));
      cli.push(r.ms);
      const b = await runCli(['0'], { entry: '-e' });
      assert.equal(b.code, 0, show(b));
      bare.push(b.ms);
    }
    const minCli = Math.min(...cli);
    const minBare = Math.min(...bare);
    // On an idle machine a bare node starts in ~40 ms; what a loaded one adds to that is not ours.
    const bound = 150 + Math.max(0, minBare - 50);
    t.diagnostic(`hoard --help: min ${minCli.toFixed(0)} ms, median ${median(cli).toFixed(0)} ms; bare node: min ${minBare.toFixed(0)} ms; bound ${bound.toFixed(0)} ms`);
    assert.ok(minCli <= bound, `hoard --help took at least ${minCli.toFixed(0)} ms (bound ${bound.toFixed(0)} ms, bare node ${minBare.toFixed(0)} ms)`);
  });
});
