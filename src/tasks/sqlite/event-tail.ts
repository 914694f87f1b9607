// Tails the events table for events(), news() and waitUntilFinished(): one poller per broker reads the
// rows after the last id it saw, every pollInterval while anyone listens, and at once when a broker of
// this process on the same file commits a change. While only news() listens (a worker draining its
// queue), the poller reads only the news rows: every job's start and end is two events, and turning
// them all into objects that a worker then drops cost some 10% of a drain's CPU. Invariant: event ids grow in commit order (writers are
// serialized by SQLite's write lock, an id is the largest plus one, and pruning keeps the newest row),
// so reading `id > last` never skips an event that commits later.

import { type BrokerEvent, NEWS_TYPES } from '../broker.ts';

/** An event as read from the log, with its id. */
export interface LoggedEvent extends BrokerEvent {
  readonly id: number;
}

export interface EventLog {
  /** The newest event id now (0 when none). */
  lastEventId(): number;
  /** Up to `limit` events after `id`, in order. */
  eventsAfter(id: number, limit: number): LoggedEvent[];
  /** Up to `limit` events of NEWS_TYPES with `id` < event id <= `upto`, in order. */
  newsAfter(id: number, upto: number, limit: number): LoggedEvent[];
}

export interface TailListener {
  /** Called for each event newer than the listener's subscription. */
  event(event: LoggedEvent): void;
  /** Called once when reading the log failed; the listener is dropped. */
  error(error: Error): void;
}

/** Events read per query; a busy log takes several queries per poll. */
const PAGE_SIZE = 1000;

// Tails of this process by database file, so a commit here wakes every tail on the same file at once.
const TAILS_BY_FILE = new Map<string, Set<EventTail>>();

/**
 * Wakes every tail of this process that reads the log of `file`, after a commit that logged events;
 * `news`: whether any of them was of NEWS_TYPES.
 */
export function wakeTails(file: string, news: boolean): void {
  for (const tail of TAILS_BY_FILE.get(file) ?? []) tail.poke(news);
}

export class EventTail {
  readonly #log: EventLog;
  readonly #file: string;
  readonly #pollInterval: number;
  readonly #listeners = new Map<TailListener, number>();
  readonly #newsListeners = new Map<TailListener, number>();
  readonly #jobWatchers = new Map<string, Set<() => void>>();
  // Kept apart from #listeners so that many waits cost nothing per event, only per event of their job.
  readonly #watchErrors = new Set<(error: Error) => void>();
  #cursor = 0;
  #timer: NodeJS.Timeout | undefined;
  #poking = false;
  #closed = false;

  constructor(log: EventLog, file: string, pollInterval: number) {
    this.#log = log;
    this.#file = file;
    this.#pollInterval = pollInterval;
  }

  /** Delivers every event after now to `listener`; returns the unsubscribe function. */
  subscribe(listener: TailListener): () => void {
    return this.#add(this.#listeners, listener);
  }

  /** As subscribe(), for the events of NEWS_TYPES only. */
  subscribeNews(listener: TailListener): () => void {
    return this.#add(this.#newsListeners, listener);
  }

