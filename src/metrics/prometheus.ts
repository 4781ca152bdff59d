import type { Metric, Registry as PromRegistry, RegistryContentType } from 'prom-client';

/** A prom-client registry of either content type. */
type Registry = PromRegistry<RegistryContentType>;
import { LATENCY_BUCKETS_MS } from '../cache/latency.js';
import type { LatencyHistogram } from '../cache/latency.js';
import { ConfigError } from '../errors/config-error.js';
import { METRICS } from './names.js';
import type { MetricLabels, MetricName } from './names.js';
import { collectMetrics, SourceSet } from './sink.js';
import type { MetricsSink, MetricsSources } from './sink.js';

/** Options of {@link prometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /**
   * The prom-client (15+) registry to register hoard's metrics in: `new Registry()`, or
   * prom-client's default `register`. Either content type works (Prometheus text or OpenMetrics).
   * @example import { Registry } from 'prom-client'; const registry = new Registry();
   */
  registry: Registry;
  /**
   * Prepended to every metric name, e.g. `'shop_'` gives `shop_cache_hits_total`. Letters,
   * digits, `_` and `:`; not starting with a digit.
   * @default ''
   */
  prefix?: string | undefined;
  /**
   * Also export the monitors created without a `cache` option (monitors attached to an exported
   * cache are always exported with it).
   * @default true
   */
  monitors?: boolean | undefined;
}

/** The hoard metrics registered in one registry: add or remove caches later, or unregister them. */
export interface PrometheusMetrics {
  /** Exports more caches or monitors (a `ConfigError` if a cache's name is already exported). */
  add(sources: MetricsSources): void;
  /** Stops exporting caches or monitors. */
  remove(sources: MetricsSources): void;
  /** Removes hoard's metrics from the registry. */
  unregister(): void;
}

/** Defaults of {@link PrometheusMetricsOptions}. */
export const PROMETHEUS_DEFAULTS = { prefix: '', monitors: true } as const;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const OPENMETRICS = 'application/openmetrics-text';

/**
 * One sample as prom-client formats it. The series' `cache` and `tier` are `sharedLabels`, one
 * object per series kept across scrapes: prom-client formats such an object once and caches the
 * text, which keeps a scrape of hundreds of series well under a millisecond of formatting.
 */
interface Sample {
  value: number;
  labels: Readonly<Record<string, string | number>>;
  sharedLabels: Readonly<Record<string, string>>;
  metricName?: string;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});
/** `{ le }` of each bucket, shared by every histogram. */
const LE_LABELS = [...LATENCY_BUCKETS_MS.map((ms) => Object.freeze({ le: ms / 1000 })), Object.freeze({ le: '+Inf' })];

/** Bindings per registry and prefix: calling prometheusMetrics() again adds to the same families. */
const bindings = new WeakMap<Registry, Map<string, Binding>>();

/**
 * Registers hoard's metrics in a prom-client registry: `cache_hits_total`, `cache_misses_total`,
 * `cache_evictions_total`, `cache_errors_total`, `cache_latency_seconds` (histogram, buckets
 * from 10 µs), with labels `cache` and `tier`, plus `cache_expirations_total`,
 * `cache_sets_total`, `cache_deletes_total`, `cache_entries`, `cache_bytes` and
 * `cache_l2_available`. The figures are read from the caches' own counters when the registry is
 * scraped: nothing is called per cache operation, and a key is never a label.
 *
 * prom-client is an optional peer dependency that hoard never imports: the registry you pass is
 * all it uses. Calling it again with the same registry adds caches to the same metrics.
 * @example
 * import { Registry } from 'prom-client';
 * import { prometheusMetrics } from 'hoard/metrics';
 * const registry = new Registry();
 * prometheusMetrics([sessions, catalog], { registry });
 * app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 */
export function prometheusMetrics(sources: MetricsSources, options: PrometheusMetricsOptions): PrometheusMetrics {
  if (typeof options !== 'object' || options === null) throw new ConfigError('registry', 'prometheusMetrics(cache, { registry }) needs a prom-client Registry');
  const { registry, prefix = PROMETHEUS_DEFAULTS.prefix, monitors = PROMETHEUS_DEFAULTS.monitors } = options;
  if (typeof registry !== 'object' || registry === null || typeof registry.registerMetric !== 'function' || typeof registry.metrics !== 'function') {
    throw new ConfigError('registry', 'expected a prom-client Registry (new Registry() or the default register)');
  }
  if (typeof prefix !== 'string' || (prefix !== '' && !NAME.test(prefix))) {
    throw new ConfigError('prefix', `expected letters, digits, "_" or ":" not starting with a digit, got ${JSON.stringify(prefix)}`);
  }
  if (typeof monitors !== 'boolean') throw new ConfigError('monitors', 'expected true or false');
  let byPrefix = bindings.get(registry);
  if (byPrefix === undefined) bindings.set(registry, (byPrefix = new Map<string, Binding>()));
  let binding = byPrefix.get(prefix);
  if (binding === undefined || binding.unregistered) {
    binding = new Binding(registry, prefix, monitors, () => byPrefix.delete(prefix));
    byPrefix.set(prefix, binding);
  }
  binding.add(sources);
  return binding;
}

/** The families of one registry and prefix, reading their sources once per scrape. */
class Binding implements PrometheusMetrics {
  readonly #registry: Registry;
  readonly #sources: SourceSet;
  readonly #families: Family[] = [];
  readonly #forget: () => void;
  #reading: Map<MetricName, Sample[]> | undefined;
  /** Label objects per series, kept across scrapes (see {@link Sample}). */
  readonly #labels = new Map<string, Readonly<Record<string, string>>>();
  unregistered = false;

