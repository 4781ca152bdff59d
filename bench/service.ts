/**
 * The catalog service under load: autocannon against the real service (`examples/catalog/main.ts`
 * in a child process, on a loopback port), with caching off, data caching only, and data plus response caching, on memory
 * and on two tiers with a private redis-server. Reports req/s, p50, p99 and database queries per
 * request, with ratios to the uncached service, in one run.
 *
 *   npm run bench:service                  10 s per cell, about 1.5 minutes
 *   BENCH_QUICK=1 npm run bench:service    3 s per cell
 *
 * The workload: 60% product pages (ids drawn from a hot set of 200 per tenant), 30% list pages
 * (a few categories, pages 1-5), 10% searches, over three tenants; 50 connections. The database
 * is the in-process dataset with 25 ms per query (`DB_DELAY_MS`).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startRedis } from '../test/harness/redis-server.js';
import type { RedisProcess } from '../test/harness/redis-server.js';
import { log, machineMeta } from './lib/run.js';

const QUICK = process.env.BENCH_QUICK === '1';
const SECONDS = QUICK ? 3 : 10;
const CONNECTIONS = 50;
const TENANTS = ['acme', 'globex', 'initech'];
const CATEGORIES = ['books', 'games', 'music', 'garden'];

interface Mode {
  id: string;
  label: string;
  env: Record<string, string>;
  responseCache: boolean;
  redis: boolean;
}

const MODES: Mode[] = [
  { id: 'none-memory', label: 'no caching', env: { CACHE_ENABLED: 'false' }, responseCache: false, redis: false },
  { id: 'data-memory', label: 'data caching, memory', env: {}, responseCache: false, redis: false },
  { id: 'full-memory', label: 'data + response caching, memory', env: {}, responseCache: true, redis: false },
  { id: 'data-tiered', label: 'data caching, two tiers', env: {}, responseCache: false, redis: true },
  { id: 'full-tiered', label: 'data + response caching, two tiers', env: {}, responseCache: true, redis: true },
];

/** A deterministic mix of request paths, cycled by the load generator. */
function paths(): string[] {
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const out: string[] = [];
  for (let i = 0; i < 5_000; i++) {
    const tenant = TENANTS[i % TENANTS.length]!;
    const base = TENANTS.indexOf(tenant) * 2_000;
    const r = random();
    if (r < 0.6) out.push(`/api/${tenant}/products/${base + 1 + Math.floor(random() ** 2 * 200)}`);
    else if (r < 0.9) out.push(`/api/${tenant}/products?category=${CATEGORIES[Math.floor(random() * 4)]!}&page=${1 + Math.floor(random() * 5)}&size=20`);
    else out.push(`/api/${tenant}/search?q=${encodeURIComponent(['classic', 'smart blue', 'eco', 'mini pro'][Math.floor(random() * 4)]!)}`);
  }
  return out;
}

interface Cell {
  mode: string;
  label: string;
  requests: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  queriesPerRequest: number;
}

interface Service {
  url: string;
  child: ChildProcess;
  queries(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts the service as `npm start` does, with `env`, and waits for the line with its URL. */
async function startService(env: Record<string, string>): Promise<Service> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/catalog/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOARD_ADMIN_TOKEN: 'bench-token-0123456789', DB_DELAY_MS: '25', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /catalog service on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m !== null) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`the service exited:\n${out}`)));
  });
  return {
    url,
    child,
    async queries() {
      const res = await fetch(`${url}/stats`);
      return ((await res.json()) as { queries: number }).queries;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function measure(service: Service, mode: Mode, list: readonly string[]): Promise<Cell> {
  let i = 0;
  const run = (seconds: number): Promise<autocannon.Result> =>
    autocannon({
      url: service.url,
      connections: CONNECTIONS,
      duration: seconds,
      requests: [{ setupRequest: (req) => ({ ...req, path: list[i++ % list.length]! }) }],
    });
  await run(1); // warm-up: code paths and the first fills
  const before = await service.queries();
  const result = await run(SECONDS);
  const queries = (await service.queries()) - before;
  return {
    mode: mode.id,
    label: mode.label,
    requests: result.requests.total,
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    queriesPerRequest: queries / Math.max(1, result.requests.total),
  };
}

async function main(): Promise<void> {
  const list = paths();
  let redis: RedisProcess | undefined;
  const cells: Cell[] = [];
  try {
    for (const mode of MODES) {
      if (mode.redis && redis === undefined) redis = await startRedis();
      const env: Record<string, string> = { ...mode.env, CACHE_KEY_PREFIX: `bench-${mode.id}:`, RESPONSE_CACHE: String(mode.responseCache) };
      if (mode.redis) env.REDIS_URL = redis!.url;
      const service = await startService(env);
      try {
        const cell = await measure(service, mode, list);
        cells.push(cell);
        log(`${mode.label}: ${Math.round(cell.reqPerSec)} req/s, p50 ${cell.p50} ms, p99 ${cell.p99} ms, ${cell.queriesPerRequest.toFixed(3)} queries/request, ${cell.errors} errors, ${cell.non2xx} non-2xx`);
      } finally {
        await service.stop();
      }
    }
  } finally {
    await redis?.stop();
  }
  const base = cells[0]!;
  const lines = [
    `autocannon, ${CONNECTIONS} connections, ${SECONDS} s per cell, database 25 ms per query (in-process dataset)`,
    '',
    '| mode | req/s | × no caching | p50 | p99 | DB queries / request | errors |',
    '|---|--:|--:|--:|--:|--:|--:|',
    ...cells.map(
      (c) =>
        `| ${c.label} | ${Math.round(c.reqPerSec).toLocaleString('en-US')} | ${(c.reqPerSec / base.reqPerSec).toFixed(1)}× | ${c.p50} ms | ${c.p99} ms | ${c.queriesPerRequest.toFixed(3)} | ${c.errors + c.non2xx} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const file = new URL(QUICK ? './results/service-quick.json' : './results/service-latest.json', import.meta.url);
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  await writeFile(file, `${JSON.stringify({ meta: machineMeta(QUICK), seconds: SECONDS, connections: CONNECTIONS, cells }, null, 2)}\n`);
  log(`results written to ${file.pathname.split('/').slice(-3).join('/')}`);
}

await main();
