/**
 * The catalog's data source: PostgreSQL through `pg` when `DATABASE_URL` is set (the service
 * creates and seeds its own schema), otherwise an in-process dataset. Both are deliberately slow
 * (`DB_DELAY_MS`, default 25 ms a query) so that what the cache saves shows, and both count their
 * queries so the service can report database queries per request.
 */
import pg from 'pg';

export interface Product {
  id: number;
  tenant: string;
  name: string;
  category: string;
  priceCents: number;
  description: string;
  updatedAt: string;
}

export interface ProductFilters {
  [field: string]: unknown;
  category?: string | undefined;
  minPrice?: number | undefined;
  maxPrice?: number | undefined;
  sort?: 'name' | 'price' | 'updated' | undefined;
}

export interface ProductPage {
  items: Product[];
  total: number;
}

export interface ProductUpdate {
  name?: string | undefined;
  category?: string | undefined;
  priceCents?: number | undefined;
  description?: string | undefined;
}

/** What the service needs from its database. */
export interface Catalog {
  readonly kind: 'postgres' | 'memory';
  /** Queries run so far. */
  readonly queries: number;
  product(tenant: string, id: number): Promise<Product | undefined>;
  products(tenant: string, ids: readonly number[]): Promise<Product[]>;
  list(tenant: string, filters: ProductFilters, limit: number, offset: number): Promise<ProductPage>;
  search(tenant: string, text: string, limit: number): Promise<Product[]>;
  update(tenant: string, id: number, change: ProductUpdate): Promise<Product | undefined>;
  remove(tenant: string, id: number): Promise<boolean>;
  close(): Promise<void>;
}

export const TENANTS = ['acme', 'globex', 'initech'] as const;
const CATEGORIES = ['books', 'games', 'music', 'garden', 'kitchen', 'tools', 'toys', 'sports'] as const;
const WORDS = ['red', 'blue', 'small', 'large', 'classic', 'modern', 'smart', 'eco', 'pro', 'mini', 'ultra', 'basic'];
const PER_TENANT = 2_000;

