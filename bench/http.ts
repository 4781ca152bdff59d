/**
 * Response caching under load: autocannon on loopback against Node `http`, Express, Fastify and
 * Hono, each server in a child process of its own (so the load generator and the server each get
 * a core). Each comparison warms both sides up, then measures them in alternation (A B, B A, A B)
 * so that background load weighs on both alike, and reports the median round of each side.
 *
 *   npm run bench:http                    about 8 minutes (3 rounds of 3 s per side)
 *   BENCH_QUICK=1 npm run bench:http      about 2 minutes (1 round of 1 s per side), for iterating
 *   BENCH_ONLY=fastify,tiers npm run ...  some groups only (node, express, fastify, hono, tiers)
 *
 * Cells, per framework (10 connections, no pipelining):
 * - slow handler: a handler that takes 20 ms, uncached vs a cache hit (target: >= 50x req/s, hit
 *   p99 <= 10 ms). Uncached, 10 connections make at most 500 req/s, so the ratio cannot exceed
 *   what the framework serves per second on this machine divided by 500: the summary gives that
 *   ceiling (its hello-world's req/s over the uncached req/s). The same comparison with one
 *   connection, where neither side is bound by the machine's CPU, gives the speed-up of one
 *   request: 20 ms against the hit's round trip;
 * - trivial handler: a cache hit vs the same framework's hello-world without the cache
 *   (target: >= 0.75x, i.e. at most 25% overhead);
 * - 8 KiB body: a cache hit vs the same handler without the cache;
 * - unique keys: every request a new URL, so every request misses and stores (expected about 1x);
 * - 304: hits answered Not Modified (If-None-Match), reported apart.
 * Two tiers (memory in front of a redis-server started here), on Node `http`: an L1 hit, an L2 hit
 * (an L1 of 16 entries and 1,000 URLs in turn), and unique keys (each miss written to Redis).
 * Markdown tables go to stdout, progress to stderr.
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { log } from './lib/run.js';

const QUICK = process.env.BENCH_QUICK === '1';
/** Seconds of one measured round of one side. */
const DURATION = QUICK ? 1 : 3;
/** Rounds per side, alternating with the other side; the median round is reported. */
const ROUNDS = QUICK ? 1 : 3;
const WARMUP = QUICK ? 0.5 : 1;
const CONNECTIONS = 10;
const EIGHT_KIB = 'x'.repeat(8 * 1024);

type Framework = 'node' | 'express' | 'fastify' | 'hono';
type HandlerKind = 'trivial' | 'slow' | 'body8k';
type CacheKind = 'none' | 'memory' | 'tiered';

interface ServerSpec {
  framework: Framework;
  handler: HandlerKind;
  cache: CacheKind;
  redisUrl?: string;
  /** L1 entries of a two-tier cache. */
  l1Entries?: number;
  /** Tells apart two servers of the same kind (a cache of its own). */
  instance?: string;
}

// ---------------------------------------------------------------------------------------------
// The server side, run in a child process.

async function body(kind: HandlerKind): Promise<string> {
  if (kind === 'slow') await new Promise((resolve) => setTimeout(resolve, 20));
  return kind === 'body8k' ? EIGHT_KIB : 'hello world';
}

