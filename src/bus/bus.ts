/**
 * What one instance tells the others so they drop stale copies from their memory tier. Messages
 * carry invalidations only, never values: receivers re-read the shared tier lazily.
 */
export type BusMessage =
  /** These keys changed (set, incr, delete, or filled by getOrSet). */
  | { type: 'keys'; keys: string[] }
  /** Everything under this namespace path was cleared (`''`: the whole cache). */
  | { type: 'clear'; path: string }
  /** Keys matching this glob (already scoped to its namespace) were removed. */
  | { type: 'pattern'; pattern: string }
  /** Entries with these tags (already scoped) were removed. */
  | { type: 'tags'; tags: string[] };

export interface BusListener {
  /** A message from another instance. */
  message(message: BusMessage): void;
  /** The bus lost its subscription or missed its heartbeat: messages may have been lost. */
  down(): void;
  /** The bus is subscribed and hears itself again. */
  up(): void;
  /**
   * Trouble worth an `error` event: its connection failed (once per outage), or a message on the
   * channel was malformed and ignored. `operation` is `bus` or `bus:message`.
   */
  error(error: Error, operation: string): void;
}

/**
 * The invalidation bus between instances sharing a store. Pub/sub is at-most-once, so a bus must
 * report `down` whenever messages may have been lost (disconnect, missed heartbeat) and `up` once
 * it is whole again; the cache then flushes its memory tier once (FAULTS.md rule 4).
 */
export interface Bus {
  /** Identifies this instance in messages; its own messages are not delivered back to it. */
  readonly id: string;
  readonly healthy: boolean;
  /** Subscribes to `channel`; called once by the cache that owns the bus. */
  start(channel: string, listener: BusListener): void;
  publish(message: BusMessage): Promise<void>;
  close(): Promise<void>;
}

/** Most keys or tags in one message; a larger invalidation is published in parts. */
export const BUS_KEYS_PER_MESSAGE = 1_000;
/** What a receiver accepts: anything larger is not from hoard (or is hostile) and is refused. */
const MAX_ITEMS = 10 * BUS_KEYS_PER_MESSAGE;
const MAX_TEXT = 8_192;

/**
 * Checks a message received from the bus field by field: whoever can PUBLISH on the channel can
 * send anything, and one malformed message must not crash or stall every instance. Returns the
 * message, or a sentence saying what is wrong with it.
 */
export function parseBusMessage(value: unknown): BusMessage | string {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const m = value as Record<string, unknown>;
  switch (m.type) {
    case 'keys': {
      const keys = stringList(m.keys, 'keys');
      return typeof keys === 'string' ? keys : { type: 'keys', keys };
    }
    case 'tags': {
      const tags = stringList(m.tags, 'tags');
      return typeof tags === 'string' ? tags : { type: 'tags', tags };
    }
    case 'clear': {
      const path = m.path;
      if (typeof path !== 'string' || !isText(path, true) || (path !== '' && !path.endsWith(':'))) return 'clear: path must be "" or a namespace path ending with ":"';
      return { type: 'clear', path };
    }
    case 'pattern': {
      const pattern = m.pattern;
      if (typeof pattern !== 'string' || !isText(pattern, false)) return 'pattern: must be a non-empty, well-formed string';
      return { type: 'pattern', pattern };
    }
    default:
      return `unknown type ${JSON.stringify(m.type) ?? typeof m.type}`;
  }
}

function stringList(value: unknown, field: string): string[] | string {
  if (!Array.isArray(value)) return `${field}: must be an array`;
  if (value.length === 0 || value.length > MAX_ITEMS) return `${field}: must hold 1 to ${MAX_ITEMS} items`;
  for (const item of value as unknown[]) if (typeof item !== 'string' || !isText(item, false)) return `${field}: every item must be a non-empty, well-formed string`;
  return value as string[];
}

function isText(s: string, allowEmpty: boolean): boolean {
  return (allowEmpty || s.length !== 0) && s.length <= MAX_TEXT && s.isWellFormed();
}
