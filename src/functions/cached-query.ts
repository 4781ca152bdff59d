import type { Cache } from '../cache/cache.js';
import { cache as defaultCache } from '../cache/default-cache.js';
import type { FactoryTimeouts } from '../cache/types.js';
import type { Duration } from '../config/duration.js';
import { ConfigError } from '../errors/config-error.js';
import { describeValue } from '../util/describe.js';
import { stableHash } from './stable-hash.js';

/** Filters of a list query: field names to values. `undefined`, `null` and `''` mean "no filter". */
export type QueryFilters = Readonly<Record<string, unknown>>;

/** One page of a list query, as the caller asks for it. */
export interface QueryRequest<F extends QueryFilters = QueryFilters> {
  /** The filters; absent, `undefined`, `null` or `''` values are dropped before keying. @default {} */
  filters?: F | undefined;
  /** 1-based page number. @default 1 */
  page?: number | undefined;
  /** Items per page, from 1 to `maxSize`. @default the query's `size` */
  size?: number | undefined;
}

/** What the loader receives: the normalised request, with the offset and limit of a SQL page. */
export interface QueryPage<F extends QueryFilters = QueryFilters> {
  /** The filters without empty values, keys sorted. */
  readonly filters: Partial<F>;
  readonly page: number;
  readonly size: number;
  /** `(page - 1) * size`: the `OFFSET` of the page. */
  readonly offset: number;
  /** `size`: the `LIMIT` of the page. */
  readonly limit: number;
}

export interface CachedQueryOptions<F extends QueryFilters> {
  /** The cache to use. @default the default `cache` */
  cache?: Cache | undefined;
  /**
   * Names the list in keys and in its tag: keys are `<name>:list:<hash of the filters>:p<page>:s<size>`,
   * and every page carries the tag `<name>:list`, so `invalidate()` drops them all at once.
   * @example 'products'
   */
  name: string;
  /** Time to live of a page. @default the cache's `defaultTtl` */
  ttl?: Duration | undefined;
  /** How long past `ttl` a page stays as a fallback when the loader fails. @default none */
  grace?: Duration | undefined;
  /** Soft and hard timeouts of the loader, as in `getOrSet`. @default none */
  timeout?: FactoryTimeouts | undefined;
  /** More tags of a page (for example the tenant's), besides `<name>:list`. */
  tags?: ((page: QueryPage<F>) => readonly string[]) | undefined;
  /** Page size when the request gives none. @default 20 */
  size?: number | undefined;
  /** Largest page size a request may ask for (a bound on what one cache entry holds). @default 100 */
  maxSize?: number | undefined;
}

/** A cached list query: call it with a request, get the loader's page, from the cache when it can. */
export interface CachedQuery<F extends QueryFilters, R> {
  (request?: QueryRequest<F>): Promise<R>;
  /** Drops every cached page of this list, whatever the filters (one tag invalidation). */
  invalidate(): Promise<number>;
  /** The cache key of a request (after normalisation). */
  keyFor(request?: QueryRequest<F>): string;
  /** The request as the loader would see it: filters without empty values, page, size, offset, limit. */
  normalise(request?: QueryRequest<F>): QueryPage<F>;
}

/**
 * Caches a paginated, filtered list query (the `paginate_query` / `get_with_cache` helpers of many
 * services) under stable keys: filters are normalised (empty values dropped, key order ignored)
 * and hashed, page and size are part of the key, and every page carries the list's tag, so one
 * write invalidates every page of every filter with `invalidate()`. Concurrent requests for the
 * same page run the loader once. A bad page or size is a `RangeError`, before anything runs.
 * @example
 * const listProducts = cachedQuery(
 *   ({ filters, limit, offset }) => db.products.list(filters, limit, offset),
 *   { name: 'products', ttl: '1m', tags: ({ filters }) => [`category:${String(filters.category)}`] },
 * );
 * await listProducts({ filters: { category: 'books', q: '' }, page: 2 }); // q: '' is no filter
 * await listProducts.invalidate(); // after a product changed
 */
export function cachedQuery<F extends QueryFilters, R>(loader: (page: QueryPage<F>) => R | Promise<R>, options: CachedQueryOptions<F>): CachedQuery<F, R> {
  if (typeof loader !== 'function') throw new TypeError('cachedQuery: expected a loader function');
  if (typeof options !== 'object' || options === null) throw new ConfigError('options', 'cachedQuery expects { name, ... }');
  const { name } = options;
  if (typeof name !== 'string' || name.length === 0) throw new ConfigError('name', 'expected a non-empty string naming the list');
  const defaultSize = options.size ?? 20;
  const maxSize = options.maxSize ?? 100;
  if (!Number.isInteger(maxSize) || maxSize < 1) throw new ConfigError('maxSize', `expected a whole number >= 1, got ${describeValue(maxSize)}`);
  if (!Number.isInteger(defaultSize) || defaultSize < 1 || defaultSize > maxSize) {
    throw new ConfigError('size', `expected a whole number from 1 to maxSize (${maxSize}), got ${describeValue(defaultSize)}`);
  }
  if (options.tags !== undefined && typeof options.tags !== 'function') throw new ConfigError('tags', 'expected a function of the page returning tags');
  const listTag = `${name}:list`;
  const target = (): Cache => options.cache ?? defaultCache;

  const normalise = (request: QueryRequest<F> = {}): QueryPage<F> => {
    if (typeof request !== 'object' || request === null) throw new TypeError(`${name}: expected a request { filters?, page?, size? }`);
    const page = request.page ?? 1;
    const size = request.size ?? defaultSize;
    if (!Number.isInteger(page) || page < 1) throw new RangeError(`${name}: page must be a whole number >= 1, got ${describeValue(page)}`);
    if (!Number.isInteger(size) || size < 1 || size > maxSize) {
      throw new RangeError(`${name}: size must be a whole number from 1 to ${maxSize}, got ${describeValue(size)}`);
    }
    const given: QueryFilters = request.filters ?? {};
    if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new TypeError(`${name}: filters must be an object`);
    const filters: Record<string, unknown> = {};
    for (const field of Object.keys(given).sort()) {
      const value = given[field];
      if (value === undefined || value === null || value === '') continue;
      filters[field] = value;
    }
    return { filters: filters as Partial<F>, page, size, offset: (page - 1) * size, limit: size };
  };

  const keyOf = (query: QueryPage<F>): string => `${listTag}:${stableHash([query.filters])}:p${query.page}:s${query.size}`;

  const run = async (request?: QueryRequest<F>): Promise<R> => {
    const query = normalise(request);
    const extra = options.tags?.(query) ?? [];
    return target().getOrSet<R>(keyOf(query), () => loader(query), {
      ttl: options.ttl,
      grace: options.grace,
      timeout: options.timeout,
      tags: [listTag, ...extra],
    });
  };
  return Object.assign(run, {
    invalidate: () => target().invalidateTags([listTag]),
    keyFor: (request?: QueryRequest<F>) => keyOf(normalise(request)),
    normalise,
  });
}
