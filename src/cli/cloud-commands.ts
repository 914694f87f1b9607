// The cloud commands of `skein`: up (the server in this process) and the API clients submit, ps, job,
// cancel, retry, token, deploy, fn and invoke. Human output by default, one JSON document with --json. Clients find the
// server and token in --server/--token, then SKEIN_SERVER/SKEIN_TOKEN, then .skein/credentials.json.

import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ScheduleJobOptions, ScheduleRequest, ScheduleView } from '../cloud/api/schedule-schemas.ts';
import type { SubmitJobOptions } from '../cloud/api/schemas.ts';
import { MAX_TOKEN_LIFETIME_S, TENANT_PATTERN } from '../cloud/api/schemas.ts';
import type { FunctionView, JobView, SubmitRequest, TokenScope, TokenView } from '../cloud/index.ts';
import { SkeinError } from '../errors.ts';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.ts';
import type { CliIo } from './io.ts';
import { UsageError } from './usage-error.ts';

type Command = (args: string[], io: CliIo) => Promise<number>;

const CONNECTION_HELP = `  --server <url>        Server URL (default: $SKEIN_SERVER, else .skein/credentials.json)
  --token <token>       API token (default: $SKEIN_TOKEN, else .skein/credentials.json)
  --json                Print JSON instead of text
  -h, --help            Show this help
`;

const CONNECTION_OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const UP_HELP = `Usage: skein up [options]

Starts the Skein cloud in one process: the HTTP API, the job store (SQLite under .skein/) and a
local agent running jobs on a thread per core. Prints the URL and an admin token, and saves both
in .skein/credentials.json (mode 0600) for the other commands. Ctrl-C (SIGINT) or SIGTERM stops it:
running jobs get --close-timeout ms to finish, the rest stay queued for the next start.

Options:
  --dir <path>              Project directory: task modules are found under it (default: .)
  --host <address>          Address to listen on (default 127.0.0.1; others need TLS or --allow-remote)
  --port <n>                TCP port, 0 for any free one (default 7420)
  --tls-cert <file>         Serve HTTPS with this PEM certificate (chain after it); needs --tls-key
  --tls-key <file>          The certificate's PEM private key
  --allow-remote            Allow a non-loopback --host over plain HTTP (a network you trust)
  --concurrency <n>         Jobs at once (default: the number of cores)
  --body-limit <bytes>      Largest request body (default 1048576)
  --auth-failure-limit <n>  Failed authentications per address per minute before 429 (default 20)
  --lease-timeout <ms>      How long before a job of a dead agent runs again (default 30000)
  --close-timeout <ms>      How long running jobs may finish on shutdown (default 10000)
  --redis <url>             Keep jobs, leases, events and agents on Redis (redis://host:port[/db])
                            instead of SQLite under .skein/; tokens stay in .skein/cloud.db
  --redis-prefix <prefix>   First part of every Redis key (default skein-cloud)
  --no-local-agent          Run no jobs in this process: leave them to skein worker agents
  --agent-timeout <ms>      An agent without a heartbeat for this long is lost (default 30000)
  --function-timeout <ms>   Wall-clock limit of a function call from its start; its thread or
                            process is killed past it (default 30000; skein deploy --timeout wins)
  --function-concurrency <n>  Calls one function runs at once (default 8; deploy --concurrency wins)
  --function-queue <n>      Calls one function keeps waiting beyond that; more get 429 (default 0;
                            skein deploy --queue wins)
  --function-idle-timeout <ms>  A bundle's warm pool closes after this long unused (default 60000)
  --json                    Print one JSON line when up instead of text
  -h, --help                Show this help
`;

const WORKER_HELP = `Usage: skein worker --server <url> --token <token> [options]

Runs jobs of a Skein server on this machine: registers an agent (cores, memory, GPUs found,
labels), heartbeats, claims jobs through the server's agent routes and runs them on a thread per
core. The token needs the agent scope (skein token create --name w1 --scope agent); the agent never
sees the job store. Task modules are imported from --dir at the paths the server names: put the
project there (same relative paths as on the server). Ctrl-C (SIGINT) or SIGTERM stops it: running
jobs get --close-timeout ms to finish, the rest go back to the queue.

Options:
  --server <url>            Server URL (default: $SKEIN_SERVER)
  --token <token>           Agent token (default: $SKEIN_TOKEN)
  --dir <path>              Project directory on this machine (default: .)
  --concurrency <n>         Jobs at once (default: the number of cores)
  --label <key=value>       A label shown by skein agents; repeat for several
  --name <name>             The agent's name (default: the host name)
  --close-timeout <ms>      How long running jobs may finish on shutdown (default 10000)
  --mpi-listen <host[:port]> Also host MPI ranks, listening there (an address the launcher and the
                            other agents reach; port 0 or none: any free one); skein mpirun --cloud
                            then places ranks on this agent
  --json                    Print one JSON line when registered instead of text
  -h, --help                Show this help
`;

const AGENTS_HELP = `Usage: skein agents [options]

Lists the agents that registered with the server: state (ready, busy, lost, stopped), host,
cores, memory, GPUs, labels, running jobs and last heartbeat.

Options:
${CONNECTION_HELP}`;

const SUBMIT_HELP = `Usage: skein submit <module>:<export> [options]

Submits a job running the exported task <export> of <module>, a path relative to the directory
where skein up runs. Prints the job id; with --wait, waits and prints the result (JSON).

Options:
  --args <json>             The arguments as a JSON array (default [])
  --wait                    Wait for the job to finish; exit 1 if it fails or is cancelled
  --delay <ms>              Run no earlier than this many ms from now
  --priority <n>            Higher runs first (use --priority=-5 for a negative value)
  --attempts <n>            Attempts before the job ends dead (default 3)
  --backoff <type:ms>       Retry backoff, e.g. exponential:500 or fixed:1000
  --time-limit <ms>         Time limit per attempt
  --idempotency-key <key>   A second submit with the same key returns the first job
${CONNECTION_HELP}`;

const PS_HELP = `Usage: skein ps [options]

Lists jobs, oldest first.

Options:
  --state <state>           Only jobs in this state: scheduled, queued, running, succeeded,
                            failed, dead or cancelled (default: all)
  --limit <n>               Page size (default 50)
  --offset <n>              Jobs to skip (default 0)
${CONNECTION_HELP}`;

const JOB_HELP = `Usage: skein job <id> [options]

Shows one job: its state, attempts, timestamps and result or error.

Options:
  --wait                    Wait until the job finishes
${CONNECTION_HELP}`;

