// The agent registry: one record per `skein worker` that registered (resources, labels, the token it
// registered with, its last heartbeat and the jobs it reported running). Two stores behind one
// contract: the server's cloud.db (embedded mode) and a Redis hash beside the queue (`--redis`). An
// agent writes only its own record; state is derived when read, so an agent is `lost` as soon as its
// last heartbeat is older than the agent timeout, whichever server process reads it.

import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { CloudStore } from './cloud-store.ts';

/** What an agent is doing: `ready` (no job), `busy` (running jobs), `lost` (no heartbeat for agentTimeout), `stopped` (left gracefully). */
export type AgentState = 'ready' | 'busy' | 'lost' | 'stopped';

/** An agent as stored. */
export interface AgentRecord {
  readonly id: string;
  readonly name: string;
  /** The id of the token that registered it: only that token may act as this agent. */
  readonly tokenId: string;
  readonly host: string;
  readonly cores: number;
  /** Bytes of memory of the agent's machine. */
  readonly memory: number;
  readonly gpus: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Jobs the agent runs at once. */
  readonly concurrency: number;
  readonly registeredAt: number;
  readonly lastHeartbeat: number;
  /** Ids of the jobs the agent held at its last heartbeat. */
  readonly running: readonly string[];
  readonly stopped: boolean;
  /** Its MPI rank host (skein worker --mpi-listen), with the token launchers must present. */
  readonly mpi?: { readonly address: string; readonly token: string };
}

/** Where agent records live. */
export interface AgentRegistry {
  put(record: AgentRecord): Promise<void>;
  get(id: string): Promise<AgentRecord | undefined>;
  list(): Promise<AgentRecord[]>;
  close(): Promise<void>;
}

/** The state of an agent at `now`. */
export function agentState(record: AgentRecord, agentTimeout: number, now = Date.now()): AgentState {
  if (record.stopped) return 'stopped';
  if (now - record.lastHeartbeat > agentTimeout) return 'lost';
  return record.running.length > 0 ? 'busy' : 'ready';
}

/** The registry in the server's own SQLite file (embedded mode). */
export class SqliteAgentRegistry implements AgentRegistry {
  readonly #store: CloudStore;

  constructor(store: CloudStore) {
    this.#store = store;
  }

  async put(record: AgentRecord): Promise<void> {
    this.#store.putAgent(record.id, JSON.stringify(record));
  }

  async get(id: string): Promise<AgentRecord | undefined> {
    const text = this.#store.agent(id);
    return text === undefined ? undefined : (JSON.parse(text) as AgentRecord);
  }

  async list(): Promise<AgentRecord[]> {
    return this.#store.agents().map((text) => JSON.parse(text) as AgentRecord);
  }

  async close(): Promise<void> {
    // The store belongs to the server, which closes it.
  }
}

const requireFromHere = createRequire(import.meta.url);

/** The registry in a Redis hash `<prefix>:cloud:agents` (agent id → record JSON), beside the queue. */
export class RedisAgentRegistry implements AgentRegistry {
  readonly #client: Redis;
  readonly #key: string;
  #closed: Promise<void> | undefined;

  constructor(url: string, prefix: string) {
    // Loaded on use, as the Redis broker does: embedded mode never loads ioredis.
    const { Redis: RedisClient } = requireFromHere('ioredis') as { Redis: typeof Redis };
    // Writes are whole records, so a re-sent one is harmless: the client may queue while reconnecting.
    this.#client = new RedisClient(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    this.#client.on('error', () => {
      // Each call reports its own failure; ioredis reconnects in the background.
    });
    this.#key = `${prefix}:cloud:agents`;
  }

  async put(record: AgentRecord): Promise<void> {
    await this.#client.hset(this.#key, record.id, JSON.stringify(record));
  }

  async get(id: string): Promise<AgentRecord | undefined> {
    const text = await this.#client.hget(this.#key, id);
    return text === null ? undefined : (JSON.parse(text) as AgentRecord);
  }

  async list(): Promise<AgentRecord[]> {
    const all = await this.#client.hgetall(this.#key);
    return Object.values(all)
      .map((text) => JSON.parse(text) as AgentRecord)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  close(): Promise<void> {
    this.#closed ??= this.#client.quit().then(
      () => undefined,
      () => this.#client.disconnect(),
    );
    return this.#closed;
  }
}
