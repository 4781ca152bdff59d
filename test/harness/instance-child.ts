/**
 * Child side of the multi-instance RPC (FAULTS.md section 3.6): each cache instance runs in its own
 * Node process, because instances sharing one event loop would share timers and sockets and could
 * never show a real pub/sub gap, a blocked loop or a killed peer.
 *
 * Entry modules call serveInstance() once with their handlers. Values cross the IPC channel with
 * the structured-clone ("advanced") serializer, so Date, Map, Set, BigInt and undefined survive,
 * the same shapes the cache codec must round-trip.
 */

/**
 * A handler may declare precise parameter types (`(key: string) => ...`). Method syntax makes
 * parameters bivariant, so such handlers are accepted without `any`.
 */
export type Handler = { bivarianceHack(...args: unknown[]): unknown }['bivarianceHack'];
export type Handlers = Record<string, Handler>;

/** How errors cross the process boundary; the parent rethrows them as Error with these fields. */
export interface SerializedError {
  name: string;
  message: string;
  code: string | number | undefined;
  stack: string | undefined;
}

/** Parent -> child messages. */
export type ParentMessage =
  | { type: 'hoard-rpc-call'; id: number; method: string; args: unknown[] }
  | { type: 'hoard-rpc-shutdown' };

/** Child -> parent messages. */
export type ChildMessage =
  | { type: 'hoard-rpc-ready'; methods: string[] }
  | { type: 'hoard-rpc-result'; id: number; ok: true; value: unknown }
  | { type: 'hoard-rpc-result'; id: number; ok: false; error: SerializedError };

export interface ServeOptions {
  /**
   * Runs on a graceful stop before the process exits, e.g. to close the cache so its Redis
   * connections end cleanly. Not run on kill().
   */
  onShutdown?: () => unknown;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code: unknown = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      code: typeof code === 'string' || typeof code === 'number' ? code : undefined,
      stack: error.stack,
    };
  }
  return { name: 'NonError', message: String(error), code: undefined, stack: undefined };
}

function isParentMessage(message: unknown): message is ParentMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    'type' in message &&
    typeof message.type === 'string' &&
    message.type.startsWith('hoard-rpc-')
  );
}

let serving = false;

/**
 * Answers the parent's calls with `handlers` until the parent disconnects. Exits when the IPC
 * channel closes: that is the only signal a child gets when the test process dies, and a leftover
 * instance would keep publishing into later tests' Redis.
 */
export function serveInstance(handlers: Handlers, options: ServeOptions = {}): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('serveInstance() must run in a process started by startInstances()');
  if (serving) throw new Error('serveInstance() was already called in this process');
  serving = true;

  const reply = (message: ChildMessage, method: string): void => {
    try {
      send(message);
    } catch (error) {
      // The value could not be cloned (e.g. a function): report that instead of crashing.
      if (message.type !== 'hoard-rpc-result' || !message.ok) throw error;
      const detail = error instanceof Error ? error.message : String(error);
      send({
        type: 'hoard-rpc-result',
        id: message.id,
        ok: false,
        error: {
          name: 'DataCloneError',
          message: `${method}() returned a value that cannot cross IPC: ${detail}`,
          code: 'ERR_RPC_UNCLONABLE',
          stack: undefined,
        },
      } satisfies ChildMessage);
    }
  };

  process.on('message', (message: unknown) => {
    if (!isParentMessage(message)) return;
    if (message.type === 'hoard-rpc-shutdown') {
      void Promise.resolve()
        .then(() => options.onShutdown?.())
        .catch((error: unknown) => {
          process.stderr.write(`onShutdown failed: ${String(error)}\n`);
        })
        .finally(() => process.exit(0));
      return;
    }
    const { id, method, args } = message;
    const handler = Object.hasOwn(handlers, method) ? handlers[method] : undefined;
    if (handler === undefined) {
      const error = Object.assign(new Error(`unknown method ${JSON.stringify(method)}`), { code: 'ERR_UNKNOWN_METHOD' });
      reply({ type: 'hoard-rpc-result', id, ok: false, error: serializeError(error) }, method);
      return;
    }
    // new Promise: a handler that throws synchronously is reported like one that rejects.
    new Promise<unknown>((resolve) => resolve(handler(...args))).then(
      (value) => reply({ type: 'hoard-rpc-result', id, ok: true, value }, method),
      (error: unknown) => reply({ type: 'hoard-rpc-result', id, ok: false, error: serializeError(error) }, method),
    );
  });
  process.on('disconnect', () => process.exit(0));
  reply({ type: 'hoard-rpc-ready', methods: Object.keys(handlers) }, '');
}