  constructor(registry: Registry, prefix: string, monitors: boolean, forget: () => void) {
    this.#registry = registry;
    this.#sources = new SourceSet(monitors);
    this.#forget = forget;
    const names = Object.keys(METRICS) as MetricName[];
    for (const name of names) {
      if (registry.getSingleMetric(prefix + name) !== undefined) {
        throw new ConfigError('registry', `the registry already has a metric named ${prefix + name}; pass a prefix, or unregister the other one`);
      }
    }
    for (const name of names) {
      const family = new Family(this, name, prefix + name);
      registry.registerMetric(family as unknown as Metric);
      this.#families.push(family);
    }
  }

  add(sources: MetricsSources): void {
    this.#sources.add(sources);
  }

  remove(sources: MetricsSources): void {
    this.#sources.remove(sources);
  }

  unregister(): void {
    if (this.unregistered) return;
    this.unregistered = true;
    for (const family of this.#families) {
      if (this.#registry.getSingleMetric(family.registeredName) === (family as unknown as Metric)) this.#registry.removeSingleMetric(family.registeredName);
    }
    this.#forget();
  }

  get openMetrics(): boolean {
    return this.#registry.contentType.startsWith(OPENMETRICS);
  }

  /**
   * The samples of `name` in this scrape. prom-client asks every family in the same tick, so
   * the sources are read once per scrape: the first family reads them all, and the reading is
   * dropped at the next microtask.
   */
  samples(name: MetricName, familyName: string): Sample[] {
    let reading = this.#reading;
    if (reading === undefined) {
      reading = this.#read(familyName.slice(0, familyName.length - name.length));
      this.#reading = reading;
      queueMicrotask(() => {
        this.#reading = undefined;
      });
    }
    return reading.get(name) ?? [];
  }

  #read(prefix: string): Map<MetricName, Sample[]> {
    const out = new Map<MetricName, Sample[]>();
    const list = (name: MetricName): Sample[] => {
      let samples = out.get(name);
      if (samples === undefined) out.set(name, (samples = []));
      return samples;
    };
    const sink: MetricsSink = {
      counter: (name, labels, value) => void list(name).push({ value, labels: NO_LABELS, sharedLabels: this.#shared(labels) }),
      gauge: (name, labels, value) => void list(name).push({ value, labels: NO_LABELS, sharedLabels: this.#shared(labels) }),
      histogram: (name, labels, h) => pushHistogram(list(name), prefix + name, this.#shared(labels), h),
    };
    collectMetrics(this.#sources.current(), sink);
    return out;
  }

  #shared(labels: MetricLabels): Readonly<Record<string, string>> {
    const id = `${labels.cache}\u0000${labels.tier ?? ''}`;
    let shared = this.#labels.get(id);
    if (shared === undefined) {
      shared = Object.freeze(labels.tier === undefined ? { cache: labels.cache } : { cache: labels.cache, tier: labels.tier });
      if (this.#labels.size > 10_000) this.#labels.clear(); // caches come and go: never grow without bound
      this.#labels.set(id, shared);
    }
    return shared;
  }
}

function pushHistogram(samples: Sample[], name: string, shared: Readonly<Record<string, string>>, h: LatencyHistogram): void {
  const bucket = `${name}_bucket`;
  for (let i = 0; i < h.counts.length; i++) samples.push({ metricName: bucket, labels: LE_LABELS[i]!, sharedLabels: shared, value: h.counts[i]! });
  samples.push({ metricName: `${name}_sum`, labels: NO_LABELS, sharedLabels: shared, value: h.sum });
  samples.push({ metricName: `${name}_count`, labels: NO_LABELS, sharedLabels: shared, value: h.count });
}

/**
 * One metric family, registered as prom-client registers its own (it calls `get()` at scrape
 * time). Counter names: prom-client appends `_total` to counter samples in OpenMetrics and
 * rewrites the family's `name` then; `get()` answers the family name each format wants, so both
 * formats read `cache_hits_total` samples and never `_total_total`.
 */
class Family {
  readonly #binding: Binding;
  readonly #metric: MetricName;
  /** The name registered under (prom-client may overwrite `name` for OpenMetrics). */
  readonly registeredName: string;
  name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames = ['cache', 'tier'];

  constructor(binding: Binding, metric: MetricName, fullName: string) {
    this.#binding = binding;
    this.#metric = metric;
    this.registeredName = fullName;
    this.name = fullName;
    this.help = METRICS[metric].help;
    this.type = METRICS[metric].type;
  }

  /** What the text formats read (`registry.metrics()`): samples with shared label objects. */
  getForPromString(): { name: string; help: string; type: string; values: Sample[]; aggregator: string } {
    const openMetrics = this.#binding.openMetrics;
    const name = this.type === 'counter' && openMetrics ? this.registeredName.replace(/_total$/, '') : this.registeredName;
    return { name, help: this.help, type: this.type, values: this.#binding.samples(this.#metric, this.registeredName), aggregator: this.aggregator };
  }

  /** What `registry.getMetricsAsJSON()` and cluster aggregation read: every label in `labels`. */
  get(): { name: string; help: string; type: string; values: { value: number; labels: Record<string, string | number>; metricName?: string }[]; aggregator: string } {
    const metric = this.getForPromString();
    const values = metric.values.map(({ value, labels, sharedLabels, metricName }) => ({ value, labels: { ...sharedLabels, ...labels }, ...(metricName === undefined ? {} : { metricName }) }));
    return { ...metric, values };
  }

  /** prom-client's `resetMetrics()`: the figures belong to the caches, which keep counting. */
  reset(): void {}
}