async function serveChild(spec: ServerSpec): Promise<void> {
  const { createCache, memoryStore } = await import('../src/index.js');
  const httpCache = await import('../src/http/index.js');
  let cacheOption: Record<string, unknown> | undefined;
  if (spec.cache === 'memory') {
    cacheOption = { cache: createCache({ store: memoryStore({ maxEntries: 100_000 }) }, {}) };
  } else if (spec.cache === 'tiered') {
    const { redisStore } = await import('../src/redis/index.js');
    // A generous l2Timeout: on a busy machine a 50 ms deadline turns Redis hits into misses.
    const cache = createCache(
      { l1: memoryStore({ maxEntries: spec.l1Entries ?? 100_000 }), l2: redisStore({ url: spec.redisUrl! }), namespace: 'bench-http:', l2Timeout: '1s' },
      {},
    );
    cache.on('error', () => undefined);
    await cache.ready();
    cacheOption = { cache };
  }
  const ttl = '1h';
  let server: http.Server;
  switch (spec.framework) {
    case 'node': {
      const mw = cacheOption === undefined ? undefined : httpCache.cacheResponse({ ...cacheOption, ttl });
      const handle = (res: http.ServerResponse): void => {
        void body(spec.handler).then((text) => {
          res.setHeader('Content-Type', 'text/plain');
          res.end(text);
        });
      };
      server = http.createServer((req, res) => (mw === undefined ? handle(res) : mw(req, res, () => handle(res))));
      break;
    }
    case 'express': {
      const { default: express } = await import('express');
      const app = express();
      app.disable('etag');
      if (cacheOption !== undefined) app.use(httpCache.cacheResponse({ ...cacheOption, ttl }));
      app.get('/{*path}', async (_req, res) => {
        res.type('text/plain').send(await body(spec.handler));
      });
      server = http.createServer(app);
      break;
    }
    case 'fastify': {
      const { default: Fastify } = await import('fastify');
      const app = Fastify();
      if (cacheOption !== undefined) await app.register(httpCache.fastifyResponseCache, { ...cacheOption, ttl });
      app.get('/*', async (_request, reply) => {
        void reply.type('text/plain');
        return body(spec.handler);
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      process.send!({ port: (app.server.address() as AddressInfo).port });
      return;
    }
    case 'hono': {
      const { Hono } = await import('hono');
      const { serve } = await import('@hono/node-server');
      const app = new Hono();
      if (cacheOption !== undefined) app.use('*', httpCache.honoResponseCache({ ...cacheOption, ttl }));
      app.get('*', async (c) => c.text(await body(spec.handler)));
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
        process.send!({ port: info.port });
      });
      void s;
      return;
    }
  }
  server.listen(0, '127.0.0.1', () => {
    process.send!({ port: (server.address() as AddressInfo).port });
  });
}

// ---------------------------------------------------------------------------------------------
// The load side.

interface Running {
  port: number;
  child: ChildProcess;
}

async function start(spec: ServerSpec): Promise<Running> {
  const child = fork(process.argv[1]!, [], {
    execArgv: process.execArgv,
    env: { ...process.env, HOARD_BENCH_HTTP_CHILD: JSON.stringify(spec) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
  return { port, child };
}

async function stop(running: Running): Promise<void> {
  if (running.child.exitCode !== null) return;
  const exited = new Promise((resolve) => running.child.once('exit', resolve));
  running.child.kill('SIGTERM');
  await exited;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res));
      })
      .on('error', reject);
  });
}

interface Measure {
  rps: number;
  /** Server CPU time (user + system) per request, in µs: steadier than req/s on a busy machine. */
  cpu: number;
  p50: number;
  p99: number;
  errors: number;
}

interface LoadOptions {
  path?: string;
  /** Connections of the load generator; {@link CONNECTIONS} by default. */
  connections?: number;
  headers?: Record<string, string>;
  /** A new path per request, from a counter. */
  paths?: (i: number) => string;
}

/** The server child's CPU time so far, in µs. */
function cpuOf(running: Running): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (m: unknown): void => {
      if (typeof m === 'object' && m !== null && 'cpu' in m) {
        running.child.off('message', onMessage);
        resolve((m as { cpu: number }).cpu);
      }
    };
    running.child.on('message', onMessage);
    running.child.send('cpu');
  });
}

async function measure(running: Running, seconds: number, options: LoadOptions): Promise<Measure> {
  const before = await cpuOf(running);
  const m = await load(running.port, seconds, options);
  const after = await cpuOf(running);
  return { ...m, cpu: m.requests === 0 ? 0 : (after - before) / m.requests };
}

