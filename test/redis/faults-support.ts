/**
 * Shared setup of the fault tests (FAULTS.md sections 3.1 R, 3.2 C8 and 4): every test starts its
 * own redis-server (never the shared one on 6379), wires caches to it directly or through the
 * fault proxy, and registers everything it started so one `after` hook closes caches, then proxies,
 * then servers, even when a test fails half-way.
 */
import { after } from 'node:test';
import { performance } from 'node:perf_hooks';
import { createCache, memoryStore } from '../../src/index.js';
import type { Cache, CacheOptions } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import type { RedisStore } from '../../src/redis/index.js';
import { sleep } from '../helpers/guard.js';
import { startProxy, startRedis } from '../harness/index.js';
import type { FaultProxy, RedisProcess, StartRedisOptions } from '../harness/index.js';

/** The cache's own deadline for each L2 call, as in the contract's default. */
export const L2_TIMEOUT = 50;
/** Scheduling slack for a loaded 2-core machine: deadlines are behavioural bounds, not benchmarks. */
export const SLACK = 100;
/** Bound on any facade call while L2 is faulty. */
export const BOUND = L2_TIMEOUT + SLACK;

type Cleanup = () => Promise<unknown>;
const caches: Cleanup[] = [];
const proxies: Cleanup[] = [];
const servers: Cleanup[] = [];
const clients: Cleanup[] = [];

/** Never lets one stuck close() hang the whole file. */
async function bounded(fn: Cleanup): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, 3_000);
    timer.unref();
  });
  await Promise.race([fn().catch(() => undefined), limit]);
  clearTimeout(timer);
}

/** Call once at the top of a test file, before guardProcess() (hooks run in order). */
export function registerCleanup(): void {
  after(async () => {
    await Promise.all([...caches, ...clients].map(bounded));
    await Promise.all(proxies.map(bounded));
    await Promise.all(servers.map(bounded));
  });
}

export async function server(options: StartRedisOptions = {}): Promise<RedisProcess> {
  const redis = await startRedis(options);
  servers.push(async () => {
    redis.resume(); // a paused server must never outlive the file
    await redis.stop();
  });
  return redis;
}

export async function proxyTo(redis: RedisProcess): Promise<FaultProxy> {
  const proxy = await startProxy(redis.port);
  proxies.push(async () => {
    proxy.reset();
    await proxy.close();
  });
  return proxy;
}

let n = 0;
/** A prefix of its own for each cache, so tests never read each other's keys. */
export function freshPrefix(label: string): string {
  return `${label}${++n}:`;
}

export interface Wired {
  cache: Cache;
  /** The cache's L2 store, to wait for its connection (`ready`). */
  l2: RedisStore;
  prefix: string;
}

/** A two-tier cache (memory in front of Redis) at `url` with l2Timeout 50 ms. */
export function tiered(url: string, prefix: string, options: CacheOptions = {}): Wired {
  const l2 = redisStore({ url, prefix });
  const cache = createCache({ l1: memoryStore(), l2, namespace: prefix, l2Timeout: L2_TIMEOUT, ...options }, {});
  caches.push(() => cache.close());
  return { cache, l2, prefix };
}

/** A Redis-only cache (memory is only the fallback while Redis is away). */
export function redisOnly(url: string, prefix: string, options: CacheOptions = {}): Wired {
  const l2 = redisStore({ url, prefix });
  const cache = createCache({ store: l2, namespace: prefix, l2Timeout: L2_TIMEOUT, ...options }, {});
  caches.push(() => cache.close());
  return { cache, l2, prefix };
}

/** A store of its own (another process's view of Redis), used to write or check L2 directly. */
export async function directStore(url: string, prefix: string): Promise<RedisStore> {
  const store = redisStore({ url, prefix });
  clients.push(() => store.close());
  await store.ping();
  return store;
}

export interface Timed<T> {
  value: T;
  ms: number;
}

/** Runs `fn` and measures how long its promise took to settle (a rejection propagates). */
export async function timed<T>(fn: () => Promise<T>): Promise<Timed<T>> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

/** The slowest of a set of timed calls, for one assertion with a useful message. */
export function slowest(results: readonly Timed<unknown>[]): number {
  return results.reduce((max, r) => Math.max(max, r.ms), 0);
}

export { sleep };
