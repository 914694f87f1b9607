// A remote agent (`skein worker --server URL --token T`): registers this machine with the server
// (cores, memory, GPUs found, labels), heartbeats, and runs jobs on a thread pool through a tasks
// Worker whose broker is the server's agent routes (HttpBroker). It holds no store credentials. Task
// modules are imported from this machine's project directory at the paths the server names, so they
// must exist here at the same project-relative paths. Heartbeats also bring the server's list of
// tasks and deployed functions, so a task submitted (or a function deployed) for the first time is
// served here from the next heartbeat on. A function's bundle is fetched from the server when the first
// job of it is claimed, checked against its hash, and kept in .skein/agent-cache/ (bundle-cache.ts);
// its jobs run with the isolation and memory limit their address carries (local-agent.ts).

import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism, hostname, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { InvalidArgumentError } from '../errors.ts';
import { describe, type Task, task } from '../task.ts';
import {
  type AgentHeartbeatAnswer,
  type AgentRegisterRequest,
  type AgentRegistration,
  BUNDLE_HASH,
  type FunctionLimits,
  functionUrl,
} from './api/agent-wire.ts';
import { MAX_BUNDLE_BYTES } from './api/schemas.ts';
import { agentCacheDir, BundleCache } from './bundle-cache.ts';
import { CloudClient } from './client.ts';
import { HttpBroker } from './http-broker.ts';
import { LocalAgent } from './local-agent.ts';
import { TaskCatalog } from './task-catalog.ts';

export interface RemoteAgentOptions {
  /** The server URL, e.g. http://10.0.0.5:7420. */
  readonly server: string;
  /** A token with the `agent` scope (or admin). */
  readonly token: string;
  /** Where task modules are found on this machine. @defaultValue process.cwd() */
  readonly projectDir?: string;
  /** Jobs at once, each on a thread. @defaultValue os.availableParallelism() */
  readonly concurrency?: number;
  /** Labels shown by `skein agents` (key=value). @defaultValue {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** The agent's name. @defaultValue os.hostname() */
  readonly name?: string;
  /** How long close() lets running jobs finish before it gives them back, in ms. @defaultValue 10000 */
  readonly closeTimeout?: number;
  /**
   * Run an MPI rank host (an mpi-agent) on this address, "host" or "host:port" (port 0 or none: any
   * free port), so the cloud can place MPI ranks here (skein mpirun --cloud). The address must be one
   * the launcher and the other agents reach, never a wildcard; its random token goes to the server,
   * which gives it only to tokens that may deploy. @defaultValue undefined (no MPI ranks here)
   */
  readonly mpiListen?: string;
}

/** The defaults of RemoteAgentOptions that are plain data. Frozen. */
export const REMOTE_AGENT_DEFAULTS = Object.freeze({
  /** Milliseconds. */
  closeTimeout: 10_000,
});

export interface RemoteAgentHooks {
  /** Problems the agent survives (the server away for a moment, a task module missing here). */
  readonly onWarning?: (message: string, error?: unknown) => void;
}

const LABEL_KEY = /^[A-Za-z0-9_.-]{1,63}$/;
const EXPORT_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;
const PRINTABLE = /^[\x20-\x7e]*$/;

function invalid(path: string, expected: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    'SKEIN_CLOUD_INVALID_OPTION',
    `${path} must be ${expected} (got ${describe(value)}); omit it to use the default`,
  );
}

function unavailable(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'SKEIN_TASKS_BROKER_UNAVAILABLE';
}

function placeholder(): never {
  throw new Error('a deployed function ran in the agent thread: this is a bug in Skein');
}

/** GPU adapters this machine shows without a GPU library: NVIDIA's driver lists them under /proc. */
export async function detectGpus(): Promise<string[]> {
  const dir = '/proc/driver/nvidia/gpus';
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return [];
  }
  const gpus: string[] = [];
  for (const entry of entries.sort()) {
    try {
      const text = await readFile(join(dir, entry, 'information'), 'utf8');
      const model = /^Model:\s*(.+)$/m.exec(text)?.[1]?.trim();
      gpus.push(model !== undefined && PRINTABLE.test(model) ? model.slice(0, 200) : `NVIDIA GPU ${entry}`);
    } catch {
      // A bus entry without information: not a usable adapter.
    }
  }
  return gpus;
}

/** Starts the agent's MPI rank host on `listen` ("host" or "host:port"). */
async function startMpiHost(
  listen: string,
): Promise<{ host: { close(): Promise<void> }; mpi: { address: string; token: string } }> {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(
    typeof listen === 'string' ? listen : '',
  );
  if (match === null) throw invalid('mpiListen', '"host" or "host:port"', listen);
  // Loaded only here: an agent without MPI ranks never loads the mpi layer.
  const { MpiAgent } = await import('../mpi/agent.ts');
  const host = new MpiAgent({
    host: match[1]!.replace(/^\[|\]$/g, ''),
    port: match[2] === undefined ? 0 : Number(match[2]),
  });
  const address = await host.listen();
  return { host, mpi: { address, token: host.token } };
}

