/**
 * Which Redis client hoard builds on: raw GET throughput of ioredis with hoard's adaptive
 * pipelining (what hoard's stores use), with ioredis' own auto-pipelining, plain, and the official
 * node-redis v5, at 1 and 64 calls in flight, against one redis-server started here.
 * Run: `npm run bench:clients`.
 */
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { adaptivePipelining } from '../src/redis/index.js';
import { startRedis } from '../test/harness/redis-server.js';
import { log } from './lib/run.js';

const MS = Number(process.env.BENCH_MS ?? 2_000);
const ROUNDS = 3;
const KEYS = 1_000;

const server = await startRedis();
const clients: { name: string; get: (key: string) => Promise<unknown>; close: () => Promise<unknown> }[] = [];
try {
  const adaptive = new Redis(server.url, { enableOfflineQueue: false, lazyConnect: true });
  adaptivePipelining(adaptive);
  const auto = new Redis(server.url, { enableAutoPipelining: true, enableOfflineQueue: false, lazyConnect: true });
  const plain = new Redis(server.url, { enableOfflineQueue: false, lazyConnect: true });
  const official = createClient({ url: server.url, disableOfflineQueue: true });
  official.on('error', () => undefined);
  await Promise.all([adaptive.connect(), auto.connect(), plain.connect(), official.connect()]);
  clients.push(
    { name: 'ioredis, adaptive pipelining (hoard)', get: (k) => adaptive.get(k), close: () => adaptive.quit() },
    { name: 'ioredis, auto-pipelining', get: (k) => auto.get(k), close: () => auto.quit() },
    { name: 'ioredis, plain', get: (k) => plain.get(k), close: () => plain.quit() },
    { name: 'node-redis v5', get: (k) => official.get(k), close: () => official.quit() },
  );
  const value = JSON.stringify({ id: 1, name: 'x'.repeat(100) });
  for (let i = 0; i < KEYS; i++) await auto.set(`k${i}`, value);

  const run = async (get: (key: string) => Promise<unknown>, inFlight: number): Promise<number> => {
    let ops = 0;
    const end = performance.now() + MS;
    await Promise.all(
      Array.from({ length: inFlight }, async (_, worker) => {
        for (let i = worker; performance.now() < end; i++) {
          await get(`k${i % KEYS}`);
          ops++;
        }
      }),
    );
    return ops / (MS / 1000);
  };
  const rows: string[] = ['| client | GET/s, 1 in flight | × ioredis (hoard) | GET/s, 64 in flight | × ioredis (hoard) |', '| --- | --: | --: | --: | --: |'];
  const medians = new Map<string, number[]>();
  for (const inFlight of [1, 64]) {
    for (const client of clients) medians.set(`${client.name}@${inFlight}`, []);
    // Rounds interleave the clients, so a load spike hits them alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const client of clients) medians.get(`${client.name}@${inFlight}`)!.push(await run(client.get, inFlight));
    }
    log(`measured ${inFlight} in flight`);
  }
  const median = (key: string): number => {
    const s = [...medians.get(key)!].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
  };
  const base1 = median(`${clients[0]!.name}@1`);
  const base64 = median(`${clients[0]!.name}@64`);
  for (const client of clients) {
    const one = median(`${client.name}@1`);
    const many = median(`${client.name}@64`);
    rows.push(`| ${client.name} | ${Math.round(one).toLocaleString('en')} | ${(one / base1).toFixed(2)}× | ${Math.round(many).toLocaleString('en')} | ${(many / base64).toFixed(2)}× |`);
  }
  process.stdout.write(`\nRaw GET of a 120-byte value, median of ${ROUNDS} rounds of ${MS} ms\n\n${rows.join('\n')}\n`);
} finally {
  await Promise.allSettled(clients.map((c) => c.close()));
  await server.stop();
}
