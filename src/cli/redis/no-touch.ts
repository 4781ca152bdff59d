import type { Redis } from 'ioredis';
import { isCluster } from '../../redis/connect.js';
import type { RedisClient } from '../../redis/connect.js';

/**
 * Makes the connections of `client` read without updating Redis' LRU/LFU figures (`CLIENT
 * NO-TOUCH on`, Redis 7.2 and later), so inspecting a cache does not change what it evicts next.
 * Applied again on every reconnection and to cluster nodes discovered later, before any command
 * they carry. Resolves to whether the server has it: older servers answer an error, and reading
 * then touches keys as any client does.
 */
export async function enableNoTouch(client: RedisClient): Promise<boolean> {
  const apply = (node: Redis): Promise<boolean> =>
    node.call('CLIENT', 'NO-TOUCH', 'ON').then(
      () => true,
      () => false,
    );
  const watch = (node: Redis): void => {
    node.on('ready', () => void apply(node));
  };
  if (!isCluster(client)) {
    watch(client);
    return apply(client);
  }
  client.on('+node', (node: Redis) => {
    watch(node);
    void apply(node);
  });
  const nodes = client.nodes('all');
  for (const node of nodes) watch(node);
  const results = await Promise.all(nodes.map(apply));
  return results.length !== 0 && results.every(Boolean);
}
