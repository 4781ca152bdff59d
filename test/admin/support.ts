/**
 * The admin routes mounted on real listening servers (port 0 on 127.0.0.1), one per adapter:
 * Node `http`, Express, Fastify and Hono. Each mount knows how to end its live streams and close.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { adminRoutes, fastifyAdminRoutes, honoAdminRoutes } from '../../src/admin/index.js';
import type { AdminRoutesOptions } from '../../src/admin/index.js';

export interface Mounted {
  /** Base URL of the admin routes, e.g. `http://127.0.0.1:1234/admin`. */
  base: string;
  close(): Promise<void>;
}

export type Adapter = 'node' | 'express' | 'fastify' | 'hono';
export const ADAPTERS: readonly Adapter[] = ['node', 'express', 'fastify', 'hono'];

async function listen(server: http.Server): Promise<number> {
  if (!server.listening) await new Promise<void>((resolve) => server.once('listening', resolve));
  return (server.address() as AddressInfo).port;
}

function shut(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Mounts the admin routes at `/admin` of a fresh server of the given framework. */
export async function mount(adapter: Adapter, options: AdminRoutesOptions): Promise<Mounted> {
  switch (adapter) {
    case 'node': {
      const routes = adminRoutes({ ...options, basePath: '/admin' });
      const server = http.createServer((req, res) => routes(req, res));
      server.listen(0, '127.0.0.1');
      return mounted(server, routes);
    }
    case 'express': {
      const app = express();
      const routes = adminRoutes(options);
      app.use('/admin', routes);
      return mounted(app.listen(0, '127.0.0.1'), routes);
    }
    case 'fastify': {
      const app = Fastify();
      await app.register(fastifyAdminRoutes, { ...options, prefix: '/admin' });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as AddressInfo).port;
      return {
        base: `http://127.0.0.1:${port}/admin`,
        close: async () => {
          app.server.closeAllConnections();
          await app.close();
        },
      };
    }
    case 'hono': {
      const app = new Hono();
      const admin = honoAdminRoutes(options);
      app.route('/admin', admin);
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as http.Server;
      const port = await listen(server);
      return {
        base: `http://127.0.0.1:${port}/admin`,
        close: async () => {
          (admin as unknown as { closeAdmin(): void }).closeAdmin();
          await shut(server);
        },
      };
    }
  }
}

export interface Snapshot {
  at: number;
  caches: ({ name: string; hits: number; misses: number; size: number } & Record<string, unknown>)[];
  monitors: { name: string; calls: number }[];
}

/** Reads server-sent events from a fetch() body until `count` snapshots came. */
export async function readSnapshots(body: ReadableStream<Uint8Array>, count: number): Promise<Snapshot[]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const out: Snapshot[] = [];
  let buffer = '';
  while (out.length < count) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split('\n').find((l) => l.startsWith('data:'));
      if (block.includes('event: snapshot') && data !== undefined) out.push(JSON.parse(data.slice(5)) as Snapshot);
    }
  }
  await reader.cancel();
  return out;
}

/** A listening server with connect-style admin routes at `/admin`: its base URL and how to close both. */
async function mounted(server: http.Server, routes: { close(): void }): Promise<{ base: string; close(): Promise<void> }> {
  const port = await listen(server);
  return {
    base: `http://127.0.0.1:${port}/admin`,
    close: async () => {
      routes.close();
      await shut(server);
    },
  };
}
