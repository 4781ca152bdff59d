/**
 * The catalog service: a small multi-tenant product API over a deliberately slow database, with
 * hoard doing its whole job in front of it. Built only on hoard's public API:
 *
 * - product by id: `getOrSet` with grace (fail-safe) and soft/hard timeouts, in a namespace per tenant;
 * - batch loading (the N+1 helper): `getOrSetMany`, one query for every missing id;
 * - paginated, filtered lists: `cachedQuery` (stable keys, one tag per list);
 * - search: `cached()`; categories: the `@Cached` decorator;
 * - writes: the database, then a domain event through `EventInvalidator` (keys, list tags, pages);
 * - public GET routes: the response cache (`cachePublic`), tagged per tenant;
 * - every query wrapped by `monitor()`; `/metrics` for Prometheus; the admin routes and dashboard.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { Registry } from 'prom-client';
import { Cached, cached, cachedQuery, createCache, EventInvalidator } from '../../src/index.js';
import type { Cache, CachedFunction, CachedQuery } from '../../src/index.js';
import { cachePublic } from '../../src/http/index.js';
import { adminRoutes } from '../../src/admin/index.js';
import { monitor, prometheusMetrics } from '../../src/metrics/index.js';
import type { Catalog, Product, ProductFilters, ProductPage, ProductUpdate } from './data.js';
import { MemoryCatalog, PostgresCatalog, TENANTS } from './data.js';

export interface ServiceOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Bearer token of the admin routes and the dashboard. */
  adminToken: string;
  /** PostgreSQL; unset: the in-process dataset. */
  databaseUrl?: string | undefined;
  /** Schema of the service's tables in PostgreSQL. @default 'catalog' */
  schema?: string | undefined;
  /** Added to every database query, so the cache's effect shows. @default 25 */
  dbDelayMs?: number | undefined;
  /** The environment the cache is configured from (`CACHE_*`, `REDIS_*`). */
  env: NodeJS.ProcessEnv;
  /** Response caching of the public GET routes. @default true */
  responseCache?: boolean | undefined;
}

export interface RunningService {
  readonly url: string;
  readonly cache: Cache;
  readonly catalog: Catalog;
  readonly server: Server;
  /** Backend the cache runs on: `memory`, or `tiered` with Redis. */
  readonly backend: string;
  /** Stops taking connections, lets requests in flight finish, closes the cache and the database. */
  close(): Promise<void>;
}

type Tenant = (typeof TENANTS)[number];

/** A tenant's view of the cache and its cached reads. */
interface TenantReads {
  cache: Cache;
  list: CachedQuery<ProductFilters, ProductPage>;
  search: CachedFunction<[string], Product[]>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const delay = options.dbDelayMs ?? 25;
  const catalog: Catalog =
    options.databaseUrl === undefined ? new MemoryCatalog(delay) : await PostgresCatalog.open(options.databaseUrl, delay, options.schema);

  // Memory by default; two tiers with the bus when Redis is configured.
  const env = { ...options.env };
  if ((env.REDIS_URL ?? env.CACHE_REDIS_URL ?? '') !== '' && (env.CACHE_BACKEND ?? env.CACHE_TYPE ?? '') === '') env.CACHE_BACKEND = 'tiered';
  const backend = env.CACHE_BACKEND ?? env.CACHE_TYPE ?? 'memory';
  const cache = createCache({ name: 'catalog', defaultTtl: '5m' }, env);
  cache.on('error', ({ error, operation }) => {
    if (operation !== 'connection') process.stderr.write(`cache error in ${operation}: ${error.message}\n`);
  });

  // Every query is timed and counted in the same metrics as the cache.
  const db = {
    product: monitor((tenant: string, id: number) => catalog.product(tenant, id), { name: 'db.product', slowMs: 250, cache }),
    products: monitor((tenant: string, ids: readonly number[]) => catalog.products(tenant, ids), { name: 'db.products', slowMs: 250, cache }),
    list: monitor((tenant: string, f: ProductFilters, limit: number, offset: number) => catalog.list(tenant, f, limit, offset), { name: 'db.list', slowMs: 250, cache }),
    search: monitor((tenant: string, text: string) => catalog.search(tenant, text, 50), { name: 'db.search', slowMs: 250, cache }),
    update: monitor((tenant: string, id: number, change: ProductUpdate) => catalog.update(tenant, id, change), { name: 'db.update', slowMs: 250, cache }),
    remove: monitor((tenant: string, id: number) => catalog.remove(tenant, id), { name: 'db.remove', slowMs: 250, cache }),
  };

