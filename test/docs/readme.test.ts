/**
 * The README cannot rot.
 *
 * - Every ```ts block of README.md is a program: it is extracted, type-checked with the repo's
 *   compiler settings and run in its own Node process. Blocks of docs/*.md run when the line before
 *   them is `<!-- run -->` (reference pages also hold fragments and signatures).
 * - Imports of `hoard` and `hoard/redis` are rewritten to the source entry points, so the samples
 *   test the code of this checkout, not a build.
 * - Each sample gets a clean environment (no CACHE_* or REDIS_* variables) plus `REDIS_URL` of a
 *   private redis-server started here, flushed before every sample. Samples read `REDIS_URL`.
 * - A sample must exit 0 on its own (so it must close its caches), write nothing to stderr (no
 *   unhandled `error` warnings), and print exactly what the fenced block after it shows when that
 *   block is marked `<!-- output -->` (nothing otherwise). Samples check their own results with
 *   `node:assert`.
 * - Every relative link of README.md and docs/*.md resolves to a file the package publishes (and
 *   to a heading there when it has an anchor).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startRedis } from '../harness/index.js';
import type { RedisProcess } from '../harness/index.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE_TIMEOUT_MS = 60_000;

/** Pages the README links to that are written alongside `hoard/http` and `hoard/metrics`. */
const PENDING_DOCS = new Set<string>();

interface Sample {
  /** `README.md:42`: the page and the line of the opening fence. */
  name: string;
  code: string;
  /** `ts`, or `cjs` for a ```js block that uses require(). */
  kind: 'ts' | 'cjs';
  /** What the sample prints (the `<!-- output -->` block after it), or '' when it must print nothing. */
  output: string;
}

interface Fence {
  info: string;
  line: number;
  body: string;
  /** The last non-blank line before the opening fence. */
  before: string;
}

function fences(text: string): Fence[] {
  const lines = text.split('\n');
  const out: Fence[] = [];
  let previous = '';
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]!);
    if (open === null) {
      if (lines[i]!.trim() !== '') previous = lines[i]!.trim();
      continue;
    }
    const marker = open[1]!;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !(lines[j]!.startsWith(marker[0]!.repeat(marker.length)) && lines[j]!.trim().replace(/^[`~]+/, '') === '')) {
      body.push(lines[j]!);
      j++;
    }
    assert.ok(j < lines.length, `unclosed code fence at line ${i + 1}`);
    out.push({ info: open[2]!.trim(), line: i + 1, body: body.join('\n'), before: previous });
    previous = lines[j]!.trim();
    i = j;
  }
  return out;
}

/** The samples of one page: every ts block of README.md, marked ones elsewhere. */
function samplesOf(page: string): Sample[] {
  const text = readFileSync(path.join(root, page), 'utf8');
  const all = page === 'README.md';
  const list = fences(text);
  const samples: Sample[] = [];
  list.forEach((fence, i) => {
    const lang = fence.info.split(/\s+/)[0]!.toLowerCase();
    const isTs = lang === 'ts' || lang === 'typescript';
    const isCjs = lang === 'js' && /\brequire\(/.test(fence.body);
    if (!isTs && !isCjs) return;
    if (!all && fence.before !== '<!-- run -->') return;
    const next = list[i + 1];
    const output = next !== undefined && next.before === '<!-- output -->' ? next.body.trim() : '';
    samples.push({ name: `${page}:${fence.line}`, code: fence.body, kind: isTs ? 'ts' : 'cjs', output });
  });
  return samples;
}

const pages = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

/** `hoard`, `hoard/redis`, `hoard/http` and `hoard/metrics` as written by users, pointed at the source entry points from `dir`. */
function rewriteImports(code: string, dir: string, kind: Sample['kind']): string {
  const target = (sub: string | undefined): string => {
    const file = path.join(root, 'src', sub === undefined ? 'index' : `${sub.slice(1)}/index`);
    return kind === 'ts' ? `${path.relative(dir, file).split(path.sep).join('/')}.js` : `${file}.ts`;
  };
  return code.replace(/(\bfrom\s+|\bimport\s+|\bimport\(\s*|\brequire\(\s*)(['"])hoard(\/redis|\/http|\/metrics)?\2/g, (_m, lead: string, quote: string, sub: string | undefined) => `${lead}${quote}${target(sub)}${quote}`);
}

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv, timeout: number): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: root, env, timeout, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const failure = error as (Error & { code?: number | string; signal?: NodeJS.Signals | null }) | null;
      resolve({
        code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
        signal: failure?.signal ?? null,
        stdout,
        stderr,
      });
    });
  });
}

/** The parent's environment without anything that configures a cache (or a test runner). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(CACHE_|REDIS_|HOARD_|NODE_TEST|NODE_OPTIONS$)/.test(name)) continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

const samples = pages.flatMap(samplesOf);
const fileOf = new Map<Sample, string>();
let work: string;
let redis: RedisProcess;

describe('README and docs samples', () => {
  before(async () => {
    await mkdir(path.join(root, '.tmp'), { recursive: true });
    work = await mkdtemp(path.join(root, '.tmp', 'readme-'));
    for (const sample of samples) {
      const base = sample.name.replace(/[^\w]+/g, '-').replace(/^-|-$/g, '').toLowerCase();
      const file = path.join(work, `${base}.${sample.kind === 'ts' ? 'ts' : 'cjs'}`);
      await writeFile(file, `${rewriteImports(sample.code, work, sample.kind)}\n`);
      fileOf.set(sample, file);
    }
    await writeFile(
      path.join(work, 'tsconfig.json'),
      JSON.stringify({
        extends: path.relative(work, path.join(root, 'tsconfig.json')),
        compilerOptions: { noEmit: true, sourceMap: false, declaration: false },
        include: ['*.ts'],
      }),
    );
    redis = await startRedis();
  });

  after(async () => {
    await redis?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('finds the samples', () => {
    const inReadme = samples.filter((s) => s.name.startsWith('README.md:'));
    assert.ok(inReadme.length >= 20, `README.md has its samples (found ${inReadme.length})`);
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    assert.ok(!readme.includes('<!-- norun'), 'every ts block of README.md runs');
  });

  it('type-checks every sample with the repo compiler settings', async () => {
    const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
    const result = await run(tsc, ['-p', path.join(work, 'tsconfig.json'), '--pretty', 'false', '--listFiles'], process.env, 240_000);
    assert.ok(result.signal === null, `tsc finished (signal ${String(result.signal)})`);
    const listed = new Set(result.stdout.split('\n').map((line) => path.resolve(line.trim())));
    const unchecked = [...fileOf].filter(([sample, file]) => sample.kind === 'ts' && !listed.has(file)).map(([sample]) => sample.name);
    assert.deepEqual(unchecked, [], 'tsc checked every sample');
    // A diagnostic without a file (a bad tsconfig) fails too.
    assert.deepEqual(result.stdout.split('\n').filter((line) => /^error TS\d+/.test(line)), [], 'tsc ran with the repo settings');
    // Only diagnostics of the samples count: the source is type-checked by `npm run typecheck`.
    const ours = result.stdout
      .split('\n')
      .filter((line) => line.includes(path.basename(work)) && /\(\d+,\d+\): error/.test(line))
      .map((line) => {
        // `.tmp/readme-x/readme-md-51.ts(3,7): error TS2322: ...` as `README.md:54:7: error TS2322: ...`
        const at = /^(.*?)\((\d+),(\d+)\): (.*)$/.exec(line);
        const sample = at === null ? undefined : [...fileOf].find(([, f]) => f.endsWith(path.basename(at[1]!)))?.[0];
        if (at === null || sample === undefined) return line;
        const [page, fence] = sample.name.split(':') as [string, string];
        return `${page}:${Number(fence) + Number(at[2])}:${at[3]}: ${at[4]}`;
      });
    assert.deepEqual(ours, [], 'the samples type-check');
  });

  for (const sample of samples) {
    it(`runs ${sample.name}`, async () => {
      await redis.cli('FLUSHALL');
      const file = fileOf.get(sample)!;
      const result = await run(process.execPath, ['--import', 'tsx', file], cleanEnv({ REDIS_URL: redis.url }), SAMPLE_TIMEOUT_MS);
      const context = `${sample.name}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
      assert.ok(result.signal === null, `the sample exits by itself (are its caches closed?), got ${String(result.signal)}: ${context}`);
      assert.equal(result.code, 0, `exit code of ${context}`);
      assert.equal(result.stderr, '', `nothing on stderr: ${context}`);
      assert.equal(result.stdout.trim(), sample.output, `what ${sample.name} prints (the <!-- output --> block after it)`);
    });
  }
});

