/**
 * A throwaway N-master Redis Cluster (FAULTS.md section 4) for cross-slot, per-master SCAN and
 * cluster pub/sub tests.
 *
 * "Created" is not "usable": right after `redis-cli --cluster create` nodes still gossip, and a
 * client that connects then gets CLUSTERDOWN or a slot map missing a node. startCluster() therefore
 * returns only when every node reports `cluster_state:ok` *and* the same complete slot map, which
 * is what makes back-to-back runs reliable.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, startRedis, REDIS_HOST, type RedisProcess } from './redis-server.js';
import { RespError, sendCommand, sendCommands, type RespReply } from './resp.js';

export const CLUSTER_SLOTS = 16_384;

export interface StartClusterOptions {
  /** Number of masters (no replicas). Default 3. */
  masters?: number;
  /**
   * `cluster-require-full-coverage` (Redis default true): when true, one unreachable master makes
   * every node answer CLUSTERDOWN, even for keys on healthy masters. Test both.
   */
  requireFullCoverage?: boolean;
  /** `cluster-node-timeout`; FAULTS.md timings (CLUSTERDOWN after ~4 s of SIGSTOP) assume 2,000. */
  nodeTimeoutMs?: number;
  /** How long startCluster() may wait for a healthy cluster. Default 30,000 ms. */
  readyTimeoutMs?: number;
}

export interface ClusterSeed {
  host: string;
  port: number;
}

export interface RedisCluster {
  /** Masters in port order of creation; nodes[i] owns the i-th contiguous slot range. */
  readonly nodes: readonly RedisProcess[];
  /** Startup nodes in the shape ioredis and node-redis accept. */
  readonly seeds: readonly ClusterSeed[];
  /** The node currently owning `key`'s slot, from CLUSTER KEYSLOT + CLUSTER SLOTS. */
  nodeForKey(key: string): Promise<RedisProcess>;
  /**
   * Resolves when every running node reports state ok and a complete, identical slot map, e.g.
   * after resuming a paused master. Rejects after `timeoutMs` (default 30,000).
   */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node (SIGCONT first) and removes their dirs. Idempotent. */
  stop(): Promise<void>;
}

function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** Slot map of one node as `start-end@port` strings, sorted: equal strings mean equal views. */
function slotMap(reply: RespReply): string[] | undefined {
  if (!Array.isArray(reply)) return undefined;
  const ranges: string[] = [];
  for (const entry of reply as readonly RespReply[]) {
    if (!Array.isArray(entry)) return undefined;
    const [start, end, master] = entry as readonly RespReply[];
    if (typeof start !== 'number' || typeof end !== 'number' || !Array.isArray(master)) return undefined;
    const port = (master as readonly RespReply[])[1];
    if (typeof port !== 'number') return undefined;
    ranges.push(`${start}-${end}@${port}`);
  }
  return ranges.sort();
}

function coversAllSlots(ranges: readonly string[]): boolean {
  let covered = 0;
  for (const range of ranges) {
    const match = /^(\d+)-(\d+)@/.exec(range);
    if (!match) return false;
    covered += Number(match[2]) - Number(match[1]) + 1;
  }
  return covered === CLUSTER_SLOTS;
}

/** Why a node is not healthy yet (for the timeout message), or its slot map if it is. */
async function nodeProblem(
  node: RedisProcess,
  expectedNodes: number,
  masterPorts: ReadonlySet<number>,
): Promise<{ problem: string } | { map: string[] }> {
  const fail = (problem: string): { problem: string } => ({ problem });
  let replies: RespReply[];
  try {
    replies = await sendCommands(node.port, [['CLUSTER', 'INFO'], ['CLUSTER', 'SLOTS'], ['CLUSTER', 'NODES']], {
      timeoutMs: 1_000,
      ...(node.password === undefined ? {} : { password: node.password }),
    });
  } catch (error) {
    return fail(`unreachable: ${error instanceof Error ? error.message : String(error)}`);
  }
  const [info, slots, nodes] = replies;
  if (typeof info !== 'string') return fail(`CLUSTER INFO failed: ${String(info)}`);
  const fields = parseInfo(info);
  if (fields.get('cluster_state') !== 'ok') return fail(`cluster_state:${fields.get('cluster_state')}`);
  if (fields.get('cluster_slots_ok') !== String(CLUSTER_SLOTS)) return fail(`cluster_slots_ok:${fields.get('cluster_slots_ok')}`);
  if (fields.get('cluster_known_nodes') !== String(expectedNodes)) return fail(`cluster_known_nodes:${fields.get('cluster_known_nodes')}`);
  const map = slotMap(slots ?? null);
  if (map === undefined || !coversAllSlots(map)) return fail(`incomplete slot map ${JSON.stringify(map)}`);
  const ports = new Set(map.map((r) => Number(r.split('@')[1])));
  if (ports.size !== masterPorts.size || [...ports].some((p) => !masterPorts.has(p))) return fail(`slot map owners ${[...ports].join(',')}`);
  if (typeof nodes !== 'string') return fail(`CLUSTER NODES failed: ${String(nodes)}`);
  for (const line of nodes.split('\n').filter((l) => l.trim() !== '')) {
    const [, , flags = '', , , , , linkState = ''] = line.split(' ');
    if (/fail|handshake|noaddr/.test(flags) || linkState !== 'connected') return fail(`node line not settled: ${line}`);
  }
  return { map };
}

