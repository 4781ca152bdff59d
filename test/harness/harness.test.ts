/**
 * Self-tests of the Redis test harness against real processes. They pin the behaviours the fault
 * tests will rely on (a paused server really hangs, restart really reuses the port, the proxy
 * really delays/drops/resets), so a fault test failing later points at the cache, not the harness.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { EchoHandlers } from './fixtures/echo-instance.js';
import {
  InstanceCallError,
  InstanceCallTimeoutError,
  InstanceExitedError,
  PollTimeoutError,
  RedisCliError,
  RespConnection,
  RespError,
  RespTimeoutError,
  findFreePort,
  pollUntil,
  sendCommand,
  sendCommands,
  startCluster,
  startInstances,
  startProxy,
  startRedis,
  type FaultProxy,
  type Instance,
  type RedisProcess,
} from './index.js';

const ECHO_ENTRY = new URL('./fixtures/echo-instance.ts', import.meta.url);
const ORPHAN_ENTRY = new URL('./fixtures/orphan.ts', import.meta.url);

/** Everything this file started, checked by the last test. */
const usedPorts = new Set<number>();
const usedPids = new Set<number>();
const usedDirs = new Set<string>();

function track<T extends RedisProcess>(server: T): T {
  usedPorts.add(server.port);
  usedPids.add(server.pid);
  usedDirs.add(server.dir);
  return server;
}

function pgrep(pattern: string, extra: readonly string[] = []): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('pgrep', [...extra, '-f', pattern], (error, stdout) => {
      if (error === null) resolve(stdout.split('\n').filter(Boolean));
      else if (error.code === 1) resolve([]); // pgrep: no process matched
      else reject(error);
    });
  });
}

/** redis-server retitles itself "redis-server 127.0.0.1:PORT [cluster]", so match that. */
const redisPattern = (port: number): string => `redis-server .*:${port}( |$)`;

/** Parent pid from /proc/<pid>/stat (field 4; the comm field before it may contain spaces). */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** 'pending' if `promise` has not settled within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const marker = Symbol('pending');
  const outcome = await Promise.race([promise.then(() => true, () => true), sleep(ms).then(() => marker)]);
  return outcome !== marker;
}