/**
 * An agent on this machine serving a Skein server's jobs.
 * @example
 * const agent = await RemoteAgent.start({ server: 'http://10.0.0.5:7420', token, labels: { zone: 'a' } });
 * // … until shutdown:
 * await agent.close();
 * @throws SKEIN_CLOUD_INVALID_OPTION; the server's error when registration fails (SKEIN_CLOUD_FORBIDDEN …)
 */
export class RemoteAgent {
  readonly id: string;
  readonly registration: AgentRegistration;
  /** What the agent reported at registration. */
  readonly resources: AgentRegisterRequest;
  readonly #client: CloudClient;
  readonly #broker: HttpBroker;
  readonly #local: LocalAgent;
  readonly #catalog: TaskCatalog;
  readonly #bundles: BundleCache;
  readonly #warn: (message: string, error?: unknown) => void;
  /** module:export → true once served, false when it could not be loaded here (warned once). */
  readonly #seen = new Map<string, boolean>();
  #beat: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #failing = false;
  readonly #outage: { warned: boolean };
  #closed: Promise<void> | undefined;
  readonly #mpiHost: { close(): Promise<void> } | undefined;
  /** Where its MPI rank host listens (RemoteAgentOptions.mpiListen), else undefined. */
  readonly mpiAddress: string | undefined;

  private constructor(parts: {
    registration: AgentRegistration;
    resources: AgentRegisterRequest;
    client: CloudClient;
    broker: HttpBroker;
    local: LocalAgent;
    catalog: TaskCatalog;
    bundles: BundleCache;
    warn: (message: string, error?: unknown) => void;
    outage: { warned: boolean };
    mpiHost: { close(): Promise<void> } | undefined;
    mpiAddress: string | undefined;
  }) {
    this.id = parts.registration.id;
    this.registration = parts.registration;
    this.resources = parts.resources;
    this.#client = parts.client;
    this.#broker = parts.broker;
    this.#local = parts.local;
    this.#catalog = parts.catalog;
    this.#bundles = parts.bundles;
    this.#warn = parts.warn;
    this.#outage = parts.outage;
    this.#mpiHost = parts.mpiHost;
    this.mpiAddress = parts.mpiAddress;
  }

