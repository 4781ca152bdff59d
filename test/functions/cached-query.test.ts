import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, cachedQuery, createCache, memoryStore } from '../../src/index.js';
import type { QueryPage } from '../../src/index.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

interface Filters {
  [field: string]: unknown;
  category?: string | undefined;
  q?: string | undefined;
  tenant?: string | undefined;
}

function setup() {
  const cache = createCache({ store: memoryStore() }, {});
  const calls: QueryPage<Filters>[] = [];
  const list = cachedQuery<Filters, { items: number[]; page: number }>(
    async (query) => {
      calls.push(query);
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { items: Array.from({ length: query.limit }, (_, i) => query.offset + i), page: query.page };
    },
    { cache, name: 'products', ttl: '1m', tags: ({ filters }) => (filters.tenant === undefined ? [] : [`tenant:${filters.tenant}`]) },
  );
  return { cache, calls, list };
}

describe('cachedQuery: paginated and filtered list queries', () => {
  it('normalises filters: key order and empty values do not change the key; page and size do', async () => {
    const { cache, calls, list } = setup();
    const a = await list({ filters: { category: 'books', q: '' }, page: 2, size: 10 });
    const b = await list({ filters: { q: undefined, category: 'books' }, page: 2, size: 10 });
    assert.deepEqual(a, b);
    assert.equal(calls.length, 1, 'the second request was served from the cache');
    assert.deepEqual(calls[0], { filters: { category: 'books' }, page: 2, size: 10, offset: 10, limit: 10 });
    assert.equal(list.keyFor({ filters: { category: 'books', q: '' }, page: 2, size: 10 }), list.keyFor({ filters: { category: 'books' }, page: 2, size: 10 }));
    assert.notEqual(list.keyFor({ page: 1 }), list.keyFor({ page: 2 }));
    assert.notEqual(list.keyFor({ size: 10 }), list.keyFor({ size: 20 }));
    assert.notEqual(list.keyFor({ filters: { category: 'books' } }), list.keyFor({ filters: { category: 'games' } }));
    assert.match(list.keyFor(), /^products:list:.+:p1:s20$/);
    await cache.close();
  });

  it('concurrent requests for one page run the loader once; invalidate() drops every page of every filter', async () => {
    const { cache, calls, list } = setup();
    await Promise.all(Array.from({ length: 20 }, () => list({ filters: { category: 'books' } })));
    assert.equal(calls.length, 1);
    await list({ filters: { category: 'games' }, page: 3 });
    await list({ page: 5, size: 50 });
    assert.equal(calls.length, 3);
    const removed = await list.invalidate();
    assert.equal(removed, 3, 'all three pages were removed');
    await list({ filters: { category: 'books' } });
    assert.equal(calls.length, 4, 'the page is loaded again after the invalidation');
    await cache.close();
  });

  it('extra tags (a tenant) invalidate only their pages', async () => {
    const { cache, calls, list } = setup();
    await list({ filters: { tenant: 't1' } });
    await list({ filters: { tenant: 't2' } });
    await cache.invalidateTags(['tenant:t1']);
    await list({ filters: { tenant: 't1' } });
    await list({ filters: { tenant: 't2' } });
    assert.deepEqual(calls.map((c) => c.filters.tenant), ['t1', 't2', 't1']);
    await cache.close();
  });

  it('bad input is a typed error before anything runs, and nothing cached is lost', async () => {
    const { cache, calls, list } = setup();
    await list({ page: 1 });
    for (const bad of [{ page: 0 }, { page: 1.5 }, { page: -1 }, { size: 0 }, { size: 101 }, { page: Number.NaN }]) {
      await assert.rejects(list(bad), RangeError, JSON.stringify(bad));
    }
    await assert.rejects(list({ filters: 'category=books' as unknown as Filters }), TypeError);
    assert.equal(calls.length, 1);
    await list({ page: 1 });
    assert.equal(calls.length, 1, 'the cached page is still served');
    assert.throws(() => cachedQuery(() => 1, { name: '' }), ConfigError);
    assert.throws(() => cachedQuery(() => 1, { name: 'x', size: 500 }), (e: unknown) => e instanceof ConfigError && e.option === 'size');
    assert.throws(() => cachedQuery(() => 1, { name: 'x', maxSize: 0 }), (e: unknown) => e instanceof ConfigError && e.option === 'maxSize');
    await cache.close();
  });
});