async function load(port: number, seconds: number, options: LoadOptions): Promise<Omit<Measure, 'cpu'> & { requests: number }> {
  let i = 0;
  const paths = options.paths;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${options.path ?? '/page'}`,
    connections: options.connections ?? CONNECTIONS,
    duration: seconds,
    headers: options.headers ?? {},
    ...(paths === undefined ? {} : { requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, path: paths(i++) }) }] }),
  });
  return {
    rps: result.requests.average,
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

/** One side of a comparison: a server, how it is primed, and the requests sent to it. */
interface Side {
  label: string;
  spec: ServerSpec;
  /** Runs once against a fresh server; may return request options (an ETag to send, say). */
  prime?: (port: number) => Promise<LoadOptions | void>;
  load?: LoadOptions;
}

/** Servers of the current group, by spec, shared between comparisons. */
const pool = new Map<string, Running>();

async function server(spec: ServerSpec): Promise<Running> {
  const id = JSON.stringify(spec);
  let running = pool.get(id);
  if (running === undefined) {
    running = await start(spec);
    pool.set(id, running);
  }
  return running;
}

async function stopAll(): Promise<void> {
  await Promise.all([...pool.values()].map(stop));
  pool.clear();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Measures two sides in alternation (A B, B A, A B, …), so that background load drifting during
 * the run weighs on both alike; reports the median round of each.
 */
async function compare(a: Side, b: Side): Promise<[Measure, Measure]> {
  const sides = [a, b];
  const prepared: { running: Running; load: LoadOptions }[] = [];
  for (const side of sides) {
    const running = await server(side.spec);
    const extra = (await side.prime?.(running.port)) ?? {};
    const opts = { ...side.load, ...extra };
    if (WARMUP > 0) await load(running.port, WARMUP, opts);
    prepared.push({ running, load: opts });
  }
  const rounds: [Measure[], Measure[]] = [[], []];
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) rounds[i]!.push(await measure(prepared[i]!.running, DURATION, prepared[i]!.load));
  }
  const result = rounds.map((ms): Measure => ({
    rps: median(ms.map((m) => m.rps)),
    cpu: median(ms.map((m) => m.cpu)),
    p50: median(ms.map((m) => m.p50)),
    p99: median(ms.map((m) => m.p99)),
    errors: ms.reduce((sum, m) => sum + m.errors, 0),
  })) as [Measure, Measure];
  for (let i = 0; i < 2; i++) {
    const m = result[i]!;
    log(`${sides[i]!.label}: ${Math.round(m.rps)} req/s, ${m.cpu.toFixed(0)} µs CPU/req, p50 ${m.p50} ms, p99 ${m.p99} ms${m.errors === 0 ? '' : `, ${m.errors} errors or non-2xx`}`);
  }
  return result;
}

const primeOnce = async (port: number): Promise<void> => {
  await get(port, '/page');
};

function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}x`;
}

function fmt(m: Measure): string {
  return `${Math.round(m.rps).toLocaleString('en-US')} | ${m.p99} | ${m.cpu.toFixed(0)}`;
}

function verdict(met: boolean): string {
  return met ? 'met' : 'not met';
}

