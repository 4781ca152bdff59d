/**
 * The metric families hoard exports, in one table shared by the Prometheus collector, the
 * OpenTelemetry binding and the docs test: names fixed by the contract (`cache_hits_total`, ...),
 * their kind, help text and OpenTelemetry name.
 */
export const METRICS = {
  cache_hits_total: { type: 'counter', help: 'Lookups answered by the tier (each lookup counts once, at the tier that answered it).', otel: 'cache.hits', unit: '{lookup}' },
  cache_misses_total: { type: 'counter', help: 'Lookups that missed, counted at the last tier asked.', otel: 'cache.misses', unit: '{lookup}' },
  cache_evictions_total: { type: 'counter', help: 'Entries the memory tier removed to make room.', otel: 'cache.evictions', unit: '{entry}' },
  cache_errors_total: { type: 'counter', help: 'Errors by origin: tier l1 or l2, factory (getOrSet factories), source (monitor()-wrapped functions).', otel: 'cache.errors', unit: '{error}' },
  cache_expirations_total: { type: 'counter', help: 'Entries the memory tier dropped at their TTL.', otel: 'cache.expirations', unit: '{entry}' },
  cache_sets_total: { type: 'counter', help: 'Entries written.', otel: 'cache.sets', unit: '{entry}' },
  cache_deletes_total: { type: 'counter', help: 'Entries removed by delete, patterns, tags and clear.', otel: 'cache.deletes', unit: '{entry}' },
  cache_entries: { type: 'gauge', help: 'Live entries in the memory tier.', otel: 'cache.entries', unit: '{entry}' },
  cache_bytes: { type: 'gauge', help: 'Bytes accounted in the memory tier (memory stores with maxBytes).', otel: 'cache.bytes', unit: 'By' },
  cache_l2_available: { type: 'gauge', help: 'Whether the Redis tier takes calls (1) or not (0).', otel: 'cache.l2.available', unit: '1' },
  cache_latency_seconds: { type: 'histogram', help: 'Latency of cache calls by the tier that answered them (sampled), and of monitor()-wrapped functions (tier source).', otel: 'cache.latency', unit: 's' },
} as const;

export type MetricName = keyof typeof METRICS;
export type CounterMetric = { [K in MetricName]: (typeof METRICS)[K]['type'] extends 'counter' ? K : never }[MetricName];
export type GaugeMetric = { [K in MetricName]: (typeof METRICS)[K]['type'] extends 'gauge' ? K : never }[MetricName];
export type HistogramMetric = { [K in MetricName]: (typeof METRICS)[K]['type'] extends 'histogram' ? K : never }[MetricName];

/**
 * The `tier` label: `l1` (memory) and `l2` (Redis) for cache figures; `factory` for errors of
 * `getOrSet` factories; `source` for functions wrapped by `monitor()`.
 */
export type MetricTier = 'l1' | 'l2' | 'factory' | 'source';

/** Labels of a series. Never a key: the cardinality stays that of caches × tiers. */
export interface MetricLabels {
  /** The cache's `name` (or the monitor's). */
  readonly cache: string;
  /** Absent on figures of the whole cache (`cache_sets_total`, `cache_l2_available`). */
  readonly tier?: MetricTier;
}
