/**
 * The admin routes as a Hono app to mount with `app.route()`. Hono is an optional peer: it is
 * loaded when `honoAdminRoutes()` is called, never when `hoard/http` is imported.
 */
import { createRequire } from 'node:module';
import type { Context, Hono } from 'hono';
import { ConfigError } from '../errors/config-error.js';
import { AdminApi, BodyTooLargeError } from './api.js';
import type { AdminRequest } from './api.js';
import { resolveAdminOptions } from './options.js';
import type { AdminRoutesOptions } from './options.js';

type HonoModule = { Hono: new () => Hono };

function loadHono(): HonoModule {
  try {
    // `require` in the CommonJS build; from an ES module, a require function resolving from here.
    const load = typeof require === 'function' ? require : createRequire(import.meta.url);
    return load('hono') as HonoModule;
  } catch (error) {
    throw new ConfigError('hono', 'honoAdminRoutes() needs the hono package: npm install hono', { cause: error });
  }
}

/**
 * The admin API and dashboard (see `adminRoutes`) as a Hono app.
 * @example
 * app.route('/admin/cache', honoAdminRoutes({ cache, token: process.env.HOARD_ADMIN_TOKEN }));
 */
export function honoAdminRoutes(options: AdminRoutesOptions): Hono {
  const api = new AdminApi(resolveAdminOptions(options));
  const { Hono: HonoApp } = loadHono();
  const app = new HonoApp();
  const handler = async (c: Context): Promise<Response> => {
    const url = new URL(c.req.url);
    // The matched route is `<mount>/*` (or `<mount>` for the bare mount path): what follows it is ours.
    const base = c.req.routePath.replace(/\/?\*$/, '');
    const path = url.pathname.startsWith(base) ? url.pathname.slice(base.length) || '/' : url.pathname;
    const header = (name: string): string | undefined => c.req.header(name);
    const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
    const request: AdminRequest = {
      method: c.req.method,
      path,
      query: url.searchParams,
      header,
      body: (limit) => readBody(c.req.raw, limit),
      client: { ip: env?.incoming?.socket?.remoteAddress, header },
    };
    const response = await api.handle(request);
    if (response === undefined) return new Response(JSON.stringify({ error: 'not found' }), { status: 404, headers: { 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' } });
    const body = 'stream' in response ? response.stream : response.body;
    return new Response(body, { status: response.status, headers: response.headers });
  };
  app.all('/', handler);
  app.all('/*', handler);
  return Object.defineProperty(app, 'closeAdmin', { value: () => api.close() });
}

async function readBody(request: Request, limit: number): Promise<string | undefined> {
  if (request.body === null) return undefined;
  const reader = (request.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  return size === 0 ? undefined : Buffer.concat(chunks).toString('utf8');
}
