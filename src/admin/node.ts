/**
 * The admin routes as connect-style middleware, for Node's `http` and Express. Only `node:http`
 * types are used, so Express stays an optional peer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AdminApi, BodyTooLargeError } from './api.js';
import type { AdminRequest, AdminResponse } from './api.js';
import { resolveAdminOptions } from './options.js';
import type { AdminRoutesOptions } from './options.js';

/** The admin middleware: call it with `(req, res, next?)`; `close()` ends its live streams. */
export interface AdminMiddleware {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** Ends every live stream (dashboards reconnect when the server is back), e.g. before `server.close()`. */
  close(): void;
  /** Live streams open now. */
  readonly streams: number;
}

/**
 * The admin API and dashboard as connect-style middleware: `GET /stats`, `GET /caches`,
 * `POST /clear`, `POST /invalidate`, `GET /keys`, `GET /keys/:key`, `GET /events` (live
 * figures as server-sent events) and `GET /dashboard`. Every request needs
 * `Authorization: Bearer <token>` (except the dashboard's page and assets, which ask for it),
 * is rate-limited per client, answered with `Cache-Control: no-store`, and reported to `audit`.
 * Paths it does not serve go to `next()` (or get a `404` without one).
 *
 * Mount it before any body parser (it reads its own JSON bodies; `express.json()` ahead of it
 * also works for well-formed bodies).
 * @example
 * app.use('/admin/cache', adminRoutes({ cache, token: process.env.HOARD_ADMIN_TOKEN }));     // Express
 * http.createServer(adminRoutes({ cache, token, basePath: '/admin/cache' }));              // node:http
 */
export function adminRoutes(options: AdminRoutesOptions): AdminMiddleware {
  const api = new AdminApi(resolveAdminOptions(options));
  const base = api.options.basePath;
  const middleware = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q === -1 ? url : url.slice(0, q);
    if (base !== '') {
      if (path !== base && !path.startsWith(`${base}/`)) return void (next === undefined ? notFound(res) : next());
      path = path.slice(base.length) || '/';
    }
    const header = (name: string): string | undefined => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    };
    const request: AdminRequest = {
      method: req.method ?? 'GET',
      path,
      query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
      header,
      body: (limit) => readBody(req, limit),
      client: { ip: req.socket.remoteAddress, header },
    };
    api.handle(request).then(
      (response) => {
        if (response !== undefined) writeResponse(req, res, response);
        else if (next !== undefined) next();
        else notFound(res);
      },
      (error: unknown) => {
        if (next !== undefined) next(error);
        else if (!res.headersSent) writeResponse(req, res, { status: 500, headers: { 'cache-control': 'no-store', 'content-type': 'text/plain' }, body: 'internal error' });
      },
    );
  };
  return Object.defineProperties(middleware, {
    close: { value: () => api.close() },
    streams: { get: () => api.streams },
  }) as AdminMiddleware;
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify({ error: 'not found' }));
}

/** Reads a request body up to `limit` bytes (a body parser that ran first wins). */
export function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const parsed = (req as { body?: unknown }).body;
  if (parsed !== undefined) return Promise.resolve(Buffer.isBuffer(parsed) ? parsed.toString('utf8') : parsed);
  if (req.readableEnded) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume(); // drain the rest; the answer does not wait for it
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(size === 0 ? undefined : Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Writes an admin response on a Node response (a live stream until either side ends it). */
export function writeResponse(req: IncomingMessage, res: ServerResponse, response: AdminResponse): void {
  if ('body' in response) {
    res.writeHead(response.status, response.headers);
    res.end(response.body);
    return;
  }
  res.writeHead(response.status, response.headers);
  res.flushHeaders();
  req.socket.setNoDelay(true);
  const reader = response.stream.getReader();
  const stop = (): void => void reader.cancel().catch(() => undefined);
  res.on('close', stop);
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        res.write(value);
      }
    } catch {
      // cancelled because the client went away
    } finally {
      res.off('close', stop);
      res.end();
    }
  })();
}