// ------------------------------------------------------------------------------------------------
// Links

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  let inFence = false;
  for (const line of text.split('\n')) {
    if (/^(`{3,}|~{3,})/.test(line)) inFence = !inFence;
    if (inFence) continue;
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const base = slug(heading[1]!);
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Links outside code: `[text](target)`. */
function linksOf(text: string): string[] {
  const prose = text.replace(/^(`{3,}|~{3,})[\s\S]*?^\1\s*$/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
}

const REPO_BLOB = 'https://github.com/hoard-cache/hoard/blob/HEAD/';

describe('README and docs links', () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { files: string[] };
  const published = (relative: string): boolean =>
    relative === 'package.json' || pkg.files.some((entry) => relative === entry || relative.startsWith(`${entry.replace(/\/$/, '')}/`));

  it('publishes the README, the licence and the docs', () => {
    for (const entry of ['dist', 'README.md', 'LICENSE', 'docs']) assert.ok(pkg.files.includes(entry), `package.json files has ${entry}`);
    assert.ok(existsSync(path.join(root, 'LICENSE')), 'LICENSE exists');
  });

  for (const page of pages) {
    it(`every link of ${page} resolves in the published package`, () => {
      const problems: string[] = [];
      for (const link of linksOf(readFileSync(path.join(root, page), 'utf8'))) {
        if (link.startsWith(REPO_BLOB)) {
          // Files the package does not publish are linked on GitHub; they must exist here.
          const target = link.slice(REPO_BLOB.length).split('#')[0]!;
          if (!existsSync(path.join(root, target))) problems.push(`${link}: no ${target} in the repository`);
          continue;
        }
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
        const [target = '', anchor] = link.split('#') as [string, string | undefined];
        const file = target === '' ? path.join(root, page) : path.resolve(path.dirname(path.join(root, page)), target);
        const relative = path.relative(root, file).split(path.sep).join('/');
        if (relative.startsWith('..')) {
          problems.push(`${link}: outside the package`);
          continue;
        }
        if (!published(relative)) problems.push(`${link}: ${relative} is not in package.json files`);
        if (!existsSync(file)) {
          if (!PENDING_DOCS.has(relative)) problems.push(`${link}: ${relative} does not exist`);
          continue;
        }
        if (anchor !== undefined && relative.endsWith('.md') && !anchorsOf(file).has(anchor)) problems.push(`${link}: no heading #${anchor} in ${relative}`);
      }
      assert.deepEqual(problems, [], `broken links in ${page}`);
    });
  }
});
