// The console's one connection to GET /api/events, shared by every view: job events arrive in batches
// (lib/batch.ts, once per BATCH_MS), agent, schedule and metrics events as they come. It reconnects
// with a backoff when the stream drops, and says whether it is connected.

import type { ScheduleEventView } from '../../src/cloud/api/schedule-schemas.ts';
import type { JobEventView } from '../../src/cloud/api/schemas.ts';
import type { AgentEventView, MetricsEventView } from '../../src/cloud/live-feed.ts';
import { readEvents } from './api.ts';
import { Batcher } from './lib/batch.ts';

/** How often job events are handed to the views, in ms. */
const BATCH_MS = 1000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

export interface LiveListeners {
  jobs?: (events: readonly JobEventView[]) => void;
  agent?: (event: AgentEventView) => void;
  schedule?: (event: ScheduleEventView) => void;
  metrics?: (event: MetricsEventView) => void;
  status?: (connected: boolean) => void;
}

export class LiveEvents {
  readonly #listeners = new Set<LiveListeners>();
  readonly #batcher = new Batcher<JobEventView>(BATCH_MS, (events) => {
    for (const listener of this.#listeners) listener.jobs?.(events);
  });
  #stop: AbortController | undefined;
  #connected = false;
  #lastMetrics: MetricsEventView | undefined;
  /** Job events received since the page loaded. */
  received = 0;

  get connected(): boolean {
    return this.#connected;
  }

  subscribe(listener: LiveListeners): () => void {
    this.#listeners.add(listener);
    listener.status?.(this.#connected);
    // A view opened between two metrics events starts from the last one.
    if (this.#lastMetrics !== undefined) listener.metrics?.(this.#lastMetrics);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    if (this.#stop !== undefined) return;
    const stop = new AbortController();
    this.#stop = stop;
    void this.#run(stop.signal);
  }

  stop(): void {
    this.#lastMetrics = undefined;
    this.#stop?.abort();
    this.#stop = undefined;
    this.#batcher.close();
    this.#setConnected(false);
  }

  #setConnected(value: boolean): void {
    if (this.#connected === value) return;
    this.#connected = value;
    for (const listener of this.#listeners) listener.status?.(value);
  }

  async #run(signal: AbortSignal): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!signal.aborted) {
      try {
        await readEvents(
          '/api/events',
          (frame) => {
            if (frame.event === '') {
              this.#setConnected(true);
              delay = RETRY_MIN_MS;
              return;
            }
            const data = JSON.parse(frame.data) as unknown;
            if (frame.event === 'job') {
              this.received++;
              this.#batcher.push(data as JobEventView);
            } else if (frame.event === 'agent') {
              for (const listener of this.#listeners) listener.agent?.(data as AgentEventView);
            } else if (frame.event === 'schedule') {
              for (const listener of this.#listeners) listener.schedule?.(data as ScheduleEventView);
            } else if (frame.event === 'metrics') {
              this.#lastMetrics = data as MetricsEventView;
              for (const listener of this.#listeners) listener.metrics?.(data as MetricsEventView);
            }
          },
          signal,
        );
      } catch {
        // Dropped, refused or aborted: retry below unless stopped.
      }
      this.#setConnected(false);
      if (signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(RETRY_MAX_MS, delay * 2);
    }
  }
}

export const live = new LiveEvents();