  const tenants = new Map<Tenant, TenantReads>();
  for (const tenant of TENANTS) {
    const scoped = cache.namespace(tenant);
    tenants.set(tenant, {
      cache: scoped,
      list: cachedQuery<ProductFilters, ProductPage>(({ filters, limit, offset }) => db.list(tenant, filters, limit, offset), {
        cache: scoped,
        name: 'products',
        ttl: '2m',
        grace: '30m',
        maxSize: 100,
      }),
      search: cached((text: string) => db.search(tenant, text), { cache: scoped, ttl: '1m', key: (text) => `search:${text.toLowerCase()}`, tags: () => ['search'] }),
    });
  }

  class Categories {
    @Cached({ cache, ttl: '10m', key: (tenant: string) => `${tenant}:categories`, tags: (tenant: string) => [`${tenant}:products:list`] })
    async of(tenant: string): Promise<{ category: string; products: number }[]> {
      const page = await db.list(tenant, {}, 100_000, 0);
      const counts = new Map<string, number>();
      for (const p of page.items) counts.set(p.category, (counts.get(p.category) ?? 0) + 1);
      return [...counts].map(([category, products]) => ({ category, products })).sort((a, b) => a.category.localeCompare(b.category));
    }
  }
  const categories = new Categories();

  // A write is a domain event; the invalidator says what it makes stale, in every instance.
  type ProductEvent = { type: 'product.updated' | 'product.deleted'; tenant: string; id: number };
  const stale = (e: ProductEvent) => ({
    keys: [`${e.tenant}:product:${e.id}`],
    tags: [`${e.tenant}:products:list`, `${e.tenant}:search`, `${e.tenant}:pages`],
  });
  const invalidator = new EventInvalidator<ProductEvent>(cache).on('product.updated', stale).on('product.deleted', stale);

  const registry = new Registry();
  prometheusMetrics(cache, { registry });

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb' }));

  const tenantOf = (req: Request): { name: Tenant; reads: TenantReads } => {
    const name = req.params.tenant as Tenant;
    const reads = tenants.get(name);
    if (reads === undefined) throw new HttpError(404, `no tenant ${String(req.params.tenant)}`);
    return { name, reads };
  };
  const idOf = (text: unknown): number => {
    const id = Number(text);
    if (!Number.isInteger(id) || id < 1) throw new HttpError(400, 'the id must be a whole number >= 1');
    return id;
  };
  const numberOf = (text: unknown, name: string): number | undefined => {
    if (text === undefined || text === '') return undefined;
    const n = Number(text);
    if (!Number.isFinite(n)) throw new HttpError(400, `${name} must be a number`);
    return n;
  };
  const wrap =
    (handler: (req: Request, res: Response) => Promise<void>) =>
    (req: Request, res: Response, next: NextFunction): void => {
      handler(req, res).catch(next);
    };

  // Public, read-only pages: cached whole (30 s, as browsers and CDNs are told too), tagged per
  // tenant, so a write purges that tenant's pages at once.
  const pages =
    options.responseCache === false
      ? (_req: Request, _res: Response, next: NextFunction): void => next()
      : cachePublic<Request, Response>('30s', { cache, tags: (req) => [`${String(req.params.tenant)}:pages`] });

  app.get('/', (_req, res) => {
    res.json({
      service: 'catalog',
      tenants: TENANTS,
      routes: ['GET /api/:tenant/products', 'GET /api/:tenant/products/:id', 'POST /api/:tenant/products/batch', 'GET /api/:tenant/search?q=', 'GET /api/:tenant/categories', 'PATCH /api/:tenant/products/:id', 'DELETE /api/:tenant/products/:id', 'GET /metrics', 'GET /admin/cache/dashboard'],
    });
  });

  app.get('/api/:tenant/products', pages, wrap(async (req, res) => {
    const { reads } = tenantOf(req);
    const sort = req.query.sort;
    if (sort !== undefined && sort !== 'name' && sort !== 'price' && sort !== 'updated') throw new HttpError(400, 'sort is name, price or updated');
    const filters: ProductFilters = {
      category: typeof req.query.category === 'string' ? req.query.category : undefined,
      minPrice: numberOf(req.query.minPrice, 'minPrice'),
      maxPrice: numberOf(req.query.maxPrice, 'maxPrice'),
      sort,
    };
    try {
      const request = { filters, page: numberOf(req.query.page, 'page'), size: numberOf(req.query.size, 'size') };
      const page = await reads.list(request);
      const { page: n, size } = reads.list.normalise(request);
      res.json({ page: n, size, total: page.total, items: page.items });
    } catch (error) {
      if (error instanceof RangeError) throw new HttpError(400, error.message);
      throw error;
    }
  }));

