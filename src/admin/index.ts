/**
 * The admin API, live dashboard and key inspection of hoard caches, for Node `http` and Express
 * (`adminRoutes`), Fastify (`fastifyAdminRoutes`) and Hono (`honoAdminRoutes`). Re-exported by
 * `hoard/http`.
 */
export { adminRoutes, type AdminMiddleware } from './node.js';
export { fastifyAdminRoutes, type FastifyAdminRoutesOptions } from './fastify.js';
export { honoAdminRoutes } from './hono.js';
export { ADMIN_DEFAULTS, type AdminAction, type AdminAuditEvent, type AdminClientInfo, type AdminRoutesOptions } from './options.js';
export { AUDIT_CHANNEL, CONTENT_SECURITY_POLICY } from './api.js';
export type { AdminStats, L2State, RedisFigures, TierCounts } from './figures.js';
export type { KeyPage, KeyReport, TierHolding } from './keys.js';
