import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import type { OpenMetricsContentType, RegistryContentType } from 'prom-client';
import { ConfigError, createCache, memoryStore } from '../../src/index.js';
import type { Cache } from '../../src/index.js';
import { collectMetrics, LATENCY_BUCKETS_MS, monitor, openTelemetryMetrics, prometheusMetrics } from '../../src/metrics/index.js';
import type { MetricsSink } from '../../src/metrics/index.js';
import { redisStore } from '../../src/redis/index.js';
import { guardProcess } from '../helpers/guard.js';
import { memoryCache, onCleanup, parseExposition, registerCleanup, sharedRedis, tieredCache } from './support.js';
import type { ParsedFamily } from './support.js';

registerCleanup();
guardProcess();

let n = 0;
/** Two two-tier caches sharing one prefix (no bus): what one writes, the other finds in L2. */
async function pair(): Promise<{ a: Cache; b: Cache }> {
  const redis = await sharedRedis();
  const namespace = `pair${++n}:`;
  const make = (name: string): Cache => {
    const cache = createCache({ name, namespace, l1: memoryStore(), l2: redisStore({ url: redis.url }) }, {});
    onCleanup(() => cache.close());
    return cache;
  };
  const a = make(`a${n}`);
  const b = make(`b${n}`);
  await Promise.all([a.ready(), b.ready()]);
  return { a, b };
}