describe('redis-server', () => {
  it('starts on a free port, answers PING and reports its own pid', async () => {
    const redis = track(await startRedis());
    try {
      assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
      assert.equal(await sendCommand(redis.port, ['PING']), 'PONG');
      assert.equal(await redis.cli('ping'), 'PONG');
      const info = await redis.cli('info', 'server');
      assert.match(info, new RegExp(`process_id:${redis.pid}\\r?\\n`));
      // Proves the pattern the leak check below relies on actually matches a live server.
      assert.deepEqual(await pgrep(redisPattern(redis.port)), [String(redis.pid)]);
      assert.equal(parentOf(redis.pid), process.pid, 'spawned directly, no shell in between');
      assert.deepEqual(await pgrep('redis-(server|cli)', ['-P', String(process.pid)]), [String(redis.pid)]);
    } finally {
      await redis.stop();
    }
    assert.equal(isAlive(redis.pid), false);
    assert.equal(existsSync(redis.dir), false, 'stop() removes the data dir');
    await redis.stop(); // idempotent
  });

  it('gives parallel starts distinct ports', async () => {
    const servers = await Promise.all([startRedis(), startRedis(), startRedis()]);
    servers.forEach(track);
    try {
      assert.equal(new Set(servers.map((s) => s.port)).size, 3);
      const pongs = await Promise.all(servers.map((s) => sendCommand(s.port, ['PING'])));
      assert.deepEqual(pongs, ['PONG', 'PONG', 'PONG']);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  });

  it('an explicit busy port is retried until it frees up', async () => {
    const port = await findFreePort();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    setTimeout(() => squatter.close(), 300);
    const redis = track(await startRedis({ port }));
    try {
      assert.equal(redis.port, port);
      assert.equal(await sendCommand(port, ['PING']), 'PONG');
      assert.match(redis.logs(), /Address already in use/, 'the first attempt did hit the squatter');
    } finally {
      await redis.stop();
    }
  });

  it('pause() makes PING hang; resume() delivers the late reply', async () => {
    const redis = track(await startRedis());
    try {
      const conn = await RespConnection.open(redis.port);
      redis.pause();
      try {
        const ping = conn.send(['PING'], { timeoutMs: 10_000 });
        assert.equal(await settlesWithin(ping, 300), false, 'a paused server must not answer');
        // New connections still succeed (kernel backlog) but get no reply: a half-open server.
        await assert.rejects(sendCommand(redis.port, ['PING'], { timeoutMs: 300 }), RespTimeoutError);
        redis.resume();
        assert.equal(await ping, 'PONG');
      } finally {
        redis.resume();
        conn.close();
      }
    } finally {
      await redis.stop();
    }
  });

  it('kill() refuses connections; restart() comes back empty on the same port', async () => {
    const redis = track(await startRedis());
    try {
      const { port, pid } = redis;
      await redis.cli('set', 'k', 'v');
      await redis.kill();
      assert.equal(redis.running, false);
      await assert.rejects(sendCommand(port, ['PING']), { code: 'ECONNREFUSED' });
      await redis.restart();
      track(redis);
      assert.equal(redis.port, port);
      assert.notEqual(redis.pid, pid);
      assert.equal(redis.running, true);
      assert.equal(await sendCommand(port, ['PING']), 'PONG');
      assert.equal(await sendCommand(port, ['GET', 'k']), null, 'no persistence: data is gone');
      // Restarting a paused server must work too (SIGKILL ends stopped processes).
      redis.pause();
      await redis.restart();
      track(redis);
      assert.equal(await sendCommand(port, ['PING']), 'PONG');
    } finally {
      await redis.stop();
    }
  });

  it('password servers refuse unauthenticated commands with NOAUTH', async () => {
    const redis = track(await startRedis({ password: 's3cret', extraArgs: ['--enable-debug-command', 'local'] }));
    try {
      assert.equal(redis.password, 's3cret');
      await assert.rejects(sendCommand(redis.port, ['SET', 'k', 'v']), (error: unknown) => {
        assert.ok(error instanceof RespError);
        assert.equal(error.prefix, 'NOAUTH');
        return true;
      });
      assert.deepEqual(await sendCommands(redis.port, [['SET', 'k', 'v'], ['GET', 'k']], { password: 's3cret' }), ['OK', 'v']);
      assert.equal(await redis.cli('get', 'k'), 'v', 'cli() authenticates by itself');
      assert.equal(await redis.cli('debug', 'sleep', '0'), 'OK', 'extraArgs reach the server');
    } finally {
      await redis.stop();
    }
  });

  it('cli() rejects on error replies; CONFIG SET and DBSIZE work', async () => {
    const redis = track(await startRedis());
    try {
      await assert.rejects(redis.cli('nosuchcommand'), (error: unknown) => {
        assert.ok(error instanceof RedisCliError);
        assert.match(error.message, /unknown command/);
        return true;
      });
      assert.equal(await redis.cli('config', 'set', 'maxmemory', '1mb'), 'OK');
      assert.equal(await redis.cli('config', 'get', 'maxmemory'), 'maxmemory\n1048576');
      await redis.cli('set', 'a', '1');
      assert.equal(await redis.cli('dbsize'), '1');
    } finally {
      await redis.stop();
    }
  });

  it('monitor() records every command up to stop()', async () => {
    const redis = track(await startRedis());
    try {
      const monitor = await redis.monitor();
      await sendCommand(redis.port, ['SET', 'x', '1']);
      await sendCommand(redis.port, ['SCAN', '0', 'MATCH', 'x*']);
      await sendCommand(redis.port, ['GET', 'x']);
      await monitor.stop();
      assert.deepEqual(monitor.commands(), ['set', 'scan', 'get']);
      assert.equal(monitor.commands().includes('keys'), false);
      assert.equal(monitor.disconnected, false);
      assert.equal((await pgrep(`redis-cli -h 127.0.0.1 -p ${redis.port} monitor`)).length, 0);

      const lost = await redis.monitor();
      await redis.cli('client', 'kill', 'type', 'normal');
      await pollUntil(() => lost.disconnected, { timeoutMs: 2_000, description: 'monitor noticed the kill' });
      await lost.stop();
    } finally {
      await redis.stop();
    }
  });
});

// Concurrent: each cluster spends ~2 s in Redis' post-start writable delay; overlap them.
describe('redis-cluster', { concurrency: true }, () => {
  it('spreads keys over 3 masters and rejects cross-slot commands', async () => {
    const cluster = await startCluster();
    cluster.nodes.forEach(track);
    try {
      assert.equal(cluster.nodes.length, 3);
      assert.deepEqual(
        cluster.seeds,
        cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      );
      const [first] = cluster.nodes;
      assert.ok(first);
      const keys = Array.from({ length: 30 }, (_, i) => `key:${i}`);
      await Promise.all(keys.map((k) => first.cli('-c', 'set', k, 'v')));

      const sizes = await Promise.all(cluster.nodes.map(async (n) => Number(await n.cli('dbsize'))));
      assert.equal(sizes.reduce((a, b) => a + b, 0), 30);
      assert.ok(sizes.every((s) => s > 0), `keys spread over every master: ${sizes.join('/')}`);

      const owner = await cluster.nodeForKey('key:0');
      const slot = await owner.cli('cluster', 'keyslot', 'key:0');
      assert.ok(Number(await owner.cli('cluster', 'countkeysinslot', slot)) >= 1);
      for (const other of cluster.nodes.filter((n) => n !== owner)) {
        assert.equal(await other.cli('cluster', 'countkeysinslot', slot), '0');
      }

      await assert.rejects(first.cli('-c', 'mset', 'a', '1', 'b', '2'), /CROSSSLOT/);
      assert.equal(await first.cli('-c', 'mset', '{u1}:a', '1', '{u1}:b', '2'), 'OK');
    } finally {
      await cluster.stop();
    }
  });

  it('assembles a 1-master cluster by hand (redis-cli needs 3)', async () => {
    const cluster = await startCluster({ masters: 1, requireFullCoverage: false });
    cluster.nodes.forEach(track);
    try {
      const [only] = cluster.nodes;
      assert.ok(only);
      assert.match(await only.cli('cluster', 'info'), /cluster_state:ok/);
      assert.equal(await only.cli('mset', '{t}a', '1', '{t}b', '2'), 'OK');
    } finally {
      await cluster.stop();
    }
  });
});

describe('proxy', () => {
  let redis: RedisProcess;
  let proxy: FaultProxy;
  before(async () => {
    redis = track(await startRedis());
    proxy = await startProxy(redis.port);
  });
  after(async () => {
    await proxy.close();
    await redis.stop();
  });

  it('forwards and counts', async () => {
    assert.notEqual(proxy.port, redis.port);
    assert.equal(await sendCommand(proxy.port, ['PING']), 'PONG');
    assert.deepEqual(await sendCommands(proxy.port, [['SET', 'k', 'v'], ['GET', 'k']]), ['OK', 'v']);
    const stats = proxy.stats();
    assert.ok(stats.commands >= 2, `commands counted: ${stats.commands}`);
    assert.equal(stats.accepted, 2);
    proxy.resetStats();
    assert.deepEqual(proxy.stats(), { commands: 0, connections: proxy.stats().connections, accepted: 0 });
  });

  it('delayMs delays each direction and keeps order when the delay changes', async () => {
    const conn = await RespConnection.open(proxy.port);
    try {
      proxy.set({ delayMs: 100 });
      const start = performance.now();
      assert.equal(await conn.send(['PING']), 'PONG');
      assert.ok(performance.now() - start >= 100, 'round trip >= delay');

      const slow = conn.send(['ECHO', 'first']);
      await sleep(10);
      proxy.set({ delayMs: 0 });
      const fast = conn.send(['ECHO', 'second']);
      const order: string[] = [];
      await Promise.all([slow.then((r) => order.push(String(r))), fast.then((r) => order.push(String(r)))]);
      assert.deepEqual(order, ['first', 'second']);
    } finally {
      proxy.reset();
      conn.close();
    }
  });

  it('blackhole hangs, refuse closes new connections', async () => {
    proxy.set({ mode: 'blackhole' });
    proxy.resetStats();
    await assert.rejects(sendCommand(proxy.port, ['PING'], { timeoutMs: 300 }), RespTimeoutError);
    assert.equal(proxy.stats().commands, 1, 'blackholed commands are still counted');

    proxy.set({ mode: 'refuse' });
    const closedWithoutData = await new Promise<boolean>((resolve) => {
      const socket = net.connect(proxy.port, '127.0.0.1');
      let gotData = false;
      socket.on('data', () => {
        gotData = true;
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(!gotData));
      socket.write('*1\r\n$4\r\nPING\r\n');
    });
    assert.equal(closedWithoutData, true);
    proxy.set({ mode: 'pass' });
    assert.equal(await sendCommand(proxy.port, ['PING']), 'PONG');
  });

  it('resetAll() RSTs open connections; resetAfterBytes cuts a reply short', async () => {
    const conns = await Promise.all([RespConnection.open(proxy.port), RespConnection.open(proxy.port)]);
    for (const c of conns) assert.equal(await c.send(['PING']), 'PONG');
    assert.equal(proxy.stats().connections, 2);
    proxy.resetAll();
    const errors = await Promise.all(conns.map((c) => c.closed));
    for (const error of errors) assert.equal((error as NodeJS.ErrnoException | undefined)?.code, 'ECONNRESET');
    await pollUntil(() => proxy.stats().connections === 0, { timeoutMs: 1_000 });

    await sendCommand(redis.port, ['SET', 'big', 'x'.repeat(5_000)]);
    proxy.set({ resetAfterBytes: 100 });
    const conn = await RespConnection.open(proxy.port);
    await assert.rejects(conn.send(['GET', 'big']), /ECONNRESET|closed/);
    proxy.reset();
  });

  it('close() stops listening', async () => {
    const { port } = proxy;
    await proxy.close();
    await assert.rejects(sendCommand(port, ['PING']), { code: 'ECONNREFUSED' });
    await proxy.close(); // idempotent
  });
});

describe('instances', () => {
  it('runs handlers in separate processes and round-trips values and errors', async () => {
    const group = await startInstances<EchoHandlers, 2>(2, {
      entry: ECHO_ENTRY,
      env: { HARNESS_SHARED: 'yes' },
      envFor: (i) => ({ HARNESS_NAME: `inst-${i}` }),
    });
    const [a, b] = group.instances;
    try {
      const pids = await Promise.all([a.call('pid'), b.call('pid')]);
      assert.deepEqual(pids, [a.pid, b.pid]);
      assert.notEqual(a.pid, b.pid);
      assert.ok(!pids.includes(process.pid));
      assert.ok(a.methods.includes('echo'));

      const value = { at: new Date(0), map: new Map([['k', 1n]]), set: new Set(['x']), missing: undefined };
      assert.deepEqual(await a.call('echo', value), value);
      assert.equal(await b.call('add', 2, 3), 5);
      assert.equal(await a.call('env', 'HARNESS_SHARED'), 'yes');
      assert.equal(await b.call('env', 'HARNESS_NAME'), 'inst-1');

      await assert.rejects(a.call('throwSync', 'boom'), { name: 'CodedError', message: 'boom', code: 'E_SYNC' });
      await assert.rejects(b.call('rejectAsync', 'later'), (error: unknown) => {
        assert.ok(error instanceof InstanceCallError);
        assert.equal(error.code, 'E_ASYNC');
        assert.equal(error.method, 'rejectAsync');
        assert.match(error.remoteStack ?? '', /echo-instance/);
        return true;
      });
      await assert.rejects((a as Instance).call('nope'), { code: 'ERR_UNKNOWN_METHOD' });
      await assert.rejects(a.call('unclonable'), { name: 'DataCloneError', code: 'ERR_RPC_UNCLONABLE' });
      await assert.rejects(a.callWith({ timeoutMs: 50 }, 'sleep', 1_000), InstanceCallTimeoutError);
      assert.equal(await a.call('sleep', 1), 'slept', 'a timed-out call does not break later ones');

      b.pause();
      await assert.rejects(b.callWith({ timeoutMs: 200 }, 'pid'), InstanceCallTimeoutError);
      b.resume();
      assert.equal(await b.call('pid'), b.pid);

      const pending = b.call('sleep', 5_000);
      await b.kill();
      await assert.rejects(pending, InstanceExitedError);
      await assert.rejects(b.call('pid'), InstanceExitedError);
      assert.equal(b.exited, true);
    } finally {
      await group.stopAll();
    }
    assert.equal(a.exited, true);
    for (const pid of [a.pid, b.pid]) assert.equal(isAlive(pid), false);
  });

  it('pollUntil() returns the elapsed time or times out', async () => {
    let calls = 0;
    const elapsed = await pollUntil(() => ++calls >= 4, { timeoutMs: 1_000, intervalMs: 5 });
    assert.ok(elapsed >= 10 && elapsed < 500, `elapsed ${elapsed}`);
    await assert.rejects(pollUntil(async () => false, { timeoutMs: 30, description: 'never' }), (error: unknown) => {
      assert.ok(error instanceof PollTimeoutError);
      assert.match(error.message, /never still false/);
      return true;
    });
  });
});

describe('cleanup', () => {
  it('a SIGKILLed test process still loses its paused servers (reaper)', async () => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(ORPHAN_ENTRY)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
        });
        child.once('exit', (code) => reject(new Error(`orphan fixture exited early with ${code}`)));
      });
      const orphan = JSON.parse(line) as { port: number; pid: number; dir: string };
      usedPorts.add(orphan.port);
      usedPids.add(orphan.pid);
      usedDirs.add(orphan.dir);
      assert.equal(isAlive(orphan.pid), true);
      child.kill('SIGKILL');
      await pollUntil(async () => !isAlive(orphan.pid) && !existsSync(orphan.dir) && (await pgrep(`redis-cli .*-p ${orphan.port} `)).length === 0, {
        timeoutMs: 3_000,
        intervalMs: 20,
        description: 'reaper killed the orphaned redis-server and monitor and removed the dir',
      });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('leaves no redis-server, redis-cli or data dir behind', async () => {
    assert.ok(usedPorts.size >= 10, `tracked ${usedPorts.size} ports`);
    // Other test files may legitimately reuse a port we released, so a match only counts as our
    // leak if it is our child or one of the pids we started.
    const ours = (pid: string): boolean => usedPids.has(Number(pid)) || parentOf(Number(pid)) === process.pid;
    for (const port of usedPorts) {
      assert.deepEqual((await pgrep(redisPattern(port))).filter(ours), [], `redis-server on ${port} still running`);
      assert.deepEqual((await pgrep(`redis-cli .*-p ${port} `)).filter(ours), [], `redis-cli on ${port} still running`);
    }
    assert.deepEqual(await pgrep(`redis-(server|cli)`, ['-P', String(process.pid)]), [], 'no redis child of ours is left');
    for (const pid of usedPids) assert.equal(isAlive(pid), false, `pid ${pid} still alive`);
    for (const dir of usedDirs) assert.equal(existsSync(dir), false, `${dir} not removed`);
  });
});
