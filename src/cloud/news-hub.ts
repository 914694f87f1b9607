// The server's one subscription to the job store's news (broker.news: jobs enqueued, retried, whose
// lease expired, cancelled) for the cloud's queue, shared by every agent's news stream
// (GET /api/agents/:id/news). It subscribes when the first listener arrives and lets go when the last
// leaves, so a server without connected agents holds no subscription (on Redis: no extra connection).

import type { Broker, BrokerEvent } from '../tasks/index.ts';

/** How long the hub waits before subscribing again after the store's news stream failed, in ms. */
const RESUBSCRIBE_AFTER_MS = 1000;

export class NewsHub {
  readonly #broker: Broker;
  readonly #queue: string;
  readonly #warn: (message: string, error?: unknown) => void;
  readonly #listeners = new Set<(event: BrokerEvent) => void>();
  #upstream: AbortController | undefined;

  constructor(broker: Broker, queue: string, warn: (message: string, error?: unknown) => void) {
    this.#broker = broker;
    this.#queue = queue;
    this.#warn = warn;
  }

  /** Calls `listener` with each news event of the queue until the returned function is called. */
  subscribe(listener: (event: BrokerEvent) => void): () => void {
    this.#listeners.add(listener);
    if (this.#upstream === undefined) {
      const upstream = new AbortController();
      this.#upstream = upstream;
      void this.#relay(upstream.signal);
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        this.#upstream?.abort();
        this.#upstream = undefined;
      }
    };
  }

  /** Stops relaying; later subscribers get nothing until close() is undone by a new hub. */
  close(): void {
    this.#listeners.clear();
    this.#upstream?.abort();
    this.#upstream = undefined;
  }

  async #relay(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        for await (const event of this.#broker.news(this.#queue, signal)) {
          for (const listener of this.#listeners) listener(event);
        }
      } catch (error) {
        if (signal.aborted) return;
        this.#warn("the job store's news stream failed; agents poll until it is back", error);
      }
      if (!signal.aborted) await new Promise((resolve) => setTimeout(resolve, RESUBSCRIBE_AFTER_MS).unref());
    }
  }
}
