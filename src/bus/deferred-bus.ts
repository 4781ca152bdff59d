import type { Bus, BusListener, BusMessage } from './bus.js';

/**
 * The bus of a `tiered` environment backend while the Redis entry point loads (see
 * `DeferredStore`): not healthy until the real bus is built and subscribed, so the cache reads
 * through to Redis meanwhile, and it starts the real bus on the channel it was given.
 */
export class DeferredBus implements Bus {
  #bus: Bus | undefined;
  readonly #loading: Promise<Bus>;
  #started: { channel: string; listener: BusListener } | undefined;

  constructor(loading: Promise<Bus>) {
    this.#loading = loading.then((bus) => {
      this.#bus = bus;
      if (this.#started !== undefined) bus.start(this.#started.channel, this.#started.listener);
      return bus;
    });
    // A failed load is reported by the store loaded alongside; the bus stays unhealthy.
    this.#loading.catch(() => undefined);
  }

  get id(): string {
    return this.#bus?.id ?? 'pending';
  }

  get healthy(): boolean {
    return this.#bus?.healthy ?? false;
  }

  start(channel: string, listener: BusListener): void {
    this.#started = { channel, listener };
    this.#bus?.start(channel, listener);
  }

  publish(message: BusMessage): Promise<void> {
    const bus = this.#bus;
    return bus === undefined ? this.#loading.then((b) => b.publish(message)) : bus.publish(message);
  }

  async close(): Promise<void> {
    const bus = await this.#loading.catch(() => undefined);
    await bus?.close();
  }
}
