/**
 * hoard's memory store under each eviction policy, as contestants of the throughput and heap
 * helpers (bench/lib/throughput.ts, bench/lib/heap.ts). Used by bench/hitratio.ts.
 */
import type { Contestant, Value } from './contestants.js';
import { contestantById } from './contestants.js';

function hoardStore(policy: 'lru' | 'tinylfu'): Contestant {
  return {
    id: `hoard-${policy}`,
    label: `hoard memoryStore (${policy})`,
    sync: true,
    async create({ maxEntries, ttl }) {
      const { memoryStore } = await import('../../src/index.js');
      const store = memoryStore<Value>(ttl === undefined ? { maxEntries, policy } : { maxEntries, ttl, policy });
      return {
        sync: true,
        get: (key) => store.get(key),
        set: (key, value) => store.set(key, value),
        close: () => store.close(),
      };
    },
  };
}

/** hoard with each policy, then lru-cache (the baseline of every ratio). */
export const POLICY_CONTESTANTS: readonly Contestant[] = [hoardStore('lru'), hoardStore('tinylfu'), contestantById('lru-cache')];

export function policyContestantById(id: string): Contestant {
  const found = POLICY_CONTESTANTS.find((c) => c.id === id);
  if (found === undefined) throw new Error(`unknown contestant "${id}"; expected one of ${POLICY_CONTESTANTS.map((c) => c.id).join(', ')}`);
  return found;
}