  app.get('/api/:tenant/products/:id', pages, wrap(async (req, res) => {
    const { name, reads } = tenantOf(req);
    const id = idOf(req.params.id);
    const product = await reads.cache.getOrSet(`product:${id}`, async (ctx) => {
      const found = await db.product(name, id);
      if (found === undefined) ctx.setOptions({ ttl: '30s' }); // remember a miss, briefly
      return found ?? null;
    }, { ttl: '5m', grace: '1h', timeout: { soft: '100ms', hard: '2s' }, tags: [`product:${id}`] });
    if (product === null) throw new HttpError(404, `no product ${id}`);
    res.json(product);
  }));

  app.post('/api/:tenant/products/batch', wrap(async (req, res) => {
    const { name, reads } = tenantOf(req);
    const body = req.body as { ids?: unknown } | undefined;
    if (!Array.isArray(body?.ids) || body.ids.length === 0 || body.ids.length > 100) throw new HttpError(400, 'expected { ids: [1..100 ids] }');
    const ids = body.ids.map(idOf);
    const found = await reads.cache.getOrSetMany(ids.map((id) => `product:${id}`), async (missing) => {
      const rows = await db.products(name, missing.map((k) => Number(k.slice('product:'.length))));
      return new Map(rows.map((p) => [`product:${p.id}`, p] as const));
    }, { ttl: '5m', grace: '1h' });
    res.json({ items: found.filter((p): p is Product => p !== undefined && p !== null) });
  }));

  app.get('/api/:tenant/search', pages, wrap(async (req, res) => {
    const { reads } = tenantOf(req);
    const q = typeof req.query.q === 'string' ? req.query.q.trim() : '';
    if (q.length < 2 || q.length > 100) throw new HttpError(400, 'q must have 2 to 100 characters');
    res.json({ q, items: await reads.search(q) });
  }));

  app.get('/api/:tenant/categories', pages, wrap(async (req, res) => {
    const { name } = tenantOf(req);
    res.json({ items: await categories.of(name) });
  }));

  app.patch('/api/:tenant/products/:id', wrap(async (req, res) => {
    const { name } = tenantOf(req);
    const id = idOf(req.params.id);
    const change = req.body as ProductUpdate | undefined;
    if (typeof change !== 'object' || change === null) throw new HttpError(400, 'expected a JSON object');
    if (change.priceCents !== undefined && (!Number.isInteger(change.priceCents) || change.priceCents < 0)) throw new HttpError(400, 'priceCents must be a whole number >= 0');
    for (const field of ['name', 'category', 'description'] as const) {
      if (change[field] !== undefined && (typeof change[field] !== 'string' || change[field].length === 0)) throw new HttpError(400, `${field} must be a non-empty string`);
    }
    const updated = await db.update(name, id, { name: change.name, category: change.category, priceCents: change.priceCents, description: change.description });
    if (updated === undefined) throw new HttpError(404, `no product ${id}`);
    await invalidator.handle({ type: 'product.updated', tenant: name, id });
    res.json(updated);
  }));

  app.delete('/api/:tenant/products/:id', wrap(async (req, res) => {
    const { name } = tenantOf(req);
    const id = idOf(req.params.id);
    if (!(await db.remove(name, id))) throw new HttpError(404, `no product ${id}`);
    await invalidator.handle({ type: 'product.deleted', tenant: name, id });
    res.status(204).end();
  }));

  app.get('/metrics', wrap(async (_req, res) => {
    res.set('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  }));

  app.get('/stats', (_req, res) => {
    res.json({ backend, database: catalog.kind, queries: catalog.queries, cache: cache.stats() });
  });

  app.use('/admin/cache', adminRoutes({ cache, token: options.adminToken }));

  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error instanceof HttpError) {
      res.status(error.status).json({ error: error.message });
      return;
    }
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: (error as Error).message });
      return;
    }
    process.stderr.write(`request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    res.status(500).json({ error: 'internal error' });
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port, '127.0.0.1', (error?: Error) => (error === undefined ? resolve(s) : reject(error)));
  });
  const { port } = server.address() as AddressInfo;
  await cache.ready().catch((error: unknown) => {
    process.stderr.write(`cache not ready: ${(error as Error).message}\n`);
  });

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    cache,
    catalog,
    server,
    backend,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await cache.close();
        await catalog.close();
      })();
      return closing;
    },
  };
}
