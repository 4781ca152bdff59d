/** `hoard/http`: response caching for Node's `http`, Express, Fastify and Hono over one core. */
export {
  cacheResponse,
  cachePublic,
  cachePrivate,
  noCache,
  type CacheResponseOptions,
  type CacheRouteOptions,
  type Middleware,
  type NextFunction,
} from './node.js';
export { fastifyResponseCache, type FastifyResponseCacheOptions, type FastifyRouteCacheOptions } from './fastify.js';
export { honoResponseCache, type HonoResponseCacheOptions } from './hono.js';
export type { ResponseCacheOptions } from './options.js';
// The admin API and dashboard mount the same ways as the response cache.
export * from '../admin/index.js';
