import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCache, EventInvalidator, memoryStore } from '../../src/index.js';
import type { Cache, DomainEvent } from '../../src/index.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

function setup(): Cache {
  return createCache({ store: memoryStore() }, {});
}

async function keysPresent(cache: Cache, keys: readonly string[]): Promise<string[]> {
  const present: string[] = [];
  for (const key of keys) if (await cache.has(key)) present.push(key);
  return present;
}

describe('EventInvalidator', () => {
  it('runs the API.md example: keys and tags of the event', async () => {
    const cache = setup();
    await cache.set('property:p1', { id: 'p1' });
    await cache.set('property:p2', { id: 'p2' });
    await cache.set('list:t1', ['p1', 'p2'], { tags: ['tenant:t1:properties'] });
    await cache.set('list:t2', ['p3'], { tags: ['tenant:t2:properties'] });
    const inv = new EventInvalidator(cache).on('property.updated', (e) => ({
      keys: [`property:${String(e.id)}`],
      tags: [`tenant:${String(e.tenantId)}:properties`],
    }));
    assert.equal(await inv.handle({ type: 'property.updated', id: 'p1', tenantId: 't1' }), 2);
    assert.deepEqual(await keysPresent(cache, ['property:p1', 'property:p2', 'list:t1', 'list:t2']), ['property:p2', 'list:t2']);
  });

  it('removes by pattern', async () => {
    const cache = setup();
    for (const key of ['search:t1:a', 'search:t1:b', 'search:t2:a', 'other']) await cache.set(key, 1);
    const inv = new EventInvalidator(cache).on('tenant.reindexed', (e) => ({ patterns: [`search:${String(e.tenant)}:*`] }));
    assert.equal(await inv.handle({ type: 'tenant.reindexed', tenant: 't1' }), 2);
    assert.deepEqual(await keysPresent(cache, ['search:t1:a', 'search:t1:b', 'search:t2:a', 'other']), ['search:t2:a', 'other']);
  });

  it('combines keys, tags and several patterns in one invalidation and counts each entry once', async () => {
    const cache = setup();
    await cache.set('a', 1, { tags: ['t'] });
    await cache.set('b', 2, { tags: ['t'] });
    await cache.set('c:1', 3);
    await cache.set('d:1', 4);
    await cache.set('keep', 5);
    const inv = new EventInvalidator(cache).on('all', () => ({ keys: ['a', 'missing'], tags: ['t'], patterns: ['c:*', 'd:*', 'a'] }));
    // a by key, b by tag (a already gone), c:1 and d:1 by pattern: 4 distinct entries
    assert.equal(await inv.handle({ type: 'all' }), 4);
    assert.deepEqual(await keysPresent(cache, ['a', 'b', 'c:1', 'd:1', 'keep']), ['keep']);
  });

  it('runs several handlers of one type in order and sums what they removed', async () => {
    const cache = setup();
    await cache.set('user:1', 1);
    await cache.set('profile:1', 2);
    await cache.set('feed:1', 3, { tags: ['feed'] });
    const order: string[] = [];
    const inv = new EventInvalidator(cache)
      .on('user.updated', (e) => {
        order.push('first');
        return { keys: [`user:${String(e.id)}`] };
      })
      .on('user.updated', (e) => {
        order.push('second');
        return { keys: [`profile:${String(e.id)}`], tags: ['feed'] };
      })
      .on('user.deleted', () => {
        order.push('other type');
        return { patterns: ['*'] };
      });
    assert.equal(await inv.handle({ type: 'user.updated', id: 1 }), 3);
    assert.deepEqual(order, ['first', 'second']);
    assert.equal(cache.stats().size, 0);
  });

  it('an event type nobody handles removes nothing and returns 0', async () => {
    const cache = setup();
    await cache.set('k', 1, { tags: ['t'] });
    const inv = new EventInvalidator(cache).on('known', () => ({ keys: ['k'], tags: ['t'], patterns: ['*'] }));
    assert.equal(await inv.handle({ type: 'unknown' }), 0);
    assert.equal(await cache.get('k'), 1);
  });

  it('a handler that returns undefined or empty lists removes nothing', async () => {
    const cache = setup();
    await cache.set('k', 1);
    const inv = new EventInvalidator(cache)
      .on('noop', () => undefined)
      .on('noop', () => ({}))
      .on('noop', () => ({ keys: [], tags: [], patterns: [] }));
    assert.equal(await inv.handle({ type: 'noop' }), 0);
    assert.equal(await cache.has('k'), true);
  });

  it('returns the count of entries actually removed (absent keys do not count)', async () => {
    const cache = setup();
    await cache.set('x', 1);
    const inv = new EventInvalidator(cache).on('e', () => ({ keys: ['x', 'y', 'z'] }));
    assert.equal(await inv.handle({ type: 'e' }), 1);
    assert.equal(await inv.handle({ type: 'e' }), 0);
  });

  it('awaits async handlers before invalidating', async () => {
    const cache = setup();
    await cache.set('order:9', 'pending');
    await cache.set('customer:3:orders', [9]);
    const inv = new EventInvalidator(cache).on('order.shipped', async (e) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const customer = 3; // looked up asynchronously from the order
      return { keys: [`order:${String(e.orderId)}`, `customer:${customer}:orders`] };
    });
    assert.equal(await inv.handle({ type: 'order.shipped', orderId: 9 }), 2);
    assert.equal(cache.stats().size, 0);
  });

  it('an async handler that rejects rejects handle with the same error', async () => {
    const cache = setup();
    await cache.set('k', 1);
    const boom = new Error('lookup failed');
    const inv = new EventInvalidator(cache).on('e', async () => {
      throw boom;
    });
    await assert.rejects(
      () => inv.handle({ type: 'e' }),
      (error) => error === boom,
    );
    assert.equal(await cache.has('k'), true);
  });

  it('works through a namespace view', async () => {
    const cache = setup();
    const t1 = cache.namespace('t1');
    await t1.set('user:1', 1);
    await cache.set('user:1', 'root');
    const inv = new EventInvalidator(t1).on('user.updated', (e) => ({ keys: [`user:${String(e.id)}`] }));
    assert.equal(await inv.handle({ type: 'user.updated', id: 1 }), 1);
    assert.equal(await t1.has('user:1'), false);
    assert.equal(await cache.get('user:1'), 'root');
  });

  it('a bad event is a TypeError', async () => {
    const inv = new EventInvalidator(setup()).on('e', () => ({ keys: ['k'] }));
    const handle = inv.handle.bind(inv) as (event: unknown) => Promise<number>;
    for (const bad of [undefined, null, 'e', 42, {}, { type: 1 }, { type: null }]) {
      await assert.rejects(() => handle(bad), TypeError, JSON.stringify(bad) ?? 'undefined');
    }
  });

  it('a bad registration is a TypeError', () => {
    const inv = new EventInvalidator<DomainEvent>(setup());
    const on = inv.on.bind(inv) as (type: unknown, handler: unknown) => unknown;
    assert.throws(() => on('', () => undefined), TypeError);
    assert.throws(() => on(1, () => undefined), TypeError);
    assert.throws(() => on('e', 'not a function'), TypeError);
  });
});