const LOGS_HELP = `Usage: skein logs <id> [options]

Prints what a job printed: its stdout lines to stdout, its stderr lines to stderr; a retried job's
later attempts each begin with a line "--- attempt N ---" on stderr. With --json, one JSON object
per line (seq, attempt, stream, at, text). The server keeps the last 10000 lines (1 MiB) of a job.

Options:
  -f, --follow              Print new lines as they come, until the job finishes
  --after <n>               Only lines after this cursor (a line's seq, as --json shows)
${CONNECTION_HELP}`;

const CANCEL_HELP = `Usage: skein cancel <id> [options]

Cancels a job: a waiting one at once, a running one through its AbortSignal.

Options:
${CONNECTION_HELP}`;

const RETRY_HELP = `Usage: skein retry <id> [options]

Sends a dead or failed job back to the queue with a fresh attempt count.

Options:
${CONNECTION_HELP}`;

const TOKEN_HELP = `Usage: skein token create --name <name> --scope <scope> [--scope <scope> ...] [--tenant <tenant>] [--expires-in <duration>]
       skein token list
       skein token revoke <id>

Manages API tokens (needs an admin token). Scopes: admin (everything of its tenant), deploy, invoke
(submit, cancel, retry, read jobs), read (read jobs), agent (skein worker), operator (every tenant).
Every token belongs to a tenant and reaches only that tenant's jobs, functions and schedules; an
admin token manages its own tenant's tokens, an operator token (the one skein up saves) any tenant's,
and only an operator may create agent and operator tokens. A new token is printed once; the server
keeps only its hash.

Options:
  --name <name>             A name for the new token (create)
  --scope <scope>           A scope of the new token; repeat for several (create)
  --tenant <tenant>         The new token's tenant, 1 to 32 of [a-z0-9-] (create; default: yours)
  --expires-in <duration>   Refuse the new token after this long: 90s, 30m, 12h, 30d or seconds
                            (create; default: valid until revoked)
${CONNECTION_HELP}`;

const CLI_TOKEN_SCOPES: readonly string[] = ['admin', 'deploy', 'invoke', 'read', 'agent', 'operator'];
const WAIT_SLICE_MS = 30_000;
const JOB_STATE_NAMES = ['scheduled', 'queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled'];
const FINISHED = new Set(['succeeded', 'failed', 'dead', 'cancelled']);

function integer(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  return number;
}

function oneId(positionals: string[], what: string): string {
  if (positionals.length !== 1 || positionals[0] === '') throw new UsageError(`give exactly one ${what}`);
  return positionals[0]!;
}

/** Failures the CLI reports in one line and exit 1 (server errors, refused connections). */
function failure(io: CliIo, command: string, error: unknown): number {
  if (error instanceof SkeinError) {
    io.stderr.write(`skein ${command}: ${error.message} (${error.code})\n`);
    return EXIT_FAILURE;
  }
  throw error;
}

/** Writes `help` when --help was given; true when it was. */
function showHelp(io: CliIo, values: { help?: boolean | undefined }, help: string): boolean {
  if (values.help === true) io.stdout.write(help);
  return values.help === true;
}

/**
 * Runs `body` with a client of the server that `values` (or the environment, or .skein/) names; a
 * SkeinError from it, or from the server, becomes one line on stderr and exit 1.
 */
async function withClient(
  io: CliIo,
  command: string,
  values: { server?: string | undefined; token?: string | undefined },
  body: (client: Awaited<ReturnType<typeof clientFrom>>) => Promise<number>,
): Promise<number> {
  try {
    return await body(await clientFrom(values));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    return failure(io, command, error);
  }
}

async function clientFrom(values: { server?: string | undefined; token?: string | undefined }) {
  const { CloudClient } = await import('../cloud/client.ts');
  return CloudClient.connect({
    ...(values.server === undefined ? {} : { server: values.server }),
    ...(values.token === undefined ? {} : { token: values.token }),
  });
}

