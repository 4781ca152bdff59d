import type { Attributes, BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import type { LatencyHistogram } from '../cache/latency.js';
import { ConfigError } from '../errors/config-error.js';
import { METRICS } from './names.js';
import type { CounterMetric, GaugeMetric, MetricLabels } from './names.js';
import { collectMetrics, SourceSet } from './sink.js';
import type { MetricsSink, MetricsSources } from './sink.js';

/** Options of {@link openTelemetryMetrics}. */
export interface OpenTelemetryMetricsOptions {
  /**
   * The meter to create hoard's instruments on.
   * @example metrics.getMeter('hoard')
   */
  meter: Meter;
  /**
   * Also export the monitors created without a `cache` option.
   * @default true
   */
  monitors?: boolean | undefined;
}

/** The instruments of {@link openTelemetryMetrics}: add or remove caches later, or stop observing. */
export interface OpenTelemetryMetrics {
  add(sources: MetricsSources): void;
  remove(sources: MetricsSources): void;
  /** Removes the batch callback: the instruments report nothing more. */
  unregister(): void;
}

/** Quantiles reported by the `cache.latency` gauge. */
const QUANTILES = [0.5, 0.99] as const;

/**
 * hoard's metrics as OpenTelemetry observable instruments, read in one batch callback when the
 * SDK collects (nothing per cache operation): observable counters `cache.hits`, `cache.misses`,
 * `cache.evictions`, `cache.errors`, `cache.expirations`, `cache.sets`, `cache.deletes`,
 * `cache.latency.count` and `cache.latency.sum` (s), gauges `cache.entries`, `cache.bytes`,
 * `cache.l2.available`, and `cache.latency` (s) with a `quantile` attribute (0.5, 0.99), all
 * with the attributes `cache` and `tier`. Through OpenTelemetry's Prometheus exporter they read
 * `cache_hits_total` and so on.
 *
 * The OpenTelemetry API has no observable histogram (histograms are recorded call by call), so
 * latency is exported as its count and sum plus quantiles estimated, as Prometheus'
 * `histogram_quantile` does, from the calls between two collections.
 * @example
 * import { metrics } from '@opentelemetry/api';
 * openTelemetryMetrics(cache, { meter: metrics.getMeter('hoard') });
 */
export function openTelemetryMetrics(sources: MetricsSources, options: OpenTelemetryMetricsOptions): OpenTelemetryMetrics {
  if (typeof options !== 'object' || options === null) throw new ConfigError('meter', 'openTelemetryMetrics(cache, { meter }) needs an OpenTelemetry Meter');
  const { meter, monitors = true } = options;
  if (typeof meter !== 'object' || meter === null || typeof meter.createObservableCounter !== 'function' || typeof meter.addBatchObservableCallback !== 'function') {
    throw new ConfigError('meter', 'expected an OpenTelemetry Meter (metrics.getMeter(name))');
  }
  if (typeof monitors !== 'boolean') throw new ConfigError('monitors', 'expected true or false');
  const set = new SourceSet(monitors);
  set.add(sources);

  const counters = new Map<string, Observable>();
  const gauges = new Map<string, Observable>();
  for (const [name, spec] of Object.entries(METRICS)) {
    if (spec.type === 'counter') counters.set(name, meter.createObservableCounter(spec.otel, { description: spec.help, unit: spec.unit }));
    else if (spec.type === 'gauge') gauges.set(name, meter.createObservableGauge(spec.otel, { description: spec.help, unit: spec.unit }));
  }
  const latency = METRICS.cache_latency_seconds;
  const quantiles = meter.createObservableGauge(latency.otel, { description: `${latency.help} Quantiles over the calls since the previous collection.`, unit: 's' });
  const count = meter.createObservableCounter(`${latency.otel}.count`, { description: 'Calls timed by cache_latency_seconds.', unit: '{call}' });
  const sum = meter.createObservableCounter(`${latency.otel}.sum`, { description: 'Sum of the latencies timed by cache_latency_seconds.', unit: 's' });
  const observables = [...counters.values(), ...gauges.values(), quantiles, count, sum];
  /** Cumulative bucket counts at the previous collection, per series. */
  const previous = new Map<string, readonly number[]>();

  const callback = (result: BatchObservableResult): void => {
    const sink: MetricsSink = {
      counter: (name: CounterMetric, labels, value) => result.observe(counters.get(name)!, value, attributes(labels)),
      gauge: (name: GaugeMetric, labels, value) => result.observe(gauges.get(name)!, value, attributes(labels)),
      histogram: (_name, labels, h) => {
        const attrs = attributes(labels);
        result.observe(count, h.count, attrs);
        result.observe(sum, h.sum, attrs);
        const id = `${labels.cache}\u0000${labels.tier ?? ''}`;
        const before = previous.get(id);
        previous.set(id, h.counts);
        for (const q of QUANTILES) {
          const value = quantile(h, before, q);
          if (value !== undefined) result.observe(quantiles, value, { ...attrs, quantile: q });
        }
      },
    };
    collectMetrics(set.current(), sink);
  };
  meter.addBatchObservableCallback(callback, observables);
  let registered = true;
  return {
    add: (s) => set.add(s),
    remove: (s) => set.remove(s),
    unregister: () => {
      if (!registered) return;
      registered = false;
      meter.removeBatchObservableCallback(callback, observables);
    },
  };
}

function attributes(labels: MetricLabels): Attributes {
  return labels.tier === undefined ? { cache: labels.cache } : { cache: labels.cache, tier: labels.tier };
}

/**
 * The `q` quantile of the calls between two cumulative readings, interpolated linearly inside
 * its bucket (as Prometheus' `histogram_quantile`); undefined when no call came in between.
 */
export function quantile(h: LatencyHistogram, before: readonly number[] | undefined, q: number): number | undefined {
  const delta = (i: number): number => h.counts[i]! - (before?.[i] ?? 0);
  const total = delta(h.counts.length - 1);
  if (!(total > 0)) return undefined;
  const rank = q * total;
  for (let i = 0; i < h.counts.length; i++) {
    const upTo = delta(i);
    if (upTo < rank) continue;
    if (i >= h.bounds.length) return h.bounds[h.bounds.length - 1]; // past the last bound: its value, as Prometheus does
    const lower = i === 0 ? 0 : h.bounds[i - 1]!;
    const below = i === 0 ? 0 : delta(i - 1);
    const inBucket = upTo - below;
    return inBucket <= 0 ? h.bounds[i] : lower + (h.bounds[i]! - lower) * ((rank - below) / inBucket);
  }
  return undefined;
}
