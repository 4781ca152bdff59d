import type { IncomingHttpHeaders } from 'node:http';
import type { RequestView } from './key.js';

/** A {@link RequestView} over Node's `IncomingMessage` headers (Node, Express, Fastify, Hono on Node). */
export class NodeRequestView implements RequestView {
  readonly method: string;
  readonly url: string;
  readonly #headers: IncomingHttpHeaders;

  constructor(method: string | undefined, url: string | undefined, headers: IncomingHttpHeaders) {
    this.method = method ?? 'GET';
    this.url = url ?? '/';
    this.#headers = headers;
  }

  header(name: string): string | undefined {
    const value = this.#headers[name];
    return value === undefined ? undefined : typeof value === 'string' ? value : value.join(', ');
  }
}

/** Validator headers, taken off a miss before the handler runs so that it never answers 304. */
export const VALIDATORS = ['if-none-match', 'if-modified-since'] as const;

/**
 * Removes the validators from `headers`; returns a view of the request as it came, for its own
 * answer (`view` itself when there were none to remove).
 */
export function stripValidators(view: NodeRequestView, headers: IncomingHttpHeaders): NodeRequestView {
  if (headers['if-none-match'] === undefined && headers['if-modified-since'] === undefined) return view;
  const original = new NodeRequestView(view.method, view.url, { ...headers });
  for (const name of VALIDATORS) delete headers[name];
  return original;
}
