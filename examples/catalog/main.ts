/**
 * `npm start`: the catalog service on what the environment gives it.
 *
 *   PORT                 where to listen (default 3000)
 *   DATABASE_URL         PostgreSQL (the service creates and seeds its schema); unset: in-process data
 *   DATABASE_SCHEMA      schema of the service's tables (default catalog)
 *   REDIS_URL            two tiers (memory in front of Redis) with the invalidation bus; unset: memory
 *   CACHE_BACKEND, CACHE_* the cache, as createCache() reads them
 *   HOARD_ADMIN_TOKEN    bearer token of the admin routes and dashboard (random, printed, when unset)
 *   DB_DELAY_MS          added to every database query (default 25)
 *   RESPONSE_CACHE       `false`: no response caching of the public routes
 *
 * Stops cleanly on SIGINT / SIGTERM: requests in flight finish, the cache and the database are
 * closed, the process exits 0.
 */
import { randomBytes } from 'node:crypto';
import { startService } from './service.js';

const env = process.env;
const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`PORT must be a port number, got ${JSON.stringify(env.PORT)}\n`);
  process.exit(2);
}
const tokenGiven = (env.HOARD_ADMIN_TOKEN ?? '') !== '';
const adminToken = tokenGiven ? env.HOARD_ADMIN_TOKEN! : randomBytes(18).toString('base64url');
const delay = env.DB_DELAY_MS === undefined || env.DB_DELAY_MS === '' ? undefined : Number(env.DB_DELAY_MS);

const service = await startService({
  port,
  adminToken,
  databaseUrl: env.DATABASE_URL === '' ? undefined : env.DATABASE_URL,
  schema: env.DATABASE_SCHEMA === '' ? undefined : env.DATABASE_SCHEMA,
  dbDelayMs: delay,
  env,
  responseCache: env.RESPONSE_CACHE !== 'false',
});

const lines = [
  `catalog service on ${service.url} (cache: ${service.backend}, database: ${service.catalog.kind})`,
  `  API        ${service.url}/api/acme/products?category=books&page=1`,
  `  dashboard  ${service.url}/admin/cache/dashboard`,
  `  metrics    ${service.url}/metrics`,
  tokenGiven ? '  admin token from HOARD_ADMIN_TOKEN' : `  admin token ${adminToken} (set HOARD_ADMIN_TOKEN to choose one)`,
];
process.stdout.write(`${lines.join('\n')}\n`);

let stopping = false;
const stop = (signal: NodeJS.Signals): void => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`${signal}: finishing requests in flight, closing the cache\n`);
  service.close().then(
    () => {
      process.stdout.write('stopped\n');
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`shutdown failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
