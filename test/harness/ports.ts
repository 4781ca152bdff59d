/**
 * Free loopback ports for servers the tests start.
 *
 * Test files run in parallel processes, so "free" is only a hint: another file can grab the port
 * between our probe and redis-server's bind. Callers therefore treat EADDRINUSE from the server as
 * "pick again" (see startRedis). Within this process we never hand the same port out twice, which
 * removes the collisions we can actually control.
 */
import net from 'node:net';

const handedOut = new Set<number>();

/** Lowest ephemeral port on Linux; cluster ports stay below it so outgoing sockets never take them. */
const EPHEMERAL_LOW = 32_768;
/** Redis Cluster listens on the data port + 10000 for its bus. */
export const CLUSTER_BUS_OFFSET = 10_000;

/** True when 127.0.0.1:port can be bound right now (it is closed again before resolving). */
export function canBind(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** Lets the kernel choose: it rotates through the ephemeral range, so parallel files rarely collide. */
function kernelPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('listening socket has no port'));
      });
    });
  });
}

export interface FindPortOptions {
  /**
   * Also require port + 10000 to be free (Redis Cluster bus). Port 0 cannot give this guarantee and
   * ephemeral ports + 10000 may exceed 65535, so such ports are drawn at random below the
   * ephemeral range instead.
   */
  clusterBus?: boolean;
  host?: string;
}

export async function findFreePort(options: FindPortOptions = {}): Promise<number> {
  const host = options.host ?? '127.0.0.1';
  for (let attempt = 0; attempt < 200; attempt++) {
    let port: number;
    if (options.clusterBus === true) {
      const low = 10_000;
      const high = EPHEMERAL_LOW - CLUSTER_BUS_OFFSET; // exclusive
      port = low + Math.floor(Math.random() * (high - low));
      if (handedOut.has(port) || handedOut.has(port + CLUSTER_BUS_OFFSET)) continue;
      if (!(await canBind(port, host)) || !(await canBind(port + CLUSTER_BUS_OFFSET, host))) continue;
      handedOut.add(port + CLUSTER_BUS_OFFSET);
    } else {
      port = await kernelPort(host);
      if (handedOut.has(port)) continue;
    }
    handedOut.add(port);
    return port;
  }
  throw new Error('could not find a free loopback port after 200 attempts');
}
