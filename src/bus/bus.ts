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