/** The seed data: the same products for both sources, deterministic. */
export function seedProducts(): Product[] {
  const out: Product[] = [];
  let id = 0;
  for (const tenant of TENANTS) {
    for (let i = 0; i < PER_TENANT; i++) {
      id++;
      const category = CATEGORIES[i % CATEGORIES.length]!;
      const name = `${WORDS[(i * 7) % WORDS.length]!} ${WORDS[(i * 3 + 1) % WORDS.length]!} ${category} ${i}`;
      out.push({
        id,
        tenant,
        name,
        category,
        priceCents: 199 + ((i * 7919) % 50_000),
        description: `A ${name} from ${tenant}'s ${category} range.`,
        updatedAt: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
      });
    }
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function sortKey(sort: ProductFilters['sort']): (a: Product, b: Product) => number {
  switch (sort) {
    case 'price':
      return (a, b) => a.priceCents - b.priceCents || a.id - b.id;
    case 'updated':
      return (a, b) => b.updatedAt.localeCompare(a.updatedAt) || a.id - b.id;
    default:
      return (a, b) => a.name.localeCompare(b.name) || a.id - b.id;
  }
}

/** The in-process dataset: what `npm start` uses on a machine with nothing else installed. */
export class MemoryCatalog implements Catalog {
  readonly kind = 'memory';
  queries = 0;
  readonly #delayMs: number;
  readonly #rows = new Map<number, Product>();

  constructor(delayMs: number) {
    this.#delayMs = delayMs;
    for (const p of seedProducts()) this.#rows.set(p.id, p);
  }

  async #query<T>(run: () => T): Promise<T> {
    this.queries++;
    await sleep(this.#delayMs);
    return run();
  }

  product(tenant: string, id: number): Promise<Product | undefined> {
    return this.#query(() => {
      const p = this.#rows.get(id);
      return p?.tenant === tenant ? { ...p } : undefined;
    });
  }

  products(tenant: string, ids: readonly number[]): Promise<Product[]> {
    return this.#query(() => ids.flatMap((id) => {
      const p = this.#rows.get(id);
      return p?.tenant === tenant ? [{ ...p }] : [];
    }));
  }

  list(tenant: string, filters: ProductFilters, limit: number, offset: number): Promise<ProductPage> {
    return this.#query(() => {
      const rows = [...this.#rows.values()].filter(
        (p) =>
          p.tenant === tenant &&
          (filters.category === undefined || p.category === filters.category) &&
          (filters.minPrice === undefined || p.priceCents >= filters.minPrice) &&
          (filters.maxPrice === undefined || p.priceCents <= filters.maxPrice),
      );
      rows.sort(sortKey(filters.sort));
      return { items: rows.slice(offset, offset + limit).map((p) => ({ ...p })), total: rows.length };
    });
  }

  search(tenant: string, text: string, limit: number): Promise<Product[]> {
    const words = text.toLowerCase().split(/\s+/).filter((w) => w !== '');
    return this.#query(() =>
      [...this.#rows.values()]
        .filter((p) => p.tenant === tenant && words.every((w) => p.name.toLowerCase().includes(w) || p.description.toLowerCase().includes(w)))
        .sort((a, b) => a.id - b.id)
        .slice(0, limit)
        .map((p) => ({ ...p })),
    );
  }

  update(tenant: string, id: number, change: ProductUpdate): Promise<Product | undefined> {
    return this.#query(() => {
      const p = this.#rows.get(id);
      if (p?.tenant !== tenant) return undefined;
      const next: Product = {
        ...p,
        name: change.name ?? p.name,
        category: change.category ?? p.category,
        priceCents: change.priceCents ?? p.priceCents,
        description: change.description ?? p.description,
        updatedAt: new Date().toISOString(),
      };
      this.#rows.set(id, next);
      return { ...next };
    });
  }

  remove(tenant: string, id: number): Promise<boolean> {
    return this.#query(() => {
      const p = this.#rows.get(id);
      if (p?.tenant !== tenant) return false;
      return this.#rows.delete(id);
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface Row {
  id: number;
  tenant: string;
  name: string;
  category: string;
  price_cents: number;
  description: string;
  updated_at: Date;
  total?: string;
}

const toProduct = (r: Row): Product => ({
  id: r.id,
  tenant: r.tenant,
  name: r.name,
  category: r.category,
  priceCents: r.price_cents,
  description: r.description,
  updatedAt: r.updated_at.toISOString(),
});

const ORDER: Record<NonNullable<ProductFilters['sort']>, string> = {
  name: 'name, id',
  price: 'price_cents, id',
  updated: 'updated_at DESC, id',
};

/**
 * PostgreSQL: one table with the indexes a real catalog has (tenant + category, tenant + price,
 * a full-text index for search). `schema` isolates the service's tables (tests run several).
 */
export class PostgresCatalog implements Catalog {
  readonly kind = 'postgres';
  queries = 0;
  readonly #pool: pg.Pool;
  readonly #delayMs: number;
  readonly #table: string;

  private constructor(pool: pg.Pool, delayMs: number, schema: string) {
    this.#pool = pool;
    this.#delayMs = delayMs;
    this.#table = `"${schema}".products`;
  }

  /** Connects, creates the schema and table if missing, and seeds them once. */
  static async open(url: string, delayMs: number, schema = 'catalog'): Promise<PostgresCatalog> {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    const catalog = new PostgresCatalog(pool, delayMs, schema);
    try {
      await catalog.#migrate(schema);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return catalog;
  }

  async #migrate(schema: string): Promise<void> {
    const t = this.#table;
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [schema]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${t} (
        id integer PRIMARY KEY,
        tenant text NOT NULL,
        name text NOT NULL,
        category text NOT NULL,
        price_cents integer NOT NULL CHECK (price_cents >= 0),
        description text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
      await client.query(`CREATE INDEX IF NOT EXISTS products_tenant_category ON ${t} (tenant, category, name)`);
      await client.query(`CREATE INDEX IF NOT EXISTS products_tenant_price ON ${t} (tenant, price_cents)`);
      await client.query(`CREATE INDEX IF NOT EXISTS products_search ON ${t} USING gin (to_tsvector('simple', name || ' ' || description))`);
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`);
      if (rows[0]?.n === '0') {
        const seed = seedProducts();
        for (let i = 0; i < seed.length; i += 500) {
          const part = seed.slice(i, i + 500);
          const values: unknown[] = [];
          const tuples = part.map((p, j) => {
            values.push(p.id, p.tenant, p.name, p.category, p.priceCents, p.description, p.updatedAt);
            const b = j * 7;
            return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7})`;
          });
          await client.query(`INSERT INTO ${t} (id, tenant, name, category, price_cents, description, updated_at) VALUES ${tuples.join(', ')}`, values);
        }
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async #query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> {
    this.queries++;
    if (this.#delayMs > 0) await sleep(this.#delayMs);
    const result = await this.#pool.query<R>(text, values);
    return result.rows;
  }

  async product(tenant: string, id: number): Promise<Product | undefined> {
    const rows = await this.#query<Row>(`SELECT * FROM ${this.#table} WHERE tenant = $1 AND id = $2`, [tenant, id]);
    return rows[0] === undefined ? undefined : toProduct(rows[0]);
  }

  async products(tenant: string, ids: readonly number[]): Promise<Product[]> {
    const rows = await this.#query<Row>(`SELECT * FROM ${this.#table} WHERE tenant = $1 AND id = ANY($2::int[]) ORDER BY id`, [tenant, [...ids]]);
    return rows.map(toProduct);
  }

  async list(tenant: string, filters: ProductFilters, limit: number, offset: number): Promise<ProductPage> {
    const where = ['tenant = $1'];
    const values: unknown[] = [tenant];
    if (filters.category !== undefined) where.push(`category = $${values.push(filters.category)}`);
    if (filters.minPrice !== undefined) where.push(`price_cents >= $${values.push(filters.minPrice)}`);
    if (filters.maxPrice !== undefined) where.push(`price_cents <= $${values.push(filters.maxPrice)}`);
    const order = ORDER[filters.sort ?? 'name'];
    const rows = await this.#query<Row>(
      `SELECT *, count(*) OVER () AS total FROM ${this.#table} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT $${values.push(limit)} OFFSET $${values.push(offset)}`,
      values,
    );
    return { items: rows.map(toProduct), total: rows[0]?.total === undefined ? 0 : Number(rows[0].total) };
  }

  async search(tenant: string, text: string, limit: number): Promise<Product[]> {
    const rows = await this.#query<Row>(
      `SELECT * FROM ${this.#table} WHERE tenant = $1 AND to_tsvector('simple', name || ' ' || description) @@ plainto_tsquery('simple', $2) ORDER BY id LIMIT $3`,
      [tenant, text, limit],
    );
    return rows.map(toProduct);
  }

  async update(tenant: string, id: number, change: ProductUpdate): Promise<Product | undefined> {
    const rows = await this.#query<Row>(
      `UPDATE ${this.#table} SET name = COALESCE($3, name), category = COALESCE($4, category), price_cents = COALESCE($5, price_cents),
        description = COALESCE($6, description), updated_at = now() WHERE tenant = $1 AND id = $2 RETURNING *`,
      [tenant, id, change.name ?? null, change.category ?? null, change.priceCents ?? null, change.description ?? null],
    );
    return rows[0] === undefined ? undefined : toProduct(rows[0]);
  }

  async remove(tenant: string, id: number): Promise<boolean> {
    const rows = await this.#query<{ id: number }>(`DELETE FROM ${this.#table} WHERE tenant = $1 AND id = $2 RETURNING id`, [tenant, id]);
    return rows.length === 1;
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}