function sample(families: ParsedFamily[], name: string, labels: Record<string, string>): number | undefined {
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

describe('per-tier counters (cache.metrics())', () => {
  it('counts a memory cache in l1 and adds up to stats()', async () => {
    const cache = memoryCache();
    await cache.set('k', 1);
    for (let i = 0; i < 3; i++) await cache.get('k');
    await cache.get('nope');
    await cache.getMany(['k', 'nope']);
    await cache.getOrSet('k', () => 2);
    const m = cache.metrics();
    assert.equal(m.tiers.l2, undefined, 'no l2 without a Redis tier');
    assert.deepEqual({ hits: m.tiers.l1.hits, misses: m.tiers.l1.misses }, { hits: 5, misses: 2 });
    const stats = cache.stats();
    assert.equal(m.tiers.l1.hits, stats.hits, 'l1 hits are all the hits');
    assert.equal(m.tiers.l1.misses, stats.misses, 'l1 misses are all the misses');
  });

  it('counts L1 and L2 apart on two tiers, each lookup once', async () => {
    const { a, b } = await pair();
    await b.set('x', 'from b');
    await b.setMany([{ key: 'y', value: 1 }, { key: 'z', value: 2 }]);
    assert.equal(await a.get('x'), 'from b', 'L1 miss, L2 hit');
    assert.equal(await a.get('x'), 'from b', 'L1 hit after the backfill');
    assert.equal(await a.get('absent'), undefined, 'a miss in both tiers');
    assert.deepEqual(await a.getMany(['y', 'absent2']), [1, undefined], 'getMany: one L2 hit, one miss');
    assert.equal(await a.getOrSet('z', () => 99), 2, 'getOrSet finds z in L2');
    assert.equal(await a.getOrSet('fresh', () => 5), 5, 'getOrSet misses and runs the factory');
    const m = a.metrics();
    assert.ok(m.tiers.l2 !== undefined, 'a Redis tier is reported');
    assert.deepEqual(
      { l1: [m.tiers.l1.hits, m.tiers.l1.misses], l2: [m.tiers.l2.hits, m.tiers.l2.misses] },
      { l1: [1, 0], l2: [3, 3] },
      'L1 answered once; L2 answered x, y, z and missed absent, absent2, fresh',
    );
    const stats = a.stats();
    assert.equal(m.tiers.l1.hits + m.tiers.l2.hits, stats.hits, 'hits add up, nothing counted twice');
    assert.equal(m.tiers.l1.misses + m.tiers.l2.misses, stats.misses, 'misses add up, nothing counted twice');
    assert.equal(m.l2Available, true, 'L2 available');
  });

  it('keeps a latency histogram per tier, weighted by the sampling, from 10 µs', async () => {
    const { a, b } = await pair();
    for (let i = 0; i < 64; i++) await b.set(`k${i}`, i);
    for (let i = 0; i < 64; i++) await a.get(`k${i}`); // every one an L2 hit
    for (let i = 0; i < 320; i++) await a.get(`k${i % 64}`); // L1 hits
    const { l1, l2 } = a.metrics().tiers;
    assert.ok(l2 !== undefined, 'l2 present');
    assert.equal(l1.latency.bounds[0], 0.00001, 'the first bucket is 10 µs');
    assert.equal(l1.latency.bounds.length, LATENCY_BUCKETS_MS.length, 'one bound per bucket');
    assert.equal(l1.latency.counts.length, l1.latency.bounds.length + 1, 'plus +Inf');
    const total = l1.latency.count + l2.latency.count;
    assert.equal(total % 16, 0, 'each sample stands for 16 calls');
    assert.ok(Math.abs(total - 384) <= 16, `the histograms stand for the 384 calls (got ${total})`);
    assert.ok(l2.latency.count >= 16, 'L2 round trips were timed in the l2 histogram');
    for (const h of [l1.latency, l2.latency]) {
      for (let i = 1; i < h.counts.length; i++) assert.ok(h.counts[i]! >= h.counts[i - 1]!, 'cumulative counts never decrease');
      assert.equal(h.counts.at(-1), h.count, 'the last bucket is the count');
    }
    assert.ok(l2.latency.sum / l2.latency.count > l1.latency.sum / Math.max(1, l1.latency.count), 'L2 calls are slower on average than L1 hits');
  });

  it('counts errors by origin: l2, factory', async () => {
    let now = 1_000_000;
    const cache = memoryCache({ clock: { now: () => now } });
    await cache.getOrSet('k', () => 1, { ttl: 10, grace: '1m' });
    now += 20;
    cache.on('error', () => {});
    assert.equal(await cache.getOrSet('k', () => Promise.reject(new Error('db down')), { ttl: 10, grace: '1m' }), 1, 'the stale value masks the failure');
    assert.equal(cache.metrics().factoryErrors, 1, 'a factory error');
    assert.equal(cache.metrics().tiers.l1.errors, 0, 'not an l1 error');

    const broken = createCache({ name: 'broken', store: redisStore({ url: 'redis://127.0.0.1:1' }), connectTimeout: 0 }, {});
    onCleanup(() => broken.close());
    broken.on('error', () => {});
    await broken.ready();
    await broken.get('k');
    const m = broken.metrics();
    assert.ok((m.tiers.l2?.errors ?? 0) >= 1, 'the refused connection is an l2 error');
    assert.equal(m.tiers.l1.errors, 0, 'nothing in l1');
    assert.equal(m.l2Available, false, 'L2 unavailable');
  });
});

describe('prometheusMetrics', () => {
  it('exports the contract names and labels in Prometheus text and OpenMetrics, both parsing', async () => {
    const cache = memoryCache({ name: 'catalog' });
    await cache.set('p:1', 1);
    for (let i = 0; i < 40; i++) await cache.get(i % 4 === 0 ? 'p:none' : 'p:1');
    const registry = new Registry<RegistryContentType>();
    prometheusMetrics(cache, { registry });
    const text = await registry.metrics();
    assert.ok(!text.includes('_total_total'), 'no _total_total');
    const families = parseExposition(text, 'prometheus');
    const names = families.map((f) => f.name);
    for (const name of ['cache_hits', 'cache_misses', 'cache_evictions', 'cache_errors', 'cache_latency_seconds']) assert.ok(names.includes(name), `${name} is exported`);
    assert.equal(sample(families, 'cache_hits_total', { cache: 'catalog', tier: 'l1' }), 30, 'hits of l1');
    assert.equal(sample(families, 'cache_misses_total', { cache: 'catalog', tier: 'l1' }), 10, 'misses of l1');
    assert.equal(families.find((f) => f.name === 'cache_latency_seconds')?.type, 'histogram', 'latency is a histogram');
    assert.equal(sample(families, 'cache_latency_seconds_bucket', { cache: 'catalog', tier: 'l1', le: '1e-05' }) !== undefined || sample(families, 'cache_latency_seconds_bucket', { cache: 'catalog', tier: 'l1', le: '0.00001' }) !== undefined, true, 'a 10 µs bucket');
    for (const f of families) for (const s of f.samples) assert.ok(!Object.values(s.labels).includes('p:1'), 'never a key as a label');

    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const om = await registry.metrics();
    assert.ok(!om.includes('_total_total'), 'no _total_total in OpenMetrics');
    const omFamilies = parseExposition(om, 'openmetrics');
    assert.equal(sample(omFamilies, 'cache_hits_total', { cache: 'catalog', tier: 'l1' }), 30, 'OpenMetrics counter samples end in _total');
    assert.equal(omFamilies.find((f) => f.name === 'cache_hits')?.type, 'counter', 'OpenMetrics family cache_hits is a counter');

    // And back: the family names recover after an OpenMetrics scrape.
    registry.setContentType(Registry.PROMETHEUS_CONTENT_TYPE);
    const again = await registry.metrics();
    assert.ok(again.includes('cache_hits_total{cache="catalog",tier="l1"} 30'), 'Prometheus text again after OpenMetrics');
  });

  it('serves both content types from a real /metrics endpoint', async () => {
    const { a } = await pair();
    await a.set('k', 1);
    await a.get('k');
    await a.get('zz');
    const text = new Registry();
    const openMetrics = new Registry<OpenMetricsContentType>();
    openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    prometheusMetrics(a, { registry: text });
    prometheusMetrics(a, { registry: openMetrics });
    const server = http.createServer((req, res) => {
      const registry = req.url === '/om' ? openMetrics : text;
      void registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(() => new Promise((resolve) => server.close(resolve)));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r1 = await fetch(`${base}/metrics`);
    assert.match(r1.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/, 'Prometheus text content type');
    const f1 = parseExposition(await r1.text(), 'prometheus');
    assert.equal(sample(f1, 'cache_hits_total', { cache: a.name, tier: 'l1' }), 1, 'the L1 hit');
    assert.equal(sample(f1, 'cache_misses_total', { cache: a.name, tier: 'l2' }), 1, 'the miss, at L2');
    assert.equal(sample(f1, 'cache_l2_available', { cache: a.name }), 1, 'L2 available');
    const r2 = await fetch(`${base}/om`);
    assert.match(r2.headers.get('content-type') ?? '', /^application\/openmetrics-text; version=1\.0\.0/, 'OpenMetrics content type');
    const f2 = parseExposition(await r2.text(), 'openmetrics');
    assert.equal(sample(f2, 'cache_misses_total', { cache: a.name, tier: 'l2' }), 1, 'the miss, at L2, in OpenMetrics');
  });

  it('reads the caches at scrape time only: nothing per operation, one reading per scrape', async () => {
    const cache = memoryCache();
    const registry = new Registry();
    let reads = 0;
    const original = cache.metrics.bind(cache);
    cache.metrics = () => {
      reads++;
      return original();
    };
    prometheusMetrics(cache, { registry });
    for (let i = 0; i < 1000; i++) await cache.get(`k${i % 10}`);
    assert.equal(reads, 0, 'operations read nothing');
    await registry.metrics();
    assert.equal(reads, 1, 'one reading for all families of a scrape');
    const json = await registry.getMetricsAsJSON();
    const hits = json.find((m) => m.name === 'cache_misses_total');
    assert.deepEqual(hits?.values[0]?.labels, { cache: cache.name, tier: 'l1' }, 'getMetricsAsJSON() carries every label');
    const buckets = json.find((m) => m.name === 'cache_latency_seconds')?.values ?? [];
    assert.ok(buckets.some((v) => v.labels.le === '+Inf' && v.labels.cache === cache.name), 'histogram buckets with le and cache in JSON');
    registry.resetMetrics();
    assert.match(await registry.metrics(), /cache_misses_total\{cache="mem\d+",tier="l1"\} 1000/, 'resetMetrics() leaves the caches\' counts alone');
  });

  it('adds caches to the same families, refuses clashing names, validates options', async () => {
    const registry = new Registry();
    const one = memoryCache({ name: 'one' });
    const two = memoryCache({ name: 'two' });
    prometheusMetrics(one, { registry });
    prometheusMetrics([two, one.namespace('t1')], { registry });
    const text = await registry.metrics();
    assert.match(text, /cache_entries\{cache="one",tier="l1"\}/, 'one exported');
    assert.match(text, /cache_entries\{cache="two",tier="l1"\}/, 'two exported, same family');
    const clash = memoryCache({ name: 'one' });
    assert.throws(() => prometheusMetrics(clash, { registry }), (e: unknown) => e instanceof ConfigError && e.option === 'cache', 'a second cache named one');
    assert.throws(() => prometheusMetrics(one, {} as never), (e: unknown) => e instanceof ConfigError && e.option === 'registry', 'no registry');
    assert.throws(() => prometheusMetrics(one, { registry: new Registry(), prefix: '9bad' }), (e: unknown) => e instanceof ConfigError && e.option === 'prefix', 'bad prefix');
    assert.throws(() => prometheusMetrics({} as never, { registry: new Registry() }), (e: unknown) => e instanceof ConfigError && e.option === 'cache', 'not a cache');
    const prefixed = new Registry();
    const binding = prometheusMetrics(one, { registry: prefixed, prefix: 'shop_' });
    assert.match(await prefixed.metrics(), /^shop_cache_hits_total\{cache="one",tier="l1"\} 0$/m, 'prefix applied');
    binding.unregister();
    assert.equal(await prefixed.metrics(), '\n', 'unregister() removes every family');
  });
});

/** A reader the test collects by hand. */
class TestReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

function points(metrics: ResourceMetrics, name: string): { attributes: Record<string, unknown>; value: unknown }[] {
  const out: { attributes: Record<string, unknown>; value: unknown }[] = [];
  for (const scope of metrics.scopeMetrics) {
    for (const m of scope.metrics) if (m.descriptor.name === name) for (const p of m.dataPoints) out.push({ attributes: p.attributes, value: p.value });
  }
  return out;
}

describe('openTelemetryMetrics (OpenTelemetry SDK)', () => {
  it('observes the counters with cache and tier attributes, and latency quantiles, at collection', async () => {
    const { a, b } = await pair();
    await b.set('x', 1);
    await a.get('x');
    for (let i = 0; i < 40; i++) await a.get('x');
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    onCleanup(() => provider.shutdown());
    const binding = openTelemetryMetrics(a, { meter: provider.getMeter('test') });
    const { resourceMetrics } = await reader.collect();
    const hits = points(resourceMetrics, 'cache.hits');
    assert.deepEqual(hits.find((p) => p.attributes.tier === 'l2'), { attributes: { cache: a.name, tier: 'l2' }, value: 1 }, 'one L2 hit');
    assert.deepEqual(hits.find((p) => p.attributes.tier === 'l1'), { attributes: { cache: a.name, tier: 'l1' }, value: 40 }, '40 L1 hits');
    assert.ok(points(resourceMetrics, 'cache.latency.count').length >= 1, 'latency count observed');
    const quantiles = points(resourceMetrics, 'cache.latency').filter((p) => p.attributes.tier === 'l1');
    assert.deepEqual(quantiles.map((p) => p.attributes.quantile).sort(), [0.5, 0.99], 'p50 and p99 of the L1 calls');
    assert.equal(points(resourceMetrics, 'cache.l2.available')[0]?.value, 1, 'L2 available gauge');
    binding.unregister();
    for (let i = 0; i < 10; i++) await a.get('x');
    const after = await reader.collect();
    const l1 = points(after.resourceMetrics, 'cache.hits').find((p) => p.attributes.tier === 'l1');
    assert.ok(l1 === undefined || l1.value === 40, 'nothing new observed after unregister()');
  });

  it('refuses a missing meter with a ConfigError naming it', () => {
    assert.throws(() => openTelemetryMetrics(memoryCache(), {} as never), (e: unknown) => e instanceof ConfigError && e.option === 'meter', 'no meter');
  });
});

describe('monitor()', () => {
  it('records latency and errors of async and sync functions, passes this and results through, emits slow', async () => {
    const calls: string[] = [];
    const query = monitor(
      async function (this: { table: string }, id: number): Promise<string> {
        calls.push(this.table);
        await new Promise((resolve) => setTimeout(resolve, id === 2 ? 30 : 0));
        if (id === 3) throw new Error('no such row');
        return `row ${id}`;
      },
      { name: 'db.rows', slowMs: 20 },
    );
    onCleanup(() => query.monitor.dispose());
    const slow: number[] = [];
    const errors: unknown[] = [];
    query.monitor.on('slow', (e) => slow.push(e.ms));
    query.monitor.on('error', (e) => errors.push(e.error));
    const self = { table: 'users', query };
    assert.equal(await self.query(1), 'row 1', 'the result passes through');
    assert.equal(await self.query(2), 'row 2', 'a slow call still answers');
    await assert.rejects(self.query(3), /no such row/, 'the error is rethrown as is');
    assert.deepEqual(calls, ['users', 'users', 'users'], 'this passes through');
    assert.equal(slow.length, 1, 'one slow event');
    assert.ok(slow[0]! >= 20, 'slow carries the duration');
    assert.equal(errors.length, 1, 'one error event');

    const parse = monitor((text: string) => JSON.parse(text) as unknown, { name: 'parse' });
    onCleanup(() => parse.monitor.dispose());
    assert.deepEqual(parse('{"a":1}'), { a: 1 }, 'sync result');
    assert.throws(() => parse('{'), SyntaxError, 'sync throw rethrown');

    const m = query.monitor.metrics();
    assert.deepEqual({ calls: m.calls, errors: m.errors, slow: m.slow }, { calls: 3, errors: 1, slow: 1 }, 'figures');
    assert.equal(m.latency.count, 3, 'every call timed');
    assert.equal(parse.monitor.metrics().errors, 1, 'sync error counted');

    const registry = new Registry();
    prometheusMetrics(memoryCache(), { registry });
    const families = parseExposition(await registry.metrics(), 'prometheus');
    assert.equal(sample(families, 'cache_errors_total', { cache: 'db.rows', tier: 'source' }), 1, 'errors in the same metrics');
    assert.equal(sample(families, 'cache_latency_seconds_count', { cache: 'db.rows', tier: 'source' }), 3, 'latency in the same metrics');
  });

  it('exports a monitor attached to a cache with that cache only', async () => {
    const cache = memoryCache({ name: 'with-monitor' });
    const other = memoryCache({ name: 'without' });
    const fetchUser = monitor(async () => ({ id: 1 }), { name: 'db.users', cache });
    onCleanup(() => fetchUser.monitor.dispose());
    await cache.getOrSet('user:1', () => fetchUser());
    const withIt = new Registry();
    prometheusMetrics(cache, { registry: withIt, monitors: false });
    assert.match(await withIt.metrics(), /cache_latency_seconds_count\{cache="db.users",tier="source"\} 1/, 'exported with its cache');
    const withoutIt = new Registry();
    prometheusMetrics(other, { registry: withoutIt });
    assert.doesNotMatch(await withoutIt.metrics(), /db\.users/, 'not with another cache');
  });

  it('refuses bad options with a ConfigError naming the option', () => {
    const fn = async (): Promise<number> => 1;
    assert.throws(() => monitor(fn, { name: '' }), (e: unknown) => e instanceof ConfigError && e.option === 'name', 'empty name');
    assert.throws(() => monitor(fn, { name: 'x', slowMs: -1 }), (e: unknown) => e instanceof ConfigError && e.option === 'slowMs', 'negative slowMs');
    assert.throws(() => monitor(fn, { name: 'x', cache: {} as never }), (e: unknown) => e instanceof ConfigError && e.option === 'cache', 'not a cache');
  });
});

describe('collectMetrics with a sink of your own', () => {
  it('hands every series to the sink once per collection', async () => {
    const cache = await tieredCache();
    await cache.set('k', 1);
    await cache.get('k');
    const seen: string[] = [];
    const sink: MetricsSink = {
      counter: (name, labels, value) => seen.push(`${name}{${labels.cache},${labels.tier ?? '-'}}=${value}`),
      gauge: (name, labels, value) => seen.push(`${name}{${labels.cache},${labels.tier ?? '-'}}=${value}`),
      histogram: (name, labels, h) => seen.push(`${name}{${labels.cache},${labels.tier ?? '-'}}#${h.count}`),
    };
    collectMetrics(cache, sink);
    assert.ok(seen.includes(`cache_hits_total{${cache.name},l1}=1`), 'l1 hit');
    assert.ok(seen.includes(`cache_hits_total{${cache.name},l2}=0`), 'l2 series present');
    assert.ok(seen.includes(`cache_l2_available{${cache.name},-}=1`), 'availability gauge');
    assert.equal(new Set(seen).size, seen.length, 'no series twice');
  });
});
