import { parseDuration } from '../../config/duration.js';
import { OperationError, UsageError } from '../errors.js';
import { DEFAULT_TIMEOUT } from '../target.js';
import type { AdminStats, InvalidateRequest, InvalidateResult, KeyPage, KeyReport, StatsReport, Target, TargetOptions } from '../target.js';

/** Keys or tags the admin routes take in one invalidation. */
const MAX_ITEMS = 1_000;

/**
 * A running service's admin routes (`adminRoutes()` and its Fastify and Hono forms), over HTTP
 * with the bearer token. Sees what only the service knows: memory-only caches and per-instance
 * memory-tier figures.
 */
export class AdminTarget implements Target {
  readonly kind = 'admin' as const;
  readonly label: string;
  readonly #base: string;
  readonly #token: string;
  readonly #timeout: number;
  readonly #cache: string | undefined;

  private constructor(base: string, token: string, timeout: number, cache: string | undefined) {
    this.#base = base;
    this.#token = token;
    this.#timeout = timeout;
    this.#cache = cache;
    this.label = `${base}${cache === undefined ? '' : ` cache ${JSON.stringify(cache)}`}`;
  }

  static open(options: TargetOptions, env: NodeJS.ProcessEnv): AdminTarget {
    let url: URL;
    try {
      url = new URL(options.admin ?? '');
    } catch (cause) {
      throw new UsageError(`--admin: expected the URL the admin routes are mounted at, such as http://localhost:3000/admin/cache, got ${JSON.stringify(options.admin)}`, { cause });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--admin: expected an http:// or https:// URL, got the scheme ${url.protocol}`);
    if (url.search !== '' || url.hash !== '') throw new UsageError('--admin: give the URL without a query string (the token goes in --token or HOARD_ADMIN_TOKEN, never in a URL)');
    const token = options.token ?? (env.HOARD_ADMIN_TOKEN === '' ? undefined : env.HOARD_ADMIN_TOKEN);
    if (token === undefined) throw new UsageError('--admin needs the bearer token', { hint: 'pass --token TOKEN or set HOARD_ADMIN_TOKEN' });
    const timeout = parseDuration(options.timeout ?? DEFAULT_TIMEOUT, '--timeout');
    return new AdminTarget(url.toString().replace(/\/+$/, ''), token, timeout, options.cache);
  }

  async stats(): Promise<StatsReport> {
    return { target: this.label, cache: (await this.#request('GET', '/stats')) as AdminStats };
  }

  async inspect(key: string): Promise<KeyReport | undefined> {
    const report = (await this.#request('GET', `/keys/${encodeURIComponent(key)}`, { value: '1' }, undefined, true)) as KeyReport | undefined;
    if (report !== undefined && !Array.isArray(report.tags)) {
      // The routes' JSON may print an array it already printed (the tier's tags) as a marker
      // instead: take the tags from the tier that holds the key.
      const l2 = report.tiers.l2;
      const main = l2 !== undefined && !('error' in l2) ? l2 : report.tiers.l1;
      report.tags = Array.isArray(main?.tags) ? main.tags : [];
    }
    return report;
  }

  async ttl(key: string): Promise<number | undefined> {
    const report = (await this.#request('GET', `/keys/${encodeURIComponent(key)}`, {}, undefined, true)) as KeyReport | undefined;
    if (report === undefined) return undefined;
    const l2 = report.tiers.l2;
    const main = l2 !== undefined && !('error' in l2) ? l2 : report.tiers.l1;
    if (main === undefined || main.stale) return undefined;
    return main.ttl === null ? Infinity : main.ttl;
  }

  async scan(glob: string, cursor: string, count: number): Promise<{ keys: string[]; cursor: string }> {
    const page = (await this.#request('GET', '/keys', { pattern: glob, cursor, count: String(Math.min(count, 1000)) })) as KeyPage;
    return { keys: page.keys, cursor: page.done ? '0' : page.cursor };
  }

  async delete(keys: readonly string[]): Promise<number> {
    return (await this.invalidate({ keys })).removed;
  }

  async invalidate(request: InvalidateRequest): Promise<InvalidateResult> {
    const keys = [...new Set(request.keys ?? [])];
    const tags = [...new Set(request.tags ?? [])];
    const dryRun = request.dryRun === true;
    const bodies: Record<string, unknown>[] = [];
    // The routes take at most 1,000 keys or tags a request: larger lists go in parts.
    for (let i = 0; i < Math.max(keys.length, tags.length, 1); i += MAX_ITEMS) {
      const body: Record<string, unknown> = {};
      if (keys.length > i) body.keys = keys.slice(i, i + MAX_ITEMS);
      if (tags.length > i) body.tags = tags.slice(i, i + MAX_ITEMS);
      if (i === 0 && request.pattern !== undefined) body.pattern = request.pattern;
      if (dryRun) body.dryRun = true;
      bodies.push(body);
    }
    let removed = 0;
    for (const body of bodies) removed += ((await this.#request('POST', '/invalidate', {}, body)) as { removed: number }).removed;
    return { removed, tagsCounted: tags.length === 0, dryRun };
  }

  async clear(): Promise<void> {
    await this.#request('POST', '/clear', {}, {});
  }

  async clearPreview(): Promise<string> {
    const stats = (await this.#request('GET', '/stats')) as AdminStats;
    const memory = `${stats.size.toLocaleString('en-US')} ${stats.size === 1 ? 'entry' : 'entries'} in its memory tier`;
    return `the cache ${JSON.stringify(stats.name)} of the service at ${this.#base}: ${memory}${stats.redis === undefined ? '' : ', and every key under its prefix in Redis'}, in every instance the bus reaches`;
  }

  async close(): Promise<void> {}

  /**
   * One request to the admin routes. `absentOk`: a 404 answers undefined (a key no tier holds).
   * 401, 429, 5xx and network failures are operation errors; 400 means the request was wrong.
   */
  async #request(method: 'GET' | 'POST', path: string, query: Record<string, string> = {}, body?: unknown, absentOk = false): Promise<unknown> {
    const params = new URLSearchParams(query);
    if (this.#cache !== undefined) params.set('cache', this.#cache);
    const search = params.size === 0 ? '' : `?${params.toString()}`;
    const url = `${this.#base}${path}${search}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeout),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${this.#timeout / 1000} s` : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new OperationError(`cannot reach the admin routes at ${this.#base}: ${reason}`, { hint: 'check the --admin URL and that the service is running', cause: error });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const message = (parsed as { error?: unknown } | undefined)?.error;
    const said = typeof message === 'string' ? message : `HTTP ${response.status}`;
    if (response.ok) return parsed;
    if (response.status === 404 && absentOk && typeof message === 'string' && (parsed as { tiers?: unknown }).tiers !== undefined) return undefined;
    switch (response.status) {
      case 401:
        throw new OperationError(`the admin routes at ${this.#base} refused the token (401)`, { hint: 'check --token or HOARD_ADMIN_TOKEN' });
      case 429:
        throw new OperationError(`the admin routes at ${this.#base} are rate-limiting this client: ${said}`, { hint: `retry after ${response.headers.get('retry-after') ?? 'a while'} s` });
      case 400:
      case 413:
        throw new UsageError(`the admin routes refused the request: ${said}`);
      case 404:
        throw new OperationError(`no admin route at ${url.split('?')[0]!} (404: ${said})`, { hint: 'give --admin the URL the routes are mounted at, such as http://host:port/admin/cache' });
      default:
        throw new OperationError(`the admin routes at ${this.#base} failed: ${said}`);
    }
  }
}
