/**
 * `hoard/metrics`: Prometheus (prom-client) and OpenTelemetry exports of every cache's figures,
 * read at scrape time from the caches' own counters, and `monitor()` for the functions behind
 * them. prom-client and @opentelemetry/api are optional peers: this module never imports them.
 */
export { prometheusMetrics, PROMETHEUS_DEFAULTS, type PrometheusMetrics, type PrometheusMetricsOptions } from './prometheus.js';
export { openTelemetryMetrics, type OpenTelemetryMetrics, type OpenTelemetryMetricsOptions } from './opentelemetry.js';
export { collectMetrics, type MetricsSink, type MetricsSource, type MetricsSources } from './sink.js';
export {
  monitor,
  Monitor,
  MONITOR_DEFAULTS,
  type MonitorErrorEvent,
  type MonitorEvents,
  type MonitorMetrics,
  type MonitorOptions,
  type MonitoredFunction,
  type MonitorSlowEvent,
} from './monitor.js';
export { METRICS, type CounterMetric, type GaugeMetric, type HistogramMetric, type MetricLabels, type MetricName, type MetricTier } from './names.js';
export { LATENCY_BUCKETS_MS, type LatencyHistogram } from '../cache/latency.js';
export type { CacheMetrics, TierMetrics } from '../cache/types.js';