  /** Registers with the server, starts serving its tasks and heartbeating. */
  static async start(options: RemoteAgentOptions, hooks: RemoteAgentHooks = {}): Promise<RemoteAgent> {
    if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
    const concurrency = options.concurrency ?? availableParallelism();
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
      throw invalid('concurrency', 'an integer from 1 to 1024', concurrency);
    }
    const closeTimeout = options.closeTimeout ?? REMOTE_AGENT_DEFAULTS.closeTimeout;
    if (!Number.isSafeInteger(closeTimeout) || closeTimeout < 0) {
      throw invalid('closeTimeout', 'an integer >= 0', closeTimeout);
    }
    const labels = options.labels ?? {};
    for (const [key, value] of Object.entries(labels)) {
      if (!LABEL_KEY.test(key))
        throw invalid(`labels key ${JSON.stringify(key)}`, 'letters, digits and _ . - (1 to 63)', key);
      if (typeof value !== 'string' || value.length > 200 || !PRINTABLE.test(value)) {
        throw invalid(`labels.${key}`, 'printable text of at most 200 characters', value);
      }
    }
    const name = (options.name ?? hostname()).replace(/[^\x20-\x7e]/g, '?').slice(0, 100) || 'agent';
    const client = new CloudClient({ server: options.server, token: options.token });
    const catalog = await TaskCatalog.open(resolve(options.projectDir ?? process.cwd()));
    const warn = hooks.onWarning ?? (() => {});
    const resources: AgentRegisterRequest = {
      name,
      host:
        hostname()
          .replace(/[^\x20-\x7e]/g, '?')
          .slice(0, 255) || 'unknown',
      cores: availableParallelism(),
      memory: totalmem(),
      gpus: await detectGpus(),
      labels: { ...labels },
      concurrency,
    };
    const mpiHost = options.mpiListen === undefined ? undefined : await startMpiHost(options.mpiListen);
    let registration: AgentRegistration;
    try {
      registration = await client.call<AgentRegistration>(
        'POST',
        '/api/agents',
        mpiHost === undefined ? resources : { ...resources, mpi: mpiHost.mpi },
      );
    } catch (error) {
      await mpiHost?.host.close();
      throw error;
    }
    const outage = { warned: false };
    const bundles = new BundleCache({
      dir: agentCacheDir(catalog.projectDir),
      // No stored bundle is larger than the deploy route's body limit allowed.
      fetch: (hash) => client.download(`/api/bundles/${hash}`, MAX_BUNDLE_BYTES + 1024 * 1024),
      onWarning: warn,
    });
    const broker = new HttpBroker({
      client,
      agentId: registration.id,
      projectDir: catalog.projectDir,
      bundles,
      onBundleError: (hash, error) =>
        warn(
          `bundle ${hash} could not be had (${(error as { code?: unknown } | null)?.code ?? 'error'}); its jobs went back to the queue for other agents, and this agent tries again in ${bundles.retryInterval / 1000} s`,
          error,
        ),
    });
    const local = new LocalAgent({
      broker,
      concurrency,
      leaseTimeout: registration.leaseTimeout,
      closeTimeout,
      workerIdPrefix: registration.id,
      // What jobs print goes to the server in batches, each attempt's before its outcome.
      onOutput: (job, stream, text) => broker.output(job, stream, text),
      onError: (error) => {
        // One warning per outage (the Worker retries every call); a heartbeat that gets through ends it.
        if (unavailable(error)) {
          if (outage.warned) return;
          outage.warned = true;
        }
        warn('a call to the server failed; the agent retries', error);
      },
    });
    const agent = new RemoteAgent({
      registration,
      resources,
      client,
      broker,
      local,
      catalog,
      bundles,
      warn,
      outage,
      mpiHost: mpiHost?.host,
      mpiAddress: mpiHost?.mpi.address,
    });
    try {
      await agent.#serve(registration.tasks, registration.functions);
    } catch (error) {
      await agent.close();
      throw error;
    }
    agent.#beat = setInterval(() => void agent.#heartbeat(), registration.heartbeatInterval);
    return agent;
  }

  /** Jobs this agent holds now. */
  get running(): readonly string[] {
    return this.#broker.held;
  }

  /** Bundles this process downloaded from the server (one reused from the cache is not counted). */
  get bundlesFetched(): number {
    return this.#bundles.fetched;
  }

  async #serve(
    tasks: AgentRegistration['tasks'],
    functions: AgentRegistration['functions'] = [],
  ): Promise<void> {
    const found = [];
    for (const { module, export: exportName } of tasks) {
      const key = `${module}:${exportName}`;
      if (this.#seen.has(key)) continue;
      try {
        found.push((await this.#catalog.find(module, exportName)).task);
        this.#seen.set(key, true);
      } catch (error) {
        this.#seen.set(key, false);
        this.#warn(
          `task ${key} cannot be loaded from ${this.#catalog.projectDir}; its jobs run on other agents (put the module at the same path here)`,
          error,
        );
      }
    }
    // A function's reference is built from its bundle's place in the cache and its export, never by
    // importing the bundle here: pool threads import it, once the broker has fetched and checked it.
    // A version with process isolation or a memory limit is named with them: its jobs' addresses carry
    // them (functionUrl), and the local agent runs them on a pool with those limits.
    const fns: Task<never, unknown>[] = [];
    for (const { hash, export: exportName, isolation, memoryMb } of functions) {
      const limits: FunctionLimits = { isolation: isolation ?? 'thread', memoryMb: memoryMb ?? null };
      const key = `bundle:${hash}#${exportName}/${limits.isolation}/${limits.memoryMb ?? ''}`;
      if (this.#seen.has(key)) continue;
      this.#seen.set(key, true);
      if (
        !BUNDLE_HASH.test(hash) ||
        !EXPORT_NAME.test(exportName) ||
        (isolation !== undefined && isolation !== 'process') ||
        // The bounds of the memoryMb setting (deployments.ts FUNCTION_SETTING_BOUNDS).
        (memoryMb !== undefined && !(Number.isSafeInteger(memoryMb) && memoryMb >= 32 && memoryMb <= 65_536))
      ) {
        this.#warn(
          `the server named a function ${JSON.stringify(key)} that is not a bundle hash, export and limits; ignored`,
        );
        continue;
      }
      const url = functionUrl(this.#bundles.urlOf(hash), limits);
      fns.push(task({ url }, placeholder, { name: exportName }) as Task<never, unknown>);
    }
    if (found.length > 0 || fns.length > 0) await this.#local.serve(found, fns);
  }

  #heartbeat(): Promise<void> {
    this.#beating ??= (async () => {
      try {
        const answer = await this.#client.call<AgentHeartbeatAnswer>(
          'POST',
          `/api/agents/${this.id}/heartbeat`,
          { running: this.#broker.held },
          { signal: AbortSignal.timeout(this.registration.heartbeatInterval * 2) },
        );
        this.#failing = false;
        this.#outage.warned = false;
        if (this.#closed === undefined) await this.#serve(answer.tasks, answer.functions);
      } catch (error) {
        // One warning per outage, not one per beat.
        if (!this.#failing)
          this.#warn('a heartbeat did not reach the server; the agent goes on trying', error);
        this.#failing = true;
      } finally {
        this.#beating = undefined;
      }
    })();
    return this.#beating;
  }

  /**
   * Stops claiming, lets running jobs finish for closeTimeout ms (then gives them back to the queue),
   * and tells the server the agent stopped. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    clearInterval(this.#beat);
    await this.#beating;
    try {
      // Its MPI ranks go first: they belong to jobs whose launcher is elsewhere and cannot wait.
      await this.#mpiHost?.close();
      await this.#local.close();
    } finally {
      try {
        await this.#client.call('DELETE', `/api/agents/${this.id}`, undefined, {
          signal: AbortSignal.timeout(this.registration.heartbeatInterval * 2),
        });
      } catch (error) {
        this.#warn('the server did not hear that the agent stopped; it will list it as lost', error);
      }
      await this.#broker.close();
    }
  }
}
