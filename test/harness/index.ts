/** One import for Redis-backed tests: servers, cluster, fault proxy, instances, polling. */
export * from './redis-server.js';
export * from './redis-cluster.js';
export * from './proxy.js';
export * from './instances.js';
export { pollUntil, PollTimeoutError, type PollOptions } from './poll.js';
export { RespConnection, RespError, RespTimeoutError, sendCommand, sendCommands, type RespReply, type RespOptions } from './resp.js';
export { canBind, findFreePort, type FindPortOptions } from './ports.js';