/** Throughput ratio, and the ratio of server CPU per request (baseline / hoard). */
function ratios(hoard: Measure, base: Measure): string {
  return `${ratio(hoard.rps, base.rps)} | ${ratio(base.cpu, hoard.cpu)}`;
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',');
  const frameworks = (['node', 'express', 'fastify', 'hono'] as const).filter((f) => only === undefined || only.includes(f));
  const rows: string[] = [];
  const summary: string[] = [];
  log(`bench:http ${QUICK ? '(quick) ' : ''}${ROUNDS} round(s) of ${DURATION} s per side, ${CONNECTIONS} connections, node ${process.version}`);

  for (const framework of frameworks) {
    const none = (handler: HandlerKind): ServerSpec => ({ framework, handler, cache: 'none' });
    const memory = (handler: HandlerKind, instance?: string): ServerSpec => ({ framework, handler, cache: 'memory', ...(instance === undefined ? {} : { instance }) });
    try {
      const [slowUncached, slowHit] = await compare(
        { label: `${framework} 20 ms handler, uncached`, spec: none('slow') },
        { label: `${framework} 20 ms handler, cache hit`, spec: memory('slow'), prime: primeOnce },
      );
      const [slowUncached1, slowHit1] = await compare(
        { label: `${framework} 20 ms handler, uncached, 1 connection`, spec: none('slow'), load: { connections: 1 } },
        { label: `${framework} 20 ms handler, cache hit, 1 connection`, spec: memory('slow'), prime: primeOnce, load: { connections: 1 } },
      );
      const [hello, hit] = await compare(
        { label: `${framework} hello-world, no cache`, spec: none('trivial') },
        { label: `${framework} trivial handler, cache hit`, spec: memory('trivial'), prime: primeOnce },
      );
      const [big, bigHit] = await compare(
        { label: `${framework} 8 KiB body, no cache`, spec: none('body8k') },
        { label: `${framework} 8 KiB body, cache hit`, spec: memory('body8k'), prime: primeOnce },
      );
      // Both sides get a new URL per request, so the load generator does the same work for both.
      const [hello2, unique] = await compare(
        { label: `${framework} hello-world, no cache, unique URLs`, spec: none('trivial'), load: { paths: (i) => `/u?i=${i}` } },
        { label: `${framework} unique keys (all misses)`, spec: memory('trivial', 'unique'), load: { paths: (i) => `/u?i=${i}` } },
      );
      const [hit2, notModified] = await compare(
        { label: `${framework} trivial handler, cache hit`, spec: memory('trivial') },
        {
          label: `${framework} 304 on If-None-Match`,
          spec: memory('trivial'),
          prime: async (port) => ({ headers: { 'if-none-match': String((await get(port, '/page')).headers.etag) } }),
        },
      );
      rows.push(`| ${framework} | 20 ms handler | ${fmt(slowUncached)} | ${fmt(slowHit)} | ${ratios(slowHit, slowUncached)} |`);
      rows.push(`| ${framework} | 20 ms handler, 1 connection | ${fmt(slowUncached1)} | ${fmt(slowHit1)} | ${ratios(slowHit1, slowUncached1)} |`);
      rows.push(`| ${framework} | trivial handler (vs hello-world) | ${fmt(hello)} | ${fmt(hit)} | ${ratios(hit, hello)} |`);
      rows.push(`| ${framework} | 8 KiB body | ${fmt(big)} | ${fmt(bigHit)} | ${ratios(bigHit, big)} |`);
      rows.push(`| ${framework} | unique keys, every request a miss (vs hello-world) | ${fmt(hello2)} | ${fmt(unique)} | ${ratios(unique, hello2)} |`);
      rows.push(`| ${framework} | 304 on If-None-Match (vs 200 hit) | ${fmt(hit2)} | ${fmt(notModified)} | ${ratios(notModified, hit2)} |`);
      const slowRatio = slowHit.rps / slowUncached.rps;
      const ceiling = hello.rps / slowUncached.rps;
      const slowRatio1 = slowHit1.rps / slowUncached1.rps;
      const trivialRatio = hit.rps / hello.rps;
      const trivialCpu = hello.cpu / hit.cpu;
      summary.push(
        `| ${framework} | ${slowRatio.toFixed(1)}x ${verdict(slowRatio >= 50)} | ${ceiling.toFixed(1)}x | ${slowRatio1.toFixed(1)}x ${verdict(slowRatio1 >= 50)} | ${slowHit.p99} ms ${verdict(slowHit.p99 <= 10)} | ${trivialRatio.toFixed(2)}x ${verdict(trivialRatio >= 0.75)} | ${trivialCpu.toFixed(2)}x ${verdict(trivialCpu >= 0.75)} |`,
      );
    } finally {
      await stopAll();
    }
  }

  const tierRows: string[] = [];
  if (only === undefined || only.includes('tiers')) {
    // Two tiers, on Node http, with a redis-server of this run.
    const { startRedis } = await import('../test/harness/redis-server.js');
    const redis = await startRedis();
    try {
      const url = redis.url;
      const none: ServerSpec = { framework: 'node', handler: 'trivial', cache: 'none' };
      const tiered = (extra: Partial<ServerSpec> = {}): ServerSpec => ({ framework: 'node', handler: 'trivial', cache: 'tiered', redisUrl: url, ...extra });
      const rotating = (i: number): string => `/rot?i=${i % 1000}`;
      const [hello, l1] = await compare({ label: 'node hello-world, no cache', spec: none }, { label: 'node two tiers, L1 hit', spec: tiered(), prime: primeOnce });
      const [hello2, l2] = await compare(
        { label: 'node hello-world, no cache, rotating URLs', spec: none, load: { paths: rotating } },
        {
          label: 'node two tiers, L2 hit (L1 of 16 entries)',
          spec: tiered({ l1Entries: 16 }),
          load: { paths: rotating },
          prime: async (port) => {
            for (let i = 0; i < 1000; i++) await get(port, rotating(i));
          },
        },
      );
      const [hello3, unique] = await compare(
        { label: 'node hello-world, no cache, unique URLs', spec: none, load: { paths: (i) => `/tu?i=${i}` } },
        { label: 'node two tiers, unique keys', spec: tiered({ instance: 'unique' }), load: { paths: (i) => `/tu?i=${i}` } },
      );
      tierRows.push(`| L1 hit | ${fmt(hello)} | ${fmt(l1)} | ${ratios(l1, hello)} |`);
      tierRows.push(`| L2 hit (Redis; L1 of 16 entries, 1,000 URLs) | ${fmt(hello2)} | ${fmt(l2)} | ${ratios(l2, hello2)} |`);
      tierRows.push(`| unique keys (every request a miss, written to Redis) | ${fmt(hello3)} | ${fmt(unique)} | ${ratios(unique, hello3)} |`);
    } finally {
      await stopAll();
      await redis.stop();
    }
  }

  const out = [
    `## bench:http (${QUICK ? 'BENCH_QUICK, ' : ''}${ROUNDS} round(s) of ${DURATION} s per side, ${CONNECTIONS} connections, Node ${process.version})`,
    '',
    '| framework | case | baseline req/s | p99 ms | µs CPU/req | hoard req/s | p99 ms | µs CPU/req | req/s ratio | CPU ratio |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows,
    '',
    '| framework | 20 ms handler: hit vs uncached req/s (target >= 50x) | ceiling here: hello-world vs uncached req/s | same, 1 connection | hit p99 (target <= 10 ms) | trivial hit vs hello-world req/s (target >= 0.75x) | same, by server CPU per request |',
    '|---|---|---|---|---|---|---|',
    ...summary,
    '',
  ];
  if (tierRows.length !== 0) {
    out.push(
      '### Two tiers (memory in front of Redis), Node http',
      '',
      '| case | hello-world req/s | p99 ms | µs CPU/req | hoard req/s | p99 ms | µs CPU/req | req/s ratio | CPU ratio |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
      ...tierRows,
      '',
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

const childSpec = process.env.HOARD_BENCH_HTTP_CHILD;
if (childSpec !== undefined) {
  void serveChild(JSON.parse(childSpec) as ServerSpec);
  process.on('SIGTERM', () => process.exit(0));
  // The load side asks for the server's CPU time around each measured round.
  process.on('message', (m) => {
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ cpu: u.user + u.system });
    }
  });
} else {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      log(error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exit(1);
    },
  );
}
