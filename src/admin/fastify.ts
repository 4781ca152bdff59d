/**
 * The admin routes as a Fastify plugin. Wrapped with `fastify-plugin` (metadata: Fastify 5, a
 * name), it registers an encapsulated context of its own under `prefix`, where it reads request
 * bodies itself: its `400` and `413` answers carry the admin headers, whatever body parsers the
 * application has.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AdminApi } from './api.js';
import type { AdminRequest } from './api.js';
import { readBody, writeResponse } from './node.js';
import { resolveAdminOptions } from './options.js';
import type { AdminRoutesOptions } from './options.js';

/** Options of {@link fastifyAdminRoutes}: the admin options plus the mount path. */
export interface FastifyAdminRoutesOptions extends AdminRoutesOptions {
  /** Where the routes answer. @default '' (the root of the context it is registered in) @example '/admin/cache' */
  prefix?: string | undefined;
}

async function hoardAdminRoutes(fastify: FastifyInstance, options: FastifyAdminRoutesOptions): Promise<void> {
  const api = new AdminApi(resolveAdminOptions(options));
  const prefix = (options.prefix ?? '').replace(/\/+$/, '');
  fastify.addHook('onClose', function hoardAdminClose(_instance, done) {
    api.close();
    done();
  });
  await fastify.register(
    async function hoardAdminContext(child: FastifyInstance) {
      child.removeAllContentTypeParsers();
      // The body stays a stream: the routes read it with their own size limit.
      child.addContentTypeParser('*', function hoardAdminBody(_request, payload, done) {
        done(null, payload);
      });
      const handler = async function hoardAdminHandler(request: FastifyRequest, reply: FastifyReply): Promise<void> {
        const url = request.raw.url ?? '/';
        const q = url.indexOf('?');
        const pathname = q === -1 ? url : url.slice(0, q);
        const path = pathname.startsWith(prefix) ? pathname.slice(prefix.length) || '/' : pathname;
        const header = (name: string): string | undefined => {
          const value = request.headers[name];
          return Array.isArray(value) ? value.join(', ') : value;
        };
        const admin: AdminRequest = {
          method: request.method,
          path,
          query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
          header,
          body: (limit) => readBody(request.raw, limit),
          client: { ip: request.ip, header },
        };
        const response = await api.handle(admin);
        if (response === undefined) {
          await reply.code(404).header('cache-control', 'no-store').send({ error: 'not found' });
          return;
        }
        if ('stream' in response) {
          reply.hijack();
          writeResponse(request.raw, reply.raw, response);
          return;
        }
        await reply.code(response.status).headers(response.headers).send(response.body);
      };
      child.all('/', handler);
      child.all('/*', handler);
    },
    { prefix },
  );
}

/**
 * The admin API and dashboard (see `adminRoutes`) as a Fastify plugin.
 * @example
 * await app.register(fastifyAdminRoutes, { prefix: '/admin/cache', cache, token: process.env.HOARD_ADMIN_TOKEN });
 */
export const fastifyAdminRoutes = fp(hoardAdminRoutes, { fastify: '5.x', name: 'hoard-admin-routes' });
