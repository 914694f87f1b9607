// What the event stream adds to job events for a live view (the web console's overview and agents
// pages): agent state changes and periodic metrics of the queue. An agent's state is derived when its
// record is read (lost = no heartbeat for agentTimeout, whichever server reads it), so there is no
// moment at which it "becomes" lost: the feed reads the registry every AGENT_POLL_MS and reports what
// changed. It runs only while some stream listens, so an idle server does no polling.

import { EventEmitter } from 'node:events';
import type { QueueStats } from '../tasks/index.ts';
import { type AgentRecord, type AgentRegistry, type AgentState, agentState } from './agent-registry.ts';

/** How often the registry is read for agent state changes while a stream listens. */
const AGENT_POLL_MS = 1000;
/** How often a metrics event goes out while a stream listens. */
const METRICS_EVERY_MS = 2000;

/** One agent's change of state (the data of an SSE `event: agent`). */
export interface AgentEventView {
  readonly id: string;
  readonly name: string;
  /** The state before, or null when the feed first sees the agent (registered since the feed started). */
  readonly from: AgentState | null;
  readonly state: AgentState;
  /** Jobs it reported running at its last heartbeat. */
  readonly running: number;
  readonly concurrency: number;
  readonly at: number;
}

/** The queue and the agents at one moment (the data of an SSE `event: metrics`). */
export interface MetricsEventView {
  readonly at: number;
  readonly queue: string;
  readonly counts: QueueStats['counts'];
  /** Jobs finished (succeeded, failed or dead) in the last minute. */
  readonly finishedLastMinute: number;
  /** Enqueue → finish over the last minute, ms; null when no job finished. */
  readonly latencyP50Ms: number | null;
  readonly latencyP99Ms: number | null;
  /** Agents (skein worker) by state, and the jobs they run. */
  readonly agents: Readonly<Record<AgentState, number>>;
  readonly agentJobsRunning: number;
}

interface LiveFeedEvents {
  agent: [event: AgentEventView];
  metrics: [event: MetricsEventView];
  error: [error: unknown];
}

export interface LiveFeedOptions {
  readonly registry: AgentRegistry;
  readonly agentTimeout: number;
  /** The queue's statistics (counts by state, throughput and latency over the last minute). */
  readonly stats: () => Promise<QueueStats>;
}

export class LiveFeed extends EventEmitter<LiveFeedEvents> {
  readonly #options: LiveFeedOptions;
  #subscribers = 0;
  #agentTimer: NodeJS.Timeout | undefined;
  #metricsTimer: NodeJS.Timeout | undefined;
  /** Agent states as last reported; undefined until the first read after the feed started. */
  #known: Map<string, AgentState> | undefined;
  #lastAgents: readonly AgentRecord[] = [];
  #reading = false;

  constructor(options: LiveFeedOptions) {
    super();
    this.#options = options;
    // One listener per open event stream, any number of them.
    this.setMaxListeners(0);
  }

  /** A stream starts listening: the feed runs while at least one does. Returns the matching stop. */
  subscribe(): () => void {
    this.#subscribers++;
    if (this.#subscribers === 1) this.#start();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#subscribers--;
      if (this.#subscribers === 0) this.#stop();
    };
  }

  close(): void {
    this.#subscribers = 0;
    this.#stop();
  }

  #start(): void {
    this.#known = undefined;
    void this.#readAgents();
    this.#agentTimer = setInterval(() => void this.#readAgents(), AGENT_POLL_MS);
    this.#agentTimer.unref();
    this.#metricsTimer = setInterval(() => void this.#sendMetrics(), METRICS_EVERY_MS);
    this.#metricsTimer.unref();
  }

  #stop(): void {
    clearInterval(this.#agentTimer);
    clearInterval(this.#metricsTimer);
    this.#agentTimer = undefined;
    this.#metricsTimer = undefined;
  }

  async #readAgents(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      const agents = await this.#options.registry.list();
      if (this.#agentTimer === undefined) return;
      this.#lastAgents = agents;
      const now = Date.now();
      const first = this.#known === undefined;
      const known = (this.#known ??= new Map());
      for (const record of agents) {
        const state = agentState(record, this.#options.agentTimeout, now);
        const before = known.get(record.id);
        known.set(record.id, state);
        // The first read only learns the states: a stream asks GET /api/agents for where things stand.
        if (first || before === state) continue;
        this.emit('agent', {
          id: record.id,
          name: record.name,
          from: before ?? null,
          state,
          running: record.running.length,
          concurrency: record.concurrency,
          at: now,
        });
      }
    } catch (error) {
      this.emit('error', error);
    } finally {
      this.#reading = false;
    }
  }

  async #sendMetrics(): Promise<void> {
    try {
      const stats = await this.#options.stats();
      if (this.#metricsTimer === undefined) return;
      const now = Date.now();
      const agents: Record<AgentState, number> = { ready: 0, busy: 0, lost: 0, stopped: 0 };
      let agentJobsRunning = 0;
      for (const record of this.#lastAgents) {
        const state = agentState(record, this.#options.agentTimeout, now);
        agents[state]++;
        if (state === 'busy') agentJobsRunning += record.running.length;
      }
      this.emit('metrics', {
        at: now,
        queue: stats.queue,
        counts: stats.counts,
        finishedLastMinute: stats.finishedLastMinute,
        latencyP50Ms: stats.latencyP50Ms,
        latencyP99Ms: stats.latencyP99Ms,
        agents,
        agentJobsRunning,
      });
    } catch (error) {
      this.emit('error', error);
    }
  }
}
