import { Cache } from '../cache/cache.js';
import type { LatencyHistogram } from '../cache/latency.js';
import type { CacheMetrics, TierMetrics } from '../cache/types.js';
import { ConfigError } from '../errors/config-error.js';
import { Monitor, monitorsOf, unattachedMonitors } from './monitor.js';
import type { CounterMetric, GaugeMetric, HistogramMetric, MetricLabels } from './names.js';

/**
 * Where collected figures go: what `prometheusMetrics` and the OpenTelemetry binding implement,
 * and what anything else (StatsD, a log line, a test) can implement too. {@link collectMetrics}
 * calls it at collection time with cumulative values read from hoard's own counters; nothing
 * calls a sink per cache operation.
 * @example
 * collectMetrics([cache], {
 *   counter: (name, labels, value) => statsd.gauge(name, value, labels),
 *   gauge: (name, labels, value) => statsd.gauge(name, value, labels),
 *   histogram: (name, labels, h) => statsd.gauge(`${name}_count`, h.count, labels),
 * });
 */
export interface MetricsSink {
  /** A total since the cache was created; it only grows. */
  counter(metric: CounterMetric, labels: MetricLabels, value: number): void;
  /** A value now (entries, bytes, availability). */
  gauge(metric: GaugeMetric, labels: MetricLabels, value: number): void;
  /** Cumulative bucket counts (seconds) since the cache was created. */
  histogram(metric: HistogramMetric, labels: MetricLabels, value: LatencyHistogram): void;
}

/** Something whose figures can be collected: a cache (or a namespace view: its root's figures), or a monitor. */
export type MetricsSource = Cache | Monitor;

/** One source or several. */
export type MetricsSources = MetricsSource | readonly MetricsSource[];

/** Reads every figure of `sources` once and hands it to `sink`. Synchronous, allocation-light. */
export function collectMetrics(sources: MetricsSources | Iterable<MetricsSource>, sink: MetricsSink): void {
  const list = isSource(sources) ? [sources] : sources;
  for (const source of list) {
    if (source instanceof Monitor) collectMonitor(source, sink);
    else collectCache(source.metrics(), sink);
  }
}

function collectCache(m: CacheMetrics, sink: MetricsSink): void {
  const cache = m.name;
  tier(sink, cache, 'l1', m.tiers.l1);
  if (m.tiers.l2 !== undefined) tier(sink, cache, 'l2', m.tiers.l2);
  sink.counter('cache_errors_total', { cache, tier: 'factory' }, m.factoryErrors);
  sink.counter('cache_expirations_total', { cache, tier: 'l1' }, m.expirations);
  sink.counter('cache_sets_total', { cache }, m.sets);
  sink.counter('cache_deletes_total', { cache }, m.deletes);
  sink.gauge('cache_entries', { cache, tier: 'l1' }, m.size);
  if (m.bytes !== undefined) sink.gauge('cache_bytes', { cache, tier: 'l1' }, m.bytes);
  if (m.l2Available !== undefined) sink.gauge('cache_l2_available', { cache }, m.l2Available ? 1 : 0);
}

function tier(sink: MetricsSink, cache: string, name: 'l1' | 'l2', t: TierMetrics): void {
  const labels: MetricLabels = { cache, tier: name };
  sink.counter('cache_hits_total', labels, t.hits);
  sink.counter('cache_misses_total', labels, t.misses);
  if (name === 'l1') sink.counter('cache_evictions_total', labels, t.evictions);
  sink.counter('cache_errors_total', labels, t.errors);
  sink.histogram('cache_latency_seconds', labels, t.latency);
}

function collectMonitor(monitor: Monitor, sink: MetricsSink): void {
  const m = monitor.metrics();
  const labels: MetricLabels = { cache: m.name, tier: 'source' };
  sink.counter('cache_errors_total', labels, m.errors);
  sink.histogram('cache_latency_seconds', labels, m.latency);
}

function isSource(value: unknown): value is MetricsSource {
  return value instanceof Monitor || (typeof value === 'object' && value !== null && typeof (value as Partial<Cache>).metrics === 'function');
}

/**
 * The set of sources a binding exports: the caches and monitors it was given, the monitors
 * attached to those caches, and (unless turned off) the monitors created without a cache. Caches
 * are told apart by name: two caches with one name would export clashing series.
 */
export class SourceSet {
  readonly #given: MetricsSource[] = [];
  readonly #unattached: boolean;

  constructor(unattached: boolean) {
    this.#unattached = unattached;
  }

  add(sources: MetricsSources, option = 'cache'): void {
    const list = isSource(sources) ? [sources] : sources;
    if (!Array.isArray(list)) throw new ConfigError(option, 'expected a cache, a monitor, or an array of them');
    for (const source of list as readonly unknown[]) {
      if (!isSource(source)) throw new ConfigError(option, 'expected a cache made by createCache() or a Monitor (monitor(fn).monitor)');
      if (this.#given.includes(source)) continue;
      if (!(source instanceof Monitor)) {
        const name = source.name;
        const clash = this.#given.find((s) => !(s instanceof Monitor) && s.name === name);
        if (clash !== undefined) {
          if (rootOf(clash as Cache) === rootOf(source)) continue; // a view of a cache already exported
          throw new ConfigError(option, `two caches are named "${name}": their series would clash; give each createCache({ name })`);
        }
      }
      this.#given.push(source);
    }
  }

  remove(sources: MetricsSources): void {
    const list = isSource(sources) ? [sources] : sources;
    for (const source of list) {
      const at = this.#given.indexOf(source);
      if (at !== -1) this.#given.splice(at, 1);
    }
  }

  /** Every source to read now (monitors are looked up at each collection: they can come and go). */
  current(): MetricsSource[] {
    const out: MetricsSource[] = [];
    const seen = new Set<Monitor>();
    const addMonitor = (m: Monitor): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push(m);
    };
    for (const source of this.#given) {
      if (source instanceof Monitor) {
        addMonitor(source);
      } else {
        out.push(source);
        for (const m of monitorsOf(source)) addMonitor(m);
      }
    }
    if (this.#unattached) for (const m of unattachedMonitors()) addMonitor(m);
    return out;
  }
}

/** The shared state behind a cache or view (views of one cache share their root's figures). */
function rootOf(cache: Cache): object {
  try {
    return Cache.coreOf(cache);
  } catch {
    return cache; // a cache of another build of hoard
  }
}
