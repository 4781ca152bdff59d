/**
 * Shared setup of the metrics and admin tests: caches registered for closing in `after()`, a
 * private redis-server started on demand, and the reference Prometheus / OpenMetrics parsers
 * (the Python client's, from Debian's python3-prometheus-client).
 */
import { spawnSync } from 'node:child_process';
import { after } from 'node:test';
import { createCache, memoryStore } from '../../src/index.js';
import type { Cache, CacheOptions } from '../../src/index.js';
import { redisBus, redisStore } from '../../src/redis/index.js';
import { startRedis } from '../harness/index.js';
import type { RedisProcess } from '../harness/index.js';

type Cleanup = () => unknown;
const cleanups: Cleanup[] = [];
let redis: Promise<RedisProcess> | undefined;
let n = 0;

/** Registers the `after()` hook that closes everything these helpers made, caches first. */
export function registerCleanup(extra?: () => Promise<void>): void {
  after(async () => {
    if (extra !== undefined) await extra();
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
    if (redis !== undefined) await (await redis).stop();
  });
}

/** Something to close when the file ends. */
export function onCleanup(fn: Cleanup): void {
  cleanups.push(fn);
}

/** A private redis-server for this file, started at the first call. */
export function sharedRedis(): Promise<RedisProcess> {
  redis ??= startRedis();
  return redis;
}

/** A memory cache closed when the file ends. */
export function memoryCache(options: CacheOptions = {}): Cache {
  const cache = createCache({ name: `mem${++n}`, ...options }, {});
  cleanups.push(() => cache.close());
  return cache;
}

/** A two-tier cache on the file's redis-server, with its own prefix (and a bus when asked). */
export async function tieredCache(options: Omit<CacheOptions, 'bus'> & { bus?: boolean } = {}): Promise<Cache> {
  const server = await sharedRedis();
  const prefix = `t${++n}x:`;
  const { bus, ...rest } = options;
  const cache = createCache({ name: `tiered${n}`, namespace: prefix, l1: memoryStore(), l2: redisStore({ url: server.url }), ...(bus === true ? { bus: redisBus({ url: server.url }) } : {}), ...rest }, {});
  cleanups.push(() => cache.close());
  await cache.ready();
  return cache;
}

/** A Redis-only cache (memory is a fallback) on the file's redis-server. */
export async function redisCache(options: CacheOptions = {}): Promise<Cache> {
  const server = await sharedRedis();
  const prefix = `r${++n}x:`;
  const cache = createCache({ name: `redis${n}`, namespace: prefix, store: redisStore({ url: server.url }), ...options }, {});
  cleanups.push(() => cache.close());
  await cache.ready();
  return cache;
}

const PYTHON = '/usr/bin/python3';
const PARSER = `
import sys, json
from prometheus_client.parser import text_string_to_metric_families as prom
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
kind = sys.argv[1]
text = sys.stdin.read()
parse = om if kind == 'openmetrics' else prom
out = []
for f in parse(text):
    out.append({'name': f.name, 'type': f.type, 'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value} for s in f.samples]})
print(json.dumps(out))
`;

export interface ParsedFamily {
  name: string;
  type: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/**
 * Parses an exposition with the Python Prometheus client's parsers (the text format's, or the
 * strict OpenMetrics one, which rejects `_total_total`, a missing `# EOF` and bad counters).
 * Throws with the parser's message when it does not parse.
 */
export function parseExposition(text: string, kind: 'prometheus' | 'openmetrics'): ParsedFamily[] {
  const r = spawnSync(PYTHON, ['-c', PARSER, kind], { input: text, encoding: 'utf8' });
  if (r.error !== undefined) throw new Error(`cannot run ${PYTHON}: ${r.error.message} (apt-get install -y python3-prometheus-client)`);
  if (r.status !== 0) throw new Error(`the ${kind} parser refused the exposition: ${r.stderr}`);
  return JSON.parse(r.stdout) as ParsedFamily[];
}