function json(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function ago(epochMs: number | null, now = Date.now()): string {
  if (epochMs === null) return '-';
  const seconds = Math.max(0, Math.round((now - epochMs) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function errorLine(job: JobView): string {
  if (job.error === null) return '';
  return `${job.error.name}: ${job.error.message}${job.error.code === null ? '' : ` (${job.error.code})`}`;
}

function summary(job: JobView): string {
  const attempts = `${job.attempt} attempt${job.attempt === 1 ? '' : 's'}`;
  const took =
    job.startedAt !== null && job.finishedAt !== null
      ? ` in ${((job.finishedAt - job.startedAt) / 1000).toFixed(2)} s`
      : '';
  switch (job.state) {
    case 'succeeded':
      return `job ${job.id} succeeded after ${attempts}${took}`;
    case 'failed':
    case 'dead':
      return `job ${job.id} ${job.state} after ${attempts}: ${errorLine(job)}`;
    default:
      return `job ${job.id} ${job.state}`;
  }
}

async function waitForJob(client: Awaited<ReturnType<typeof clientFrom>>, id: string): Promise<JobView> {
  for (;;) {
    const job = await client.job(id, { wait: WAIT_SLICE_MS });
    if (FINISHED.has(job.state)) return job;
  }
}

const up: Command = async (args, io) => {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      dir: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'allow-remote': { type: 'boolean' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      concurrency: { type: 'string' },
      'body-limit': { type: 'string' },
      'auth-failure-limit': { type: 'string' },
      'lease-timeout': { type: 'string' },
      'close-timeout': { type: 'string' },
      redis: { type: 'string' },
      'redis-prefix': { type: 'string' },
      'no-local-agent': { type: 'boolean' },
      'agent-timeout': { type: 'string' },
      'function-timeout': { type: 'string' },
      'function-concurrency': { type: 'string' },
      'function-queue': { type: 'string' },
      'function-idle-timeout': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (showHelp(io, values, UP_HELP)) return EXIT_OK;
  const options = {
    projectDir: resolve(values.dir ?? '.'),
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(values['allow-remote'] === true ? { allowRemote: true } : {}),
    ...(values['tls-cert'] === undefined ? {} : { tlsCert: resolve(values['tls-cert']) }),
    ...(values['tls-key'] === undefined ? {} : { tlsKey: resolve(values['tls-key']) }),
    ...optional('port', integer('port', values.port, 0, 65_535)),
    ...optional('concurrency', integer('concurrency', values.concurrency, 1, 1024)),
    ...optional('bodyLimit', integer('body-limit', values['body-limit'], 1024, 1024 ** 3)),
    ...optional(
      'authFailureLimit',
      integer('auth-failure-limit', values['auth-failure-limit'], 1, 1_000_000),
    ),
    ...optional('leaseTimeout', integer('lease-timeout', values['lease-timeout'], 100, 86_400_000)),
    ...optional('closeTimeout', integer('close-timeout', values['close-timeout'], 0, 86_400_000)),
    ...optional('agentTimeout', integer('agent-timeout', values['agent-timeout'], 300, 86_400_000)),
    ...optional('functionTimeout', integer('function-timeout', values['function-timeout'], 1, 2 ** 31 - 1)),
    ...optional(
      'functionConcurrency',
      integer('function-concurrency', values['function-concurrency'], 1, 10_000),
    ),
    ...optional('functionQueue', integer('function-queue', values['function-queue'], 0, 100_000)),
    ...optional(
      'functionIdleTimeout',
      integer('function-idle-timeout', values['function-idle-timeout'], 0, 86_400_000),
    ),
    ...(values.redis === undefined ? {} : { redis: values.redis }),
    ...(values['redis-prefix'] === undefined ? {} : { redisPrefix: values['redis-prefix'] }),
    ...(values['no-local-agent'] === true ? { localAgent: false } : {}),
  };
  const { CloudServer } = await import('../cloud/server.ts');
  let server: Awaited<ReturnType<typeof CloudServer.start>>;
  try {
    server = await CloudServer.start(options, {
      onWarning: (message, error) =>
        io.stderr.write(
          `skein up: warning: ${message}${error === undefined ? '' : `: ${error instanceof Error ? error.message : String(error)}`}\n`,
        ),
    });
  } catch (error) {
    if (error instanceof Error && (error as { code?: unknown }).code === 'EADDRINUSE') {
      io.stderr.write(
        `skein up: ${options.port ?? 7420} is in use (is skein up already running?); pass --port to pick another\n`,
      );
      return EXIT_FAILURE;
    }
    return failure(io, 'up', error);
  }
  const { projectDir, dataDir, redis, redisPrefix } = server.options;
  const concurrency = server.concurrency;
  const credentials = server.credentialsPath.startsWith(`${projectDir}/`)
    ? server.credentialsPath.slice(projectDir.length + 1)
    : server.credentialsPath;
  if (values.json === true) {
    io.stdout.write(
      `${JSON.stringify({ url: server.url, token: server.adminToken, credentials: server.credentialsPath, projectDir, dataDir, concurrency, store: redis === undefined ? 'sqlite' : 'redis' })}\n`,
    );
  } else {
    io.stdout.write(
      `Skein is up at ${server.url}\n` +
        `  project  ${projectDir}\n` +
        `  store    ${redis === undefined ? `${join(dataDir, 'tasks.db')} (SQLite)` : `${redactRedis(redis)} (Redis, prefix ${redisPrefix})`}\n` +
        `  agent    ${concurrency === 0 ? 'none here (skein worker agents run the jobs)' : `${concurrency} thread${concurrency === 1 ? '' : 's'}`}\n` +
        `  token    ${server.adminToken} (admin, saved in ${credentials})\n` +
        `  console  ${server.url}/ (open it in a browser and log in with the token)\n\n` +
        `Next, in another terminal in ${projectDir}:\n` +
        `  npx skein submit <module.ts>:<export> --args '[...]' --wait\n` +
        '  npx skein ps\n' +
        `  npx skein deploy <module.ts>        (each exported task becomes a function)\n` +
        `  npx skein invoke <export> --args '[...]'\n` +
        'Stop with Ctrl-C.\n',
    );
  }
  const code = await untilSignal(io, values.json === true, () => server.close(), 'skein up');
  if (values.json !== true) io.stderr.write('Skein stopped\n');
  return code;
};

/** A Redis URL without its password, for printing. */
function redactRedis(url: string): string {
  return url.replace(
    /\/\/([^@/]*)@/,
    (_, auth: string) => `//${auth.includes(':') ? `${auth.split(':')[0]}:***` : '***'}@`,
  );
}

/** Waits for SIGINT or SIGTERM, then runs `stop`; a second signal while it runs exits at once (130). */
function untilSignal(io: CliIo, quiet: boolean, stop: () => Promise<void>, what: string): Promise<number> {
  return new Promise<number>((done) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const hard = (): void => process.exit(130);
      process.once('SIGINT', hard);
      process.once('SIGTERM', hard);
      if (!quiet) io.stderr.write(`\n${signal}: stopping (running jobs may take a moment)\n`);
      stop().then(
        () => {
          process.off('SIGINT', hard);
          process.off('SIGTERM', hard);
          done(EXIT_OK);
        },
        (error: unknown) => {
          io.stderr.write(
            `${what}: closing failed: ${error instanceof Error ? error.message : String(error)}\n`,
          );
          done(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

const worker: Command = async (args, io) => {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      server: { type: 'string' },
      token: { type: 'string' },
      dir: { type: 'string' },
      concurrency: { type: 'string' },
      label: { type: 'string', multiple: true },
      name: { type: 'string' },
      'close-timeout': { type: 'string' },
      'mpi-listen': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (showHelp(io, values, WORKER_HELP)) return EXIT_OK;
  const server = values.server ?? process.env.SKEIN_SERVER;
  const token = values.token ?? process.env.SKEIN_TOKEN;
  if (server === undefined || server === '')
    throw new UsageError('skein worker needs --server <url> (or SKEIN_SERVER)');
  if (token === undefined || token === '')
    throw new UsageError('skein worker needs --token <token> (or SKEIN_TOKEN)');
  const labels: Record<string, string> = {};
  for (const label of values.label ?? []) {
    const eq = label.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label must be key=value (got ${JSON.stringify(label)})`);
    labels[label.slice(0, eq)] = label.slice(eq + 1);
  }
  const concurrency = integer('concurrency', values.concurrency, 1, 1024);
  const closeTimeout = integer('close-timeout', values['close-timeout'], 0, 86_400_000);
  const { RemoteAgent } = await import('../cloud/remote-agent.ts');
  let agent: Awaited<ReturnType<typeof RemoteAgent.start>>;
  try {
    agent = await RemoteAgent.start(
      {
        server,
        token,
        projectDir: resolve(values.dir ?? '.'),
        labels,
        ...(concurrency === undefined ? {} : { concurrency }),
        ...(closeTimeout === undefined ? {} : { closeTimeout }),
        ...(values.name === undefined ? {} : { name: values.name }),
        ...(values['mpi-listen'] === undefined ? {} : { mpiListen: values['mpi-listen'] }),
      },
      {
        onWarning: (message, error) =>
          io.stderr.write(
            `skein worker: warning: ${message}${error === undefined ? '' : `: ${error instanceof Error ? error.message : String(error)}`}\n`,
          ),
      },
    );
  } catch (error) {
    return failure(io, 'worker', error);
  }
  const { resources, registration } = agent;
  if (values.json === true) {
    io.stdout.write(
      `${JSON.stringify({ id: agent.id, pid: process.pid, ...resources, leaseTimeout: registration.leaseTimeout, heartbeatInterval: registration.heartbeatInterval, ...(agent.mpiAddress === undefined ? {} : { mpi: agent.mpiAddress }) })}\n`,
    );
  } else {
    io.stdout.write(
      `Agent ${agent.id} serves ${server}\n` +
        `  machine  ${resources.host}: ${resources.cores} cores, ${(resources.memory / 1024 ** 3).toFixed(1)} GiB, GPUs: ${resources.gpus.length === 0 ? 'none found' : resources.gpus.join(', ')}\n` +
        `  jobs     ${resources.concurrency} at once; heartbeat every ${registration.heartbeatInterval} ms\n` +
        (agent.mpiAddress === undefined ? '' : `  mpi      ranks hosted at ${agent.mpiAddress}\n`) +
        (Object.keys(labels).length === 0
          ? ''
          : `  labels   ${Object.entries(labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}\n`) +
        'Stop with Ctrl-C.\n',
    );
  }
  const code = await untilSignal(io, values.json === true, () => agent.close(), 'skein worker');
  if (values.json !== true) io.stderr.write('Agent stopped\n');
  return code;
};

function bytes(count: number): string {
  return count >= 1024 ** 3 ? `${(count / 1024 ** 3).toFixed(1)}G` : `${Math.round(count / 1024 ** 2)}M`;
}

const agents: Command = async (args, io) => {
  const { values } = parseArgs({ args, strict: true, allowPositionals: false, options: CONNECTION_OPTIONS });
  if (showHelp(io, values, AGENTS_HELP)) return EXIT_OK;
  return withClient(io, 'agents', values, async (client) => {
    const list = await client.agents();
    if (values.json === true) json(io, list);
    else if (list.length === 0)
      io.stderr.write('no agents; start one with skein worker --server URL --token T\n');
    else {
      const now = Date.now();
      const rows = [['ID', 'NAME', 'STATE', 'CORES', 'MEMORY', 'GPUS', 'RUNNING', 'LABELS', 'HEARTBEAT']];
      for (const agent of list) {
        rows.push([
          agent.id,
          agent.name,
          agent.state,
          String(agent.cores),
          bytes(agent.memory),
          String(agent.gpus.length),
          `${agent.runningJobs.length}/${agent.concurrency}`,
          Object.entries(agent.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(',') || '-',
          ago(agent.lastHeartbeat, now),
        ]);
      }
      io.stdout.write(`${table(rows)}\n`);
    }
    return EXIT_OK;
  });
};

function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}

function parseBackoff(text: string): NonNullable<NonNullable<SubmitRequest['options']>['backoff']> {
  const match = /^(fixed|exponential):(\d+)$/.exec(text);
  if (match === null) {
    throw new UsageError(`--backoff must be fixed:<ms> or exponential:<ms> (got ${JSON.stringify(text)})`);
  }
  return { type: match[1] as 'fixed' | 'exponential', delay: Number(match[2]) };
}

/** The job options submit and schedule add share (their --idempotency-key aside). */
const JOB_OPTION_FLAGS = {
  delay: { type: 'string' },
  priority: { type: 'string' },
  attempts: { type: 'string' },
  backoff: { type: 'string' },
  'time-limit': { type: 'string' },
} as const;

function jobOptions(values: {
  delay?: string | undefined;
  priority?: string | undefined;
  attempts?: string | undefined;
  backoff?: string | undefined;
  'time-limit'?: string | undefined;
}): { -readonly [K in keyof ScheduleJobOptions]: ScheduleJobOptions[K] } {
  return {
    ...optional('delay', integer('delay', values.delay, 0, Number.MAX_SAFE_INTEGER)),
    ...optional('priority', integer('priority', values.priority, -1_000_000, 1_000_000)),
    ...optional('attempts', integer('attempts', values.attempts, 1, 1_000_000)),
    ...optional('timeLimit', integer('time-limit', values['time-limit'], 1, Number.MAX_SAFE_INTEGER)),
    ...(values.backoff === undefined ? {} : { backoff: parseBackoff(values.backoff) }),
  };
}

/** `<module>:<export>` as the API takes it. */
function taskTarget(target: string, example: string): { module: string; export: string } {
  const colon = target.lastIndexOf(':');
  if (colon <= 0 || colon === target.length - 1) {
    throw new UsageError(
      `name the task as <module>:<export>, e.g. ${example} (got ${JSON.stringify(target)})`,
    );
  }
  return { module: target.slice(0, colon), export: target.slice(colon + 1) };
}

const submit: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      args: { type: 'string' },
      wait: { type: 'boolean' },
      ...JOB_OPTION_FLAGS,
      'idempotency-key': { type: 'string' },
      ...CONNECTION_OPTIONS,
    },
  });
  if (showHelp(io, values, SUBMIT_HELP)) return EXIT_OK;
  const target = taskTarget(oneId(positionals, '<module>:<export>'), 'tasks.ts:resize');
  const taskArgs = jsonArgs(values.args);
  const options: { -readonly [K in keyof SubmitJobOptions]: SubmitJobOptions[K] } = jobOptions(values);
  if (values['idempotency-key'] !== undefined) options.idempotencyKey = values['idempotency-key'];
  const request: SubmitRequest = {
    ...target,
    args: taskArgs,
    ...(Object.keys(options).length > 0 ? { options } : {}),
  };
  return withClient(io, 'submit', values, async (client) => {
    const submitted = await client.submit(request);
    if (values.wait !== true) {
      if (values.json === true) json(io, submitted);
      else {
        io.stdout.write(`${submitted.id}\n`);
        io.stderr.write(
          `submitted ${submitted.task} as job ${submitted.id}; skein job ${submitted.id} shows it\n`,
        );
      }
      return EXIT_OK;
    }
    if (values.json !== true)
      io.stderr.write(`submitted ${submitted.task} as job ${submitted.id}; waiting\n`);
    const job = await waitForJob(client, submitted.id);
    if (values.json === true) json(io, job);
    else {
      io.stderr.write(`${summary(job)}\n`);
      if (job.state === 'succeeded') io.stdout.write(`${JSON.stringify(job.result)}\n`);
    }
    return job.state === 'succeeded' ? EXIT_OK : EXIT_FAILURE;
  });
};

const ps: Command = async (args, io) => {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      state: { type: 'string' },
      limit: { type: 'string' },
      offset: { type: 'string' },
      ...CONNECTION_OPTIONS,
    },
  });
  if (showHelp(io, values, PS_HELP)) return EXIT_OK;
  if (values.state !== undefined && !JOB_STATE_NAMES.includes(values.state)) {
    throw new UsageError(
      `--state must be one of ${JOB_STATE_NAMES.join(', ')} (got ${JSON.stringify(values.state)})`,
    );
  }
  const limit = integer('limit', values.limit, 1, 500);
  const offset = integer('offset', values.offset, 0, 10_000);
  return withClient(io, 'ps', values, async (client) => {
    const page = await client.jobs({
      ...(values.state === undefined ? {} : { state: values.state as JobView['state'] }),
      ...(limit === undefined ? {} : { limit }),
      ...(offset === undefined ? {} : { offset }),
    });
    if (values.json === true) json(io, page);
    else if (page.jobs.length === 0)
      io.stderr.write(`no jobs${values.state === undefined ? '' : ` ${values.state}`}\n`);
    else {
      const now = Date.now();
      const rows = [['ID', 'STATE', 'TASK', 'ATTEMPTS', 'CREATED']];
      for (const job of page.jobs) {
        rows.push([
          job.id,
          job.state,
          job.task,
          `${job.attempt}/${job.maxAttempts}`,
          ago(job.createdAt, now),
        ]);
      }
      io.stdout.write(`${table(rows)}\n`);
    }
    return EXIT_OK;
  });
};

const job: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { wait: { type: 'boolean' }, ...CONNECTION_OPTIONS },
  });
  if (showHelp(io, values, JOB_HELP)) return EXIT_OK;
  const id = oneId(positionals, 'job id');
  return withClient(io, 'job', values, async (client) => {
    const view = values.wait === true ? await waitForJob(client, id) : await client.job(id);
    if (values.json === true) json(io, view);
    else {
      const now = Date.now();
      const lines = [
        ['id', view.id],
        ['task', view.task],
        ['state', view.state],
        ['attempts', `${view.attempt}/${view.maxAttempts}`],
        ['created', ago(view.createdAt, now)],
        ['started', ago(view.startedAt, now)],
        ['finished', ago(view.finishedAt, now)],
        ['args', JSON.stringify(view.args)],
      ];
      if (view.state === 'succeeded') lines.push(['result', JSON.stringify(view.result)]);
      if (view.error !== null) lines.push(['error', errorLine(view)]);
      io.stdout.write(`${lines.map(([key, value]) => `${key!.padEnd(9)}${value}`).join('\n')}\n`);
    }
    return EXIT_OK;
  });
};

const logs: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      follow: { type: 'boolean', short: 'f' },
      after: { type: 'string' },
      ...CONNECTION_OPTIONS,
    },
  });
  if (showHelp(io, values, LOGS_HELP)) return EXIT_OK;
  const id = oneId(positionals, 'job id');
  const after = integer('after', values.after, 0, Number.MAX_SAFE_INTEGER) ?? 0;
  return withClient(io, 'logs', values, async (client) => {
    let attempt = 0;
    const print = (line: {
      attempt: number;
      stream: 'stdout' | 'stderr';
      text: string;
      seq: number;
    }): void => {
      if (values.json === true) {
        io.stdout.write(`${JSON.stringify(line)}\n`);
        return;
      }
      // The first attempt goes unnamed; a retried job's attempts are told apart.
      if (line.attempt !== attempt && (attempt !== 0 || line.attempt !== 1))
        io.stderr.write(`--- attempt ${line.attempt} ---\n`);
      attempt = line.attempt;
      (line.stream === 'stderr' ? io.stderr : io.stdout).write(`${line.text}\n`);
    };
    if (values.follow !== true) {
      let cursor = after;
      for (;;) {
        const page = await client.logs(id, { after: cursor, limit: 5000 });
        if (cursor === after && page.dropped > 0 && values.json !== true)
          io.stderr.write(
            `(${page.dropped} earlier lines of job ${id} were dropped: the server keeps the last 10000 lines or 1 MiB of a job)\n`,
          );
        for (const line of page.lines) print(line);
        cursor = page.next;
        if (page.lines.length < 5000) return EXIT_OK;
      }
    }
    for await (const item of await client.followLogs(id, { after })) {
      if ('line' in item) print(item.line);
      else {
        if (values.json === true) io.stdout.write(`${JSON.stringify(item.end)}\n`);
        else io.stderr.write(`job ${id} ${item.end.state}\n`);
        return EXIT_OK;
      }
    }
    io.stderr.write(
      `skein logs: the server ended the stream before job ${id} finished; run skein logs -f again\n`,
    );
    return EXIT_FAILURE;
  });
};

const cancel: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: CONNECTION_OPTIONS,
  });
  if (showHelp(io, values, CANCEL_HELP)) return EXIT_OK;
  const id = oneId(positionals, 'job id');
  return withClient(io, 'cancel', values, async (client) => {
    const answer = await client.cancel(id);
    if (values.json === true) json(io, answer);
    else {
      const said = {
        cancelled: 'cancelled',
        requested: 'is running: cancellation requested (its task sees an aborted signal)',
        finished: 'had already finished: left as it was',
      }[answer.outcome];
      io.stdout.write(`job ${id} ${said}\n`);
    }
    return EXIT_OK;
  });
};

const retry: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: CONNECTION_OPTIONS,
  });
  if (showHelp(io, values, RETRY_HELP)) return EXIT_OK;
  const id = oneId(positionals, 'job id');
  return withClient(io, 'retry', values, async (client) => {
    const answer = await client.retry(id);
    if (values.json === true) json(io, answer);
    else io.stdout.write(`job ${id} queued again\n`);
    return EXIT_OK;
  });
};

const DURATION_UNITS_S: Readonly<Record<string, number>> = Object.freeze({ s: 1, m: 60, h: 3600, d: 86_400 });

/** `90s`, `30m`, `12h`, `30d` or a number of seconds, as seconds (1 s to ten years). */
function durationSeconds(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text);
  const seconds = match === null ? Number.NaN : Number(match[1]) * DURATION_UNITS_S[match[2] || 's']!;
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_TOKEN_LIFETIME_S) {
    throw new UsageError(
      `--expires-in must be a duration such as 90s, 30m, 12h or 30d (or seconds), from 1 s to 10 years (got ${JSON.stringify(text)})`,
    );
  }
  return seconds;
}

function tokenRows(tokens: readonly TokenView[]): string {
  const rows = [['ID', 'NAME', 'TENANT', 'SCOPES', 'CREATED', 'REVOKED', 'EXPIRES']];
  const now = Date.now();
  for (const token of tokens) {
    rows.push([
      token.id,
      token.name,
      token.tenant,
      token.scopes.join(','),
      ago(token.createdAt, now),
      ago(token.revokedAt, now),
      token.expiresAt === null
        ? '-'
        : token.expiresAt <= now
          ? `expired ${ago(token.expiresAt, now)}`
          : new Date(token.expiresAt).toISOString(),
    ]);
  }
  return table(rows);
}

const token: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      tenant: { type: 'string' },
      'expires-in': { type: 'string' },
      ...CONNECTION_OPTIONS,
    },
  });
  if (showHelp(io, values, TOKEN_HELP)) return EXIT_OK;
  if (positionals.length === 0) throw new UsageError('name an action: create, list or revoke');
  const [action, ...rest] = positionals;
  try {
    if (action === 'create') {
      if (rest.length > 0)
        throw new UsageError(`token create takes no positional arguments (got ${rest.join(' ')})`);
      if (values.name === undefined || values.name === '')
        throw new UsageError('token create needs --name <name>');
      const scopes = values.scope ?? [];
      if (scopes.length === 0)
        throw new UsageError(
          'token create needs at least one --scope (admin, deploy, invoke, read, agent, operator)',
        );
      const bad = scopes.find((scope) => !CLI_TOKEN_SCOPES.includes(scope));
      if (bad !== undefined)
        throw new UsageError(
          `--scope must be admin, deploy, invoke, read, agent or operator (got ${JSON.stringify(bad)})`,
        );
      if (values.tenant !== undefined && !new RegExp(TENANT_PATTERN).test(values.tenant))
        throw new UsageError(
          `--tenant must be 1 to 32 characters of a-z, 0-9 and -, starting and ending with a letter or digit (got ${JSON.stringify(values.tenant)})`,
        );
      const expiresIn =
        values['expires-in'] === undefined ? undefined : durationSeconds(values['expires-in']);
      const created = await (await clientFrom(values)).createToken(values.name, scopes as TokenScope[], {
        ...(values.tenant === undefined ? {} : { tenant: values.tenant }),
        ...(expiresIn === undefined ? {} : { expiresIn }),
      });
      if (values.json === true) json(io, created);
      else {
        io.stdout.write(`${created.token}\n`);
        io.stderr.write(
          `token ${created.id} (${created.scopes.join(', ')}) of tenant ${created.tenant} created${created.expiresAt === null ? '' : `, valid until ${new Date(created.expiresAt).toISOString()}`}; it is shown only now\n`,
        );
      }
      return EXIT_OK;
    }
    if (action === 'list') {
      const tokens = await (await clientFrom(values)).tokens();
      if (values.json === true) json(io, tokens);
      else io.stdout.write(`${tokenRows(tokens)}\n`);
      return EXIT_OK;
    }
    if (action === 'revoke') {
      const revoked = await (await clientFrom(values)).revokeToken(oneId(rest, 'token id'));
      if (values.json === true) json(io, revoked);
      else io.stdout.write(`token ${revoked.id} revoked\n`);
      return EXIT_OK;
    }
    throw new UsageError(`unknown token action ${JSON.stringify(action)}: use create, list or revoke`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    return failure(io, 'token', error);
  }
};

const DEPLOY_HELP = `Usage: skein deploy <module> [options]

Bundles <module> and what it imports into one ESM file (esbuild; skein itself stays an import),
uploads it with its SHA-256, and makes each exported task() a function: POST /fn/<export>, or
POST /fn/<name>.<export> with --name. The server keeps every bundle once, by hash; deploying
again points the names at the new bundle, and skein fn rollback points them back.

Settings of each function come from the module's config export (see docs/cloud.md), then
these flags, which win over it for every function of the module; the server's --function-*
options fill in what neither sets.

Options:
  --name <prefix>           Name the functions <prefix>.<export> (letters, digits, _ and -)
  --isolation <kind>        thread (a worker thread of the server, default) or process
  --memory <MiB>            Heap limit of the thread or process running a call (32 to 65536)
  --timeout <ms>            Wall-clock limit of a call from its start (1 to 2147483647)
  --concurrency <n>         Calls running at once (1 to 10000)
  --queue <n>               Calls waiting beyond that before 429 (0 to 100000)
${CONNECTION_HELP}`;

const FN_HELP = `Usage: skein fn list (or ls)
       skein fn rollback <name> <hash>

Lists functions (name, version, bundle hash, export, versions, and the settings calls run with:
isolation, memory limit in MiB, timeout in ms, concurrency, queue), or points a function back at a
bundle hash it had (the full hash, or a prefix of 7 characters or more). Rollback needs a token
with the deploy scope.

Options:
${CONNECTION_HELP}`;

const INVOKE_HELP = `Usage: skein invoke <name> [options]

Calls a deployed function and prints its result (JSON). With --async, prints the id of the job
that runs the call (skein job <id> --wait shows its result).

Options:
  --args <json>             The arguments as a JSON array (default [])
  --async                   Run the call as a job and print its id
${CONNECTION_HELP}`;

function jsonArgs(text: string | undefined): unknown[] {
  if (text === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--args must be a JSON array (${(error as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new UsageError(`--args must be a JSON array (got ${text})`);
  return parsed;
}

const deploy: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      isolation: { type: 'string' },
      memory: { type: 'string' },
      timeout: { type: 'string' },
      concurrency: { type: 'string' },
      queue: { type: 'string' },
      ...CONNECTION_OPTIONS,
    },
  });
  if (showHelp(io, values, DEPLOY_HELP)) return EXIT_OK;
  const module = oneId(positionals, 'module to deploy');
  if (values.name !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(values.name)) {
    throw new UsageError(
      `--name must be 1 to 64 letters, digits, _ or - (got ${JSON.stringify(values.name)})`,
    );
  }
  if (values.isolation !== undefined && values.isolation !== 'thread' && values.isolation !== 'process')
    throw new UsageError(`--isolation must be thread or process (got ${JSON.stringify(values.isolation)})`);
  const settings = {
    ...(values.isolation === undefined ? {} : { isolation: values.isolation as 'thread' | 'process' }),
    ...optional('memoryMb', integer('memory', values.memory, 32, 65_536)),
    ...optional('timeout', integer('timeout', values.timeout, 1, 2 ** 31 - 1)),
    ...optional('concurrency', integer('concurrency', values.concurrency, 1, 10_000)),
    ...optional('queue', integer('queue', values.queue, 0, 100_000)),
  };
  return withClient(io, 'deploy', values, async (client) => {
    // Each step can take seconds (esbuild, an upload of megabytes, the server's check in a worker):
    // say which one runs, on stderr, unless the output is JSON.
    const step = (text: string): void => {
      if (values.json !== true) io.stderr.write(`${text}\n`);
    };
    const started = performance.now();
    step(`bundling ${module}…`);
    const { bundleModule } = await import('../cloud/bundle.ts');
    const bundle = await bundleModule(module);
    step(
      `bundled in ${Math.round(performance.now() - started)} ms (${bundle.source.length} characters); uploading and checking its exports on the server…`,
    );
    const deployed = await client.deploy({
      hash: bundle.hash,
      bundle: bundle.source,
      ...(values.name === undefined ? {} : { name: values.name }),
      ...(Object.keys(settings).length === 0 ? {} : { settings }),
    });
    if (values.json === true) json(io, deployed);
    else {
      io.stderr.write(
        `deployed ${module} as bundle ${deployed.hash} (${deployed.size} bytes${deployed.stored ? '' : ', stored before'})\n`,
      );
      const rows = [['FUNCTION', 'EXPORT', 'ROUTE']];
      for (const fn of deployed.functions) rows.push([fn.name, fn.export, `POST /fn/${fn.name}`]);
      io.stdout.write(`${table(rows)}\n`);
    }
    return EXIT_OK;
  });
};

function functionRows(functions: readonly FunctionView[]): string {
  const rows = [
    [
      'NAME',
      'VERSION',
      'HASH',
      'EXPORT',
      'VERSIONS',
      'ISOLATION',
      'MEMORY',
      'TIMEOUT',
      'CONC',
      'QUEUE',
      'UPDATED',
    ],
  ];
  const now = Date.now();
  for (const fn of functions) {
    const settings = fn.settings;
    rows.push([
      fn.name,
      String(fn.version),
      fn.hash.slice(0, 12),
      fn.export,
      String(fn.versions.length),
      settings.isolation,
      settings.memoryMb === null ? '-' : `${settings.memoryMb}MiB`,
      `${settings.timeout}ms`,
      String(settings.concurrency),
      String(settings.queue),
      ago(fn.updatedAt, now),
    ]);
  }
  return table(rows);
}

const fn: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: CONNECTION_OPTIONS,
  });
  if (showHelp(io, values, FN_HELP)) return EXIT_OK;
  const [action, ...rest] = positionals;
  if (action === undefined) throw new UsageError('name an action: list or rollback');
  if (action === 'list' || action === 'ls') {
    if (rest.length > 0) throw new UsageError(`fn list takes no arguments (got ${rest.join(' ')})`);
  } else if (action === 'rollback') {
    if (rest.length !== 2) throw new UsageError('fn rollback takes a function name and a bundle hash');
    if (!/^[0-9a-f]{7,64}$/.test(rest[1]!))
      throw new UsageError(`the hash must be 7 to 64 hex characters (got ${JSON.stringify(rest[1])})`);
  } else throw new UsageError(`unknown fn action ${JSON.stringify(action)}: use list or rollback`);
  return withClient(io, 'fn', values, async (client) => {
    if (action === 'list' || action === 'ls') {
      const functions = await client.functions();
      if (values.json === true) json(io, functions);
      else if (functions.length === 0) io.stderr.write('no functions; skein deploy ./fns.ts adds some\n');
      else io.stdout.write(`${functionRows(functions)}\n`);
      return EXIT_OK;
    }
    const view = await client.rollback(rest[0]!, rest[1]!);
    if (values.json === true) json(io, view);
    else io.stdout.write(`function ${view.name} now runs version ${view.version} (bundle ${view.hash})\n`);
    return EXIT_OK;
  });
};

const invoke: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { args: { type: 'string' }, async: { type: 'boolean' }, ...CONNECTION_OPTIONS },
  });
  if (showHelp(io, values, INVOKE_HELP)) return EXIT_OK;
  const name = oneId(positionals, 'function name');
  const callArgs = jsonArgs(values.args);
  return withClient(io, 'invoke', values, async (client) => {
    if (values.async === true) {
      const answer = await client.invokeAsync(name, callArgs);
      if (values.json === true) json(io, answer);
      else {
        io.stdout.write(`${answer.id}\n`);
        io.stderr.write(
          `function ${name} runs as job ${answer.id}; skein job ${answer.id} --wait shows its result\n`,
        );
      }
      return EXIT_OK;
    }
    const result = await client.invoke(name, callArgs);
    io.stdout.write(`${JSON.stringify(result)}\n`);
    return EXIT_OK;
  });
};

const SCHEDULE_HELP = `Usage: skein schedule add <name> (--cron <expr> | --every <duration>) <module>:<export> [options]
       skein schedule add <name> (--cron <expr> | --every <duration>) --fn <function> [--args <json>]
       skein schedule ls
       skein schedule show <name> [--history <n>]
       skein schedule pause|resume|rm <name>

Manages schedules: periodic jobs the server stores on each tick of a cron expression (five
fields, UTC: minute hour day-of-month month day-of-week, or @hourly, @daily …) or of an interval
(--every 30s, 5m, 1h, 1d or milliseconds; at least 1s, aligned to multiples since the epoch). A
tick runs a task as skein submit does, or a deployed function as skein invoke --async does. Each
tick fires once, even across a restart; ticks missed while the server was down are not fired.
Adding, pausing, resuming and removing need a token with the deploy scope.

Options:
  --cron <expr>             Cron expression, in UTC (add)
  --every <duration>        Interval: 30s, 5m, 1h, 1d, 500ms or milliseconds (add)
  --fn <function>           Call this deployed function at each tick instead of a task (add)
  --args <json>             The arguments as a JSON array (default [])
  --paused                  Create the schedule paused (add)
  --delay <ms>, --priority <n>, --attempts <n>, --backoff <type:ms>, --time-limit <ms>
                            Job options of each firing, as for skein submit (add, task targets)
  --history <n>             Jobs of the history to show, newest first (show; default 20)
${CONNECTION_HELP}`;

const DURATION_UNITS_MS: Readonly<Record<string, number>> = Object.freeze({
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
});

/** Milliseconds of `30s`, `5m`, `1h`, `1d`, `500ms` or a plain number of milliseconds. */
function duration(name: string, text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text);
  const ms = match === null ? Number.NaN : Number(match[1]) * DURATION_UNITS_MS[match[2] ?? 'ms']!;
  if (!Number.isSafeInteger(ms) || ms < 1000) {
    throw new UsageError(
      `--${name} must be a duration of at least 1s, such as 30s, 5m, 1h or 1d (got ${JSON.stringify(text)})`,
    );
  }
  return ms;
}

function until(epochMs: number | null, now = Date.now()): string {
  if (epochMs === null) return '-';
  const seconds = Math.max(0, Math.round((epochMs - now) / 1000));
  if (seconds < 60) return `in ${seconds}s`;
  if (seconds < 3600) return `in ${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `in ${Math.floor(seconds / 3600)}h`;
  return `in ${Math.floor(seconds / 86_400)}d`;
}

function cadence(view: ScheduleView): string {
  if (view.cron !== null) return `cron ${view.cron}`;
  const every = view.every!;
  const [unit, size] =
    every % 86_400_000 === 0
      ? ['d', 86_400_000]
      : every % 3_600_000 === 0
        ? ['h', 3_600_000]
        : every % 60_000 === 0
          ? ['m', 60_000]
          : every % 1000 === 0
            ? ['s', 1000]
            : ['ms', 1];
  return `every ${every / (size as number)}${unit}`;
}

function scheduleTarget(view: ScheduleView): string {
  return view.task ?? `fn ${view.function}`;
}

const SCHEDULE_ACTIONS = ['add', 'ls', 'show', 'pause', 'resume', 'rm'];

const schedule: Command = async (args, io) => {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      cron: { type: 'string' },
      every: { type: 'string' },
      fn: { type: 'string' },
      args: { type: 'string' },
      paused: { type: 'boolean' },
      ...JOB_OPTION_FLAGS,
      history: { type: 'string' },
      ...CONNECTION_OPTIONS,
    },
  });
  if (showHelp(io, values, SCHEDULE_HELP)) return EXIT_OK;
  const [action, ...rest] = positionals;
  if (action === undefined || !SCHEDULE_ACTIONS.includes(action)) {
    throw new UsageError(
      `${action === undefined ? 'name an action' : `unknown schedule action ${JSON.stringify(action)}`}: use ${SCHEDULE_ACTIONS.join(', ')}`,
    );
  }
  if (action === 'ls') {
    if (rest.length > 0) throw new UsageError(`schedule ls takes no arguments (got ${rest.join(' ')})`);
    return withClient(io, 'schedule', values, async (client) => {
      const list = await client.schedules();
      if (values.json === true) json(io, list);
      else if (list.length === 0)
        io.stderr.write('no schedules; skein schedule add <name> --every 1m tasks.ts:job adds one\n');
      else {
        const now = Date.now();
        const rows = [['NAME', 'STATE', 'SCHEDULE', 'TARGET', 'NEXT RUN', 'LAST RUN']];
        for (const view of list) {
          rows.push([
            view.name,
            view.error === null ? view.state : `${view.state} (error)`,
            cadence(view),
            scheduleTarget(view),
            until(view.nextRunAt, now),
            ago(view.lastRunAt, now),
          ]);
        }
        io.stdout.write(`${table(rows)}\n`);
      }
      return EXIT_OK;
    });
  }
  if (action === 'add') return addSchedule(rest, values, io);
  const name = oneId(rest, 'schedule name');
  const history = integer('history', values.history, 0, 100);
  return withClient(io, 'schedule', values, async (client) => {
    if (action === 'show') {
      const view = await client.schedule(name, history === undefined ? {} : { history });
      if (values.json === true) json(io, view);
      else {
        const now = Date.now();
        io.stdout.write(
          `schedule ${view.name}: ${view.state}, ${cadence(view)}, runs ${scheduleTarget(view)} ${JSON.stringify(view.args)}\n` +
            (view.error === null ? '' : `  error     ${view.error}\n`) +
            `  next run  ${view.nextRunAt === null ? '-' : `${new Date(view.nextRunAt).toISOString()} (${until(view.nextRunAt, now)})`}\n` +
            `  last run  ${view.lastRunAt === null ? '-' : `${new Date(view.lastRunAt).toISOString()} (${ago(view.lastRunAt, now)})`}\n`,
        );
        if (view.history.length > 0) {
          const rows = [['JOB', 'TICK', 'STATE']];
          for (const run of view.history) {
            rows.push([run.jobId, new Date(run.tickAt).toISOString(), run.state ?? '(gone)']);
          }
          io.stdout.write(`${table(rows)}\n`);
        }
      }
      return EXIT_OK;
    }
    const view =
      action === 'pause'
        ? await client.pauseSchedule(name)
        : action === 'resume'
          ? await client.resumeSchedule(name)
          : await client.removeSchedule(name);
    if (values.json === true) json(io, view);
    else {
      const did = action === 'pause' ? 'paused' : action === 'resume' ? 'resumed' : 'removed';
      io.stdout.write(
        `schedule ${view.name} ${did}${view.nextRunAt === null ? '' : `; next run ${until(view.nextRunAt)}`}\n`,
      );
    }
    return EXIT_OK;
  });
};

function addSchedule(
  rest: string[],
  values: {
    cron?: string | undefined;
    every?: string | undefined;
    fn?: string | undefined;
    args?: string | undefined;
    paused?: boolean | undefined;
    delay?: string | undefined;
    priority?: string | undefined;
    attempts?: string | undefined;
    backoff?: string | undefined;
    'time-limit'?: string | undefined;
    server?: string | undefined;
    token?: string | undefined;
    json?: boolean | undefined;
  },
  io: CliIo,
): Promise<number> {
  const [name, target, ...extra] = rest;
  if (name === undefined || name === '') throw new UsageError('schedule add needs a name');
  if (extra.length > 0)
    throw new UsageError(`schedule add takes one target (got ${rest.slice(1).join(' ')})`);
  if ((values.cron === undefined) === (values.every === undefined)) {
    throw new UsageError('schedule add needs exactly one of --cron <expr> and --every <duration>');
  }
  if ((target === undefined) === (values.fn === undefined)) {
    throw new UsageError('schedule add needs exactly one target: <module>:<export> or --fn <function>');
  }
  const options: ScheduleJobOptions = jobOptions(values);
  const task = target === undefined ? undefined : taskTarget(target, 'tasks.ts:report');
  if (task === undefined && Object.keys(options).length > 0) {
    throw new UsageError('job options (--delay, --priority …) apply to task targets only, not --fn');
  }
  const request: ScheduleRequest = {
    name,
    ...(values.cron === undefined ? { every: duration('every', values.every!) } : { cron: values.cron }),
    ...(task ?? { function: values.fn! }),
    args: jsonArgs(values.args),
    ...(Object.keys(options).length > 0 ? { options } : {}),
    ...(values.paused === true ? { paused: true } : {}),
  };
  return withClient(io, 'schedule', values, async (client) => {
    const view = await client.createSchedule(request);
    if (values.json === true) json(io, view);
    else {
      io.stdout.write(
        `schedule ${view.name} ${view.state === 'paused' ? 'created paused' : 'created'}: ${cadence(view)}, runs ${scheduleTarget(view)}${view.nextRunAt === null ? '' : `; next run ${new Date(view.nextRunAt).toISOString()} (${until(view.nextRunAt)})`}\n`,
      );
    }
    return EXIT_OK;
  });
}

export type CloudCommandName =
  | 'up'
  | 'worker'
  | 'agents'
  | 'submit'
  | 'ps'
  | 'job'
  | 'logs'
  | 'cancel'
  | 'retry'
  | 'token'
  | 'deploy'
  | 'fn'
  | 'invoke'
  | 'schedule';

export const CLOUD_COMMANDS: Readonly<Record<CloudCommandName, Command>> = Object.freeze({
  up,
  worker,
  agents,
  submit,
  ps,
  job,
  logs,
  cancel,
  retry,
  token,
  deploy,
  fn,
  invoke,
  schedule,
});
