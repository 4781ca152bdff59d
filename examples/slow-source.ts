/**
 * A deliberately slow data source behind hoard, on the in-memory default cache (no setup, no
 * Redis). Run with `npm start`. Prints how long calls take cold and warm, how concurrent misses
 * collapse into one load, how a stale value masks an outage, and the cache's stats.
 */
import { cache, cached } from '../src/index.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Product {
  id: number;
  name: string;
  price: number;
}

/** The "database": 80 ms a query, and it can be switched off. */
const db = {
  queries: 0,
  down: false,
  async product(id: number): Promise<Product> {
    this.queries++;
    await sleep(80);
    if (this.down) throw new Error('database unreachable');
    return { id, name: `Product ${id}`, price: 10 + (id % 7) };
  },
};

const getProduct = cached((id: number) => db.product(id), { ttl: '1m', key: (id) => `product:${id}`, tags: (id) => [`product:${id}`] });

async function time<T>(label: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await run();
  console.log(`${label.padEnd(52)} ${(performance.now() - started).toFixed(2).padStart(8)} ms`);
  return result;
}

console.log('hoard example: an 80 ms data source behind the in-memory default cache\n');

await time('cold: cached getProduct(1), runs the query', () => getProduct(1));
await time('warm: getProduct(1) again, served from memory', () => getProduct(1));
await time('warm: 10,000 more getProduct(1) calls', async () => {
  for (let i = 0; i < 10_000; i++) await getProduct(1);
});

db.queries = 0;
await time('stampede: 500 concurrent misses of product 2', () => Promise.all(Array.from({ length: 500 }, () => getProduct(2))));
console.log(`  -> queries run for those 500 calls: ${db.queries}`);

await time('cache-aside: getOrSet of a 20-product page', () =>
  cache.getOrSet('page:1', async () => Promise.all(Array.from({ length: 20 }, (_, i) => db.product(100 + i))), { ttl: '30s' }),
);
await time('cache-aside: the same page again', () => cache.getOrSet('page:1', () => Promise.reject(new Error('not called'))));

// Fail-safe: a short TTL with a long grace keeps a fallback when the source fails.
await cache.getOrSet('featured', () => db.product(3), { ttl: 100, grace: '1h' });
await sleep(120);
db.down = true;
const featured = await time('outage: getOrSet after TTL, source down, grace 1h', () =>
  cache.getOrSet('featured', () => db.product(3), { ttl: 100, grace: '1h' }),
);
console.log(`  -> served the stale value instead of an error: ${featured.name}`);
db.down = false;

const removed = await getProduct.invalidate(1);
console.log(`\ninvalidate product:1 -> removed: ${removed}`);
await time('after invalidation: getProduct(1) reloads', () => getProduct(1));

const stats = cache.stats();
console.log('\nstats:', {
  hits: stats.hits,
  misses: stats.misses,
  hitRate: `${(stats.hitRate * 100).toFixed(2)} %`,
  sets: stats.sets,
  deletes: stats.deletes,
  errors: stats.errors,
  size: stats.size,
  latencyMs: stats.latency,
});
await cache.close();