  /** Adds `listener` to `listeners` with the newest event id now as its floor; returns the removal. */
  #add(listeners: Map<TailListener, number>, listener: TailListener): () => void {
    const floor = this.#log.lastEventId();
    this.#start(floor);
    listeners.set(listener, floor);
    return () => {
      listeners.delete(listener);
      this.#stopWhenIdle();
    };
  }

  /**
   * Calls `check` on every event of job `id` from now on, and `error` once if reading the log fails;
   * returns the unsubscribe function.
   */
  watchJob(id: string, check: () => void, error: (error: Error) => void): () => void {
    this.#start(this.#log.lastEventId());
    let watchers = this.#jobWatchers.get(id);
    if (watchers === undefined) this.#jobWatchers.set(id, (watchers = new Set()));
    watchers.add(check);
    this.#watchErrors.add(error);
    return () => {
      watchers.delete(check);
      if (watchers.size === 0 && this.#jobWatchers.get(id) === watchers) this.#jobWatchers.delete(id);
      this.#watchErrors.delete(error);
      this.#stopWhenIdle();
    };
  }

  /**
   * Polls soon (coalesced): a broker of this process committed events (`news`: some of NEWS_TYPES). A
   * tail that only news() listens to lets a commit without news wait for the next poll that reads
   * any: a draining worker's every settle and claim would otherwise cost it two reads of the log.
   */
  poke(news: boolean): void {
    if (this.#poking || this.#timer === undefined) return;
    if (!news && this.#listeners.size === 0 && this.#jobWatchers.size === 0) return;
    this.#poking = true;
    setImmediate(() => {
      this.#poking = false;
      this.#poll();
    });
  }

  /** Stops polling; every listener gets `reason` through its error callback. */
  close(reason: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    const listeners = [...this.#listeners.keys(), ...this.#newsListeners.keys()];
    const watchErrors = [...this.#watchErrors];
    this.#listeners.clear();
    this.#newsListeners.clear();
    this.#jobWatchers.clear();
    this.#watchErrors.clear();
    this.#stop();
    for (const listener of listeners) listener.error(reason);
    for (const error of watchErrors) error(reason);
  }

  #start(floor: number): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#cursor = floor;
    // Referenced on purpose: someone awaits these events, so the process must stay up for them.
    this.#timer = setInterval(() => this.#poll(), this.#pollInterval);
    let tails = TAILS_BY_FILE.get(this.#file);
    if (tails === undefined) TAILS_BY_FILE.set(this.#file, (tails = new Set()));
    tails.add(this);
  }

  #stopWhenIdle(): void {
    if (this.#listeners.size === 0 && this.#newsListeners.size === 0 && this.#jobWatchers.size === 0)
      this.#stop();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const tails = TAILS_BY_FILE.get(this.#file);
    tails?.delete(this);
    if (tails?.size === 0) TAILS_BY_FILE.delete(this.#file);
  }

  #poll(): void {
    if (this.#timer === undefined) return;
    if (this.#listeners.size === 0 && this.#jobWatchers.size === 0) this.#pollNews();
    else this.#pollAll();
  }

  #pollAll(): void {
    let page: LoggedEvent[] | undefined;
    do {
      page = this.#read(() => this.#log.eventsAfter(this.#cursor, PAGE_SIZE));
      if (page === undefined) return;
      for (const event of page) {
        this.#cursor = event.id;
        for (const [listener, floor] of this.#listeners) if (event.id > floor) listener.event(event);
        if (NEWS_TYPES.has(event.type)) this.#deliverNews(event);
        if (event.jobId !== null) for (const check of this.#jobWatchers.get(event.jobId) ?? []) check();
      }
    } while (page.length === PAGE_SIZE && this.#timer !== undefined);
  }

  // The bound is read first: every id up to it has committed (ids grow in commit order), so moving the
  // cursor to it after reading the news up to it skips nothing.
  #pollNews(): void {
    const upto = this.#read(() => this.#log.lastEventId());
    if (upto === undefined) return;
    let page: LoggedEvent[] | undefined;
    do {
      page = this.#read(() => this.#log.newsAfter(this.#cursor, upto, PAGE_SIZE));
      if (page === undefined) return;
      for (const event of page) {
        this.#cursor = event.id;
        this.#deliverNews(event);
      }
    } while (page.length === PAGE_SIZE && this.#timer !== undefined);
    if (this.#timer !== undefined && upto > this.#cursor) this.#cursor = upto;
  }

  #deliverNews(event: LoggedEvent): void {
    for (const [listener, floor] of this.#newsListeners) if (event.id > floor) listener.event(event);
  }

  /** A read of the log; one that fails closes the tail (every listener hears why) and gives undefined. */
  #read<T>(read: () => T): T | undefined {
    try {
      return read();
    } catch (error) {
      this.close(error as Error);
      return undefined;
    }
  }
}