/** Checks that views agree across nodes: one node can be "ok" with a stale map. */
async function clusterProblem(nodes: readonly RedisProcess[]): Promise<string | undefined> {
  const running = nodes.filter((n) => n.running);
  const masterPorts = new Set(nodes.map((n) => n.port));
  const results = await Promise.all(running.map((n) => nodeProblem(n, nodes.length, masterPorts)));
  const maps: string[] = [];
  for (const [i, result] of results.entries()) {
    if ('problem' in result) return `node ${running[i]?.port}: ${result.problem}`;
    maps.push(result.map.join(' '));
  }
  if (new Set(maps).size > 1) return `nodes disagree on the slot map: ${maps.join(' vs ')}`;
  return undefined;
}

async function waitHealthy(nodes: readonly RedisProcess[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let problem: string | undefined;
  for (;;) {
    try {
      problem = await clusterProblem(nodes);
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    if (problem === undefined) return;
    if (Date.now() > deadline) throw new Error(`cluster not healthy after ${timeoutMs} ms: ${problem}`);
    await sleep(50);
  }
}

/**
 * redis-cli refuses to create clusters with fewer than 3 masters, but 1- and 2-node clusters are
 * cheap ways to exercise cluster code paths, so those are assembled by hand: disjoint slot ranges,
 * distinct config epochs (avoids an epoch-collision round), then MEET.
 */
async function assembleByHand(nodes: readonly RedisProcess[]): Promise<void> {
  const per = Math.floor(CLUSTER_SLOTS / nodes.length);
  for (const [i, node] of nodes.entries()) {
    const start = i * per;
    const end = i === nodes.length - 1 ? CLUSTER_SLOTS - 1 : start + per - 1;
    await node.cli('CLUSTER', 'ADDSLOTSRANGE', String(start), String(end));
    await node.cli('CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1));
  }
  const first = nodes[0];
  if (first === undefined) return;
  for (const node of nodes.slice(1)) await node.cli('CLUSTER', 'MEET', REDIS_HOST, String(first.port));
}

export async function startCluster(options: StartClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 1) throw new RangeError(`masters must be a positive integer, got ${masters}`);
  const fullCoverage = options.requireFullCoverage ?? true;
  const nodeTimeout = options.nodeTimeoutMs ?? 2_000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;

  const started = await Promise.allSettled(
    Array.from({ length: masters }, () =>
      startRedis({
        clusterBus: true,
        extraArgs: (port) => [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', `nodes-${port}.conf`,
          '--cluster-node-timeout', String(nodeTimeout),
          '--cluster-require-full-coverage', fullCoverage ? 'yes' : 'no',
        ],
      }),
    ),
  );
  const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
  };
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await stopAll();
    throw failed.reason;
  }

  try {
    if (masters >= 3) {
      await runCli(
        ['--cluster', 'create', ...nodes.map((n) => `${REDIS_HOST}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
        { timeoutMs: readyTimeoutMs },
      );
    } else {
      await assembleByHand(nodes);
    }
    await waitHealthy(nodes, readyTimeoutMs);
  } catch (error) {
    await stopAll();
    throw error;
  }

  return {
    nodes,
    seeds: nodes.map((n) => ({ host: REDIS_HOST, port: n.port })),
    async nodeForKey(key) {
      const reference = nodes.find((n) => n.running);
      if (reference === undefined) throw new Error('no cluster node is running');
      const slot = await sendCommand(reference.port, ['CLUSTER', 'KEYSLOT', key]);
      const map = slotMap(await sendCommand(reference.port, ['CLUSTER', 'SLOTS'])) ?? [];
      for (const range of map) {
        const match = /^(\d+)-(\d+)@(\d+)$/.exec(range);
        if (match && typeof slot === 'number' && slot >= Number(match[1]) && slot <= Number(match[2])) {
          const owner = nodes.find((n) => n.port === Number(match[3]));
          if (owner) return owner;
        }
      }
      throw new RespError(`no node owns slot ${String(slot)} of ${key}`);
    },
    waitUntilHealthy: (timeoutMs = 30_000) => waitHealthy(nodes, timeoutMs),
    stop: stopAll,
  };
}
