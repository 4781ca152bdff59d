/**
 * Issue 13, part 2: what L2 promotes into L1 goes through the same window and admission as any
 * other insert (the tiered cache backfills L1 with the store's `write`), so with a tinylfu L1 a
 * scan of cold keys read through L2 does not flush the hot keys out of memory. A real two-tier
 * cache on a private redis-server; the same scan against an lru L1 shows what is at stake.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCache, memoryStore } from '../../src/index.js';
import type { Cache, MemoryStore } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { guardProcess } from '../helpers/guard.js';
import { startRedis } from '../harness/index.js';
import type { RedisProcess } from '../harness/index.js';

guardProcess();

let redis: RedisProcess;
const caches: Cache[] = [];
let n = 0;

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await Promise.all(caches.map((c) => c.close()));
  await redis.stop();
});

/** A two-tier cache with the given L1, on a prefix of its own. */
function tiered(l1: MemoryStore, prefix: string): Cache {
  const cache = createCache({ l1, l2: redisStore({ url: redis.url, prefix }), namespace: prefix, defaultTtl: '10m' }, {});
  caches.push(cache);
  return cache;
}

const HOT = Array.from({ length: 100 }, (_, i) => `hot:${i}`);
const COLD = Array.from({ length: 3000 }, (_, i) => `cold:${i}`);

/**
 * Fills Redis with the cold keys through a writer of its own (the reader's L1 never sees them
 * written), then has the reader use its hot keys, then alternates a scan of 300 cold keys read
 * through L2 (each one copied into L1 by the read) with a pass over the hot keys. Returns the share
 * of hot reads served by L1 after the scans began.
 */
async function scanWhileHot(policy: 'lru' | 'tinylfu'): Promise<{ l1HitShare: number; l1: MemoryStore }> {
  const prefix = `adm${++n}:`;
  const writer = tiered(memoryStore({ maxEntries: 10 }), prefix);
  for (let i = 0; i < COLD.length; i += 500) await writer.setMany(COLD.slice(i, i + 500).map((key) => ({ key, value: { key } })));

  const l1 = memoryStore({ maxEntries: 200, policy });
  const reader = tiered(l1, prefix);
  let l1Hits = 0;
  let counting = false;
  reader.on('hit', (e) => {
    if (counting && e.key.startsWith(`hot:`) && e.tier === 'l1') l1Hits++;
  });
  await reader.setMany(HOT.map((key) => ({ key, value: { key } })));
  for (let pass = 0; pass < 5; pass++) for (const key of HOT) assert.deepEqual(await reader.get(key), { key });

  counting = true;
  let hotReads = 0;
  for (let round = 0; round < 10; round++) {
    // 300 cold keys, 1.5 times the whole L1, each read once through L2 and backfilled into L1.
    const scan = COLD.slice(round * 300, round * 300 + 300);
    const values = await reader.getMany(scan);
    assert.ok(values.every((v, i) => (v as { key: string } | undefined)?.key === scan[i]), 'every cold key comes from L2');
    for (const key of HOT) {
      assert.deepEqual(await reader.get(key), { key });
      hotReads++;
    }
    assert.ok(l1.size <= 200, `L1 size ${l1.size}`);
  }
  return { l1HitShare: l1Hits / hotReads, l1 };
}

describe('two tiers: admission into L1', () => {
  it('a tinylfu L1 keeps its hot keys through scans of cold keys promoted from L2; an lru L1 loses them', async () => {
    const tiny = await scanWhileHot('tinylfu');
    const lru = await scanWhileHot('lru');
    assert.ok(tiny.l1HitShare >= 0.95, `tinylfu: ${(tiny.l1HitShare * 100).toFixed(1)}% of hot reads from L1`);
    assert.ok(lru.l1HitShare <= 0.05, `lru: ${(lru.l1HitShare * 100).toFixed(1)}% of hot reads from L1`);
    // The cold keys did enter the tinylfu L1 (through its window) and were then refused room.
    const coldInL1 = [...tiny.l1.keys()].filter((key) => key.includes('cold:')).length;
    assert.ok(coldInL1 >= 1 && coldInL1 <= 100, `${coldInL1} cold keys in the tinylfu L1`);
  });
});
