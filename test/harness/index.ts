/**
 * One import for Redis-backed tests: private servers, a cluster, the fault proxy, multi-process
 * instances and polling. Typical shape of a fault test:
 *
 * ```ts
 * const redis = await startRedis();
 * const proxy = await startProxy(redis.port);
 * after(async () => { await proxy.close(); await redis.stop(); });
 * // cache under test connects to proxy.url; then e.g. redis.pause() ... finally redis.resume()
 * ```
 *
 * Every process started here dies with the test process (see cleanup.ts), but tests should still
 * stop what they start so ports and memory are released as the file goes.
 */
export * from './redis-server.js';
export * from './redis-cluster.js';
export * from './proxy.js';
export * from './instances.js';
export { PollTimeoutError, pollUntil, type PollOptions } from './poll.js';
export { RespConnection, RespError, RespTimeoutError, sendCommand, sendCommands, type RespOptions, type RespReply } from './resp.js';
export { canBind, findFreePort, type FindPortOptions } from './ports.js';
