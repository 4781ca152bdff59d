/**
 * Round trips, measured through a proxy that adds 100 ms each way (a 200 ms round trip): calls
 * that the contract says take one round trip finish well before two would, and a lone command is
 * written at once (adaptive pipelining) rather than at the end of the event loop turn.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createCache, memoryStore } from '../../src/index.js';
import type { Cache } from '../../src/index.js';
import { adaptivePipelining, redisStore } from '../../src/redis/index.js';
import { guardProcess } from '../helpers/guard.js';
import { directStore, freshPrefix, proxyTo, registerCleanup, server, timed } from './faults-support.js';

registerCleanup();
guardProcess();

const ONE_WAY_MS = 100;
/** Below two round trips, with room for a loaded machine. */
const ONE_ROUND_TRIP = 2 * ONE_WAY_MS * 1.75;

describe('one round trip', () => {
  it('setMany with ttl and tags, getMany and set with tags take one round trip; tagged reads and invalidateTags two', async () => {
    const redis = await server();
    const proxy = await proxyTo(redis);
    const prefix = freshPrefix('rt');
    const cache: Cache = createCache({ l1: memoryStore(), l2: redisStore({ url: proxy.url }), namespace: prefix, l2Timeout: '2s' }, {});
    try {
      await cache.ready();
      await cache.set('warm', 1, { tags: ['w'] }); // the lifetime record of tagged entries, once
      proxy.set({ delayMs: ONE_WAY_MS });
      const entries = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: { i }, ttl: '1h' as const, tags: ['list', `item:${i}`] }));
      const setMany = await timed(() => cache.setMany(entries));
      assert.ok(setMany.ms < ONE_ROUND_TRIP, `setMany of 50 tagged entries with a ttl: ${setMany.ms.toFixed(0)} ms`);
      const plain = entries.map((e) => ({ key: `plain:${e.key}`, value: e.value, ttl: e.ttl }));
      await cache.setMany(plain);
      const reader = createCache({ l1: memoryStore(), l2: redisStore({ url: proxy.url }), namespace: prefix, l2Timeout: '2s' }, {});
      try {
        await reader.ready();
        const getMany = await timed(() => reader.getMany(plain.map((e) => e.key)));
        assert.ok(getMany.ms < ONE_ROUND_TRIP, `getMany of 50 keys: ${getMany.ms.toFixed(0)} ms`);
        assert.deepEqual(getMany.value, plain.map((e) => e.value), 'every value came back');
        // Tagged entries take one more round trip: their tags' invalidation records are read after
        // the values (lazy tag invalidation, docs/data-safety.md), never more than one.
        const tagged = await timed(() => reader.getMany(entries.map((e) => e.key)));
        assert.ok(tagged.ms < ONE_ROUND_TRIP + 2 * ONE_WAY_MS, `getMany of 50 tagged keys: ${tagged.ms.toFixed(0)} ms`);
        assert.deepEqual(tagged.value, entries.map((e) => e.value), 'every tagged value came back');
      } finally {
        await reader.close();
      }
      const set = await timed(() => cache.set('one', 'v', { ttl: '1m', tags: ['list'] }));
      assert.ok(set.ms < ONE_ROUND_TRIP, `set with tags: ${set.ms.toFixed(0)} ms`);
      // invalidateTags reads how long tagged entries live (written by any instance), then records
      // the invalidation: two round trips.
      const invalidate = await timed(() => cache.invalidateTags(['list']));
      assert.ok(invalidate.ms < ONE_ROUND_TRIP + 2 * ONE_WAY_MS, `invalidateTags: ${invalidate.ms.toFixed(0)} ms`);
      proxy.set({ delayMs: 0 });
      const check = await directStore(redis.url, prefix);
      assert.equal(await check.get('k7'), undefined, 'the tag invalidation reached Redis');
    } finally {
      await cache.close();
    }
  });
});

describe('adaptive pipelining', () => {
  it('a lone command is written before the event loop turn ends; commands sent while others are outstanding leave together, in order', async () => {
    const redis = await server();
    const client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    adaptivePipelining(client);
    await client.connect();
    try {
      const writes: number[] = [];
      const socketWrite = client.stream.write.bind(client.stream);
      const writev = client.stream._writev?.bind(client.stream);
      client.stream.write = ((...args: Parameters<typeof socketWrite>) => {
        writes.push(1);
        return socketWrite(...args);
      }) as typeof socketWrite;
      let flushed = 0;
      if (writev !== undefined) {
        client.stream._writev = (chunks, callback) => {
          flushed = chunks.length;
          writev(chunks, callback);
        };
      }
      // A lone GET: on the socket before this function returns (ioredis' auto-pipelining would wait
      // for setImmediate).
      const bytesBefore = client.stream.bytesWritten;
      const lone = client.get('nothing');
      assert.ok(client.stream.bytesWritten > bytesBefore, 'the lone command was written at once');
      assert.equal(await lone, null);
      // 100 commands while one is outstanding: one write of the 99 that followed the first.
      const first = client.set('n', '0');
      const rest = Array.from({ length: 99 }, () => client.incr('n'));
      assert.equal(flushed, 0, 'nothing flushed before the tick ends');
      const results = await Promise.all([first, ...rest]);
      assert.equal(results.at(-1), 99, 'replies in order');
      assert.equal(flushed, 99, 'the 99 commands sent behind the first left in one write');
      assert.ok(writes.length >= 100, 'every command went through the socket');
    } finally {
      client.disconnect();
    }
  });
});
