// `skein mpirun -n N prog.ts [args]`: runs a program on N ranks (threads by default, --procs for
// processes, --tcp for processes over TCP on this host), each output line prefixed "[rank] ", and
// exits 0 when every rank finished, 1 when the job failed (the error names the rank), 2 on bad usage.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { MpiHost } from '../mpi/index.ts';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.ts';
import type { CliIo } from './io.ts';
import { UsageError } from './usage-error.ts';

export const MPIRUN_HELP = `Usage: skein mpirun -n <ranks> [options] <program.ts> [program args]

Runs a program on N ranks. Each rank imports the program; its top level gets its communicator with
'const comm = await world()' (import { world } from 'skein/mpi'). Every line a rank prints is
prefixed with "[rank] ". Exits 0 when every rank finished, 1 when the job failed.

Options:
  -n, --np <ranks>            Number of ranks (required)
  --procs                     Ranks as child processes over Unix sockets (default: worker threads)
  --tcp                       Ranks as child processes over TCP
  --host <address>            Address this launcher listens on for its TCP ranks (default 127.0.0.1;
                              with --hosts, one the agents' hosts can reach)
  --hosts <a:port,b:port>     Run the ranks on these mpi-agents over TCP, dealt out in blocks
  --hostfile <file>           The same, one agent address per line (# comments)
  --agent-token <token>       The agents' token (default: $SKEIN_MPI_AGENT_TOKEN)
  --cloud                     Run the ranks on the cloud's agents that host MPI ranks (skein worker
                              --mpi-listen), filling the agents with the most free slots first
  --server <url>              With --cloud: the server (default: $SKEIN_SERVER, else .skein/credentials.json)
  --token <token>             With --cloud: a token that may deploy (default: $SKEIN_TOKEN, else the same file)
  --deadlock-timeout <ms>     Fail when every rank waits this long with no message moving (default 10000)
  --eager-limit <bytes>       Largest message sent without waiting for its receiver (default 65536)
  --unexpected-limit <bytes>  Bytes of not yet received messages a rank holds per sender before that
                              sender's sends wait (default 67108864)
  --timeout <ms>              Fail the job when it runs longer
  -h, --help                  Show this help
`;

/** Options with a value: the program starts at the first argument that is neither one nor its value. */
const VALUE_OPTIONS = new Set([
  '-n',
  '--np',
  '--host',
  '--hosts',
  '--hostfile',
  '--agent-token',
  '--server',
  '--token',
  '--deadlock-timeout',
  '--eager-limit',
  '--unexpected-limit',
  '--timeout',
]);

function integer(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min) {
    throw new UsageError(`--${name} must be an integer >= ${min} (got ${JSON.stringify(value)})`);
  }
  return number;
}

export async function mpirunCommand(args: string[], io: CliIo): Promise<number> {
  let split = 0;
  while (split < args.length) {
    const arg = args[split]!;
    if (!arg.startsWith('-')) break;
    split += VALUE_OPTIONS.has(arg) ? 2 : 1;
  }
  const { values } = parseArgs({
    args: args.slice(0, split),
    strict: true,
    allowPositionals: false,
    options: {
      np: { type: 'string', short: 'n' },
      procs: { type: 'boolean' },
      tcp: { type: 'boolean' },
      host: { type: 'string' },
      hosts: { type: 'string' },
      hostfile: { type: 'string' },
      'agent-token': { type: 'string' },
      cloud: { type: 'boolean' },
      server: { type: 'string' },
      token: { type: 'string' },
      'deadlock-timeout': { type: 'string' },
      'eager-limit': { type: 'string' },
      'unexpected-limit': { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    io.stdout.write(MPIRUN_HELP);
    return EXIT_OK;
  }
  const program = args[split];
  if (program === undefined) throw new UsageError('mpirun needs a program: skein mpirun -n 4 prog.ts');
  const ranks = integer('np', values.np, 1);
  if (ranks === undefined) throw new UsageError('mpirun needs the number of ranks: -n <ranks>');
  if (values.procs === true && values.tcp === true) throw new UsageError('choose one of --procs and --tcp');
  if (values.cloud === true && (values.hosts !== undefined || values.hostfile !== undefined)) {
    throw new UsageError('choose one of --cloud and --hosts/--hostfile');
  }
  if (values.cloud !== true && (values.server !== undefined || values.token !== undefined)) {
    throw new UsageError('--server and --token go with --cloud');
  }
  let hosts: (string | MpiHost)[] = [];
  if (values.hosts !== undefined)
    hosts = values.hosts
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h !== '');
  if (values.hostfile !== undefined) {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(values.hostfile, 'utf8').catch((error: Error) => {
      throw new UsageError(`--hostfile ${values.hostfile} cannot be read: ${error.message}`);
    });
    hosts.push(
      ...text
        .split('\n')
        .map((line) => line.replace(/#.*/, '').trim())
        .filter((line) => line !== ''),
    );
  }
  if (values.cloud === true) {
    try {
      hosts = await cloudHosts(ranks, values.server, values.token);
    } catch (error) {
      const { code, message } = error as { code?: string; message?: string };
      io.stderr.write(`skein mpirun: ${code === undefined ? '' : `${code}: `}${message ?? String(error)}\n`);
      return EXIT_FAILURE;
    }
  }
  if (hosts.length > 0 && values.procs === true)
    throw new UsageError(
      `${values.cloud === true ? '--cloud' : '--hosts'} runs ranks over TCP; drop --procs`,
    );
  const transport =
    values.tcp === true || hosts.length > 0 ? 'tcp' : values.procs === true ? 'process' : 'thread';
  const { mpirun } = await import('../mpi/index.ts');
  const deadlockTimeout = integer('deadlock-timeout', values['deadlock-timeout'], 1);
  const eagerLimit = integer('eager-limit', values['eager-limit'], 0);
  const unexpectedLimit = integer('unexpected-limit', values['unexpected-limit'], 1);
  const timeout = integer('timeout', values.timeout, 1);
  try {
    await mpirun(ranks, pathToFileURL(resolve(program)), {
      transport,
      argv: args.slice(split + 1),
      output: (line, rank, stream) =>
        (stream === 'stdout' ? io.stdout : io.stderr).write(`[${rank}] ${line}\n`),
      ...(values.host === undefined ? {} : { host: values.host }),
      ...(hosts.length === 0 ? {} : { hosts }),
      ...(values['agent-token'] === undefined ? {} : { agentToken: values['agent-token'] }),
      ...(deadlockTimeout === undefined ? {} : { deadlockTimeout }),
      ...(eagerLimit === undefined ? {} : { eagerLimit }),
      ...(unexpectedLimit === undefined ? {} : { unexpectedLimit }),
      ...(timeout === undefined ? {} : { timeout }),
    });
    return EXIT_OK;
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code === 'SKEIN_MPI_INVALID_ARGUMENT') throw new UsageError(message ?? String(error));
    io.stderr.write(`skein mpirun: ${code === undefined ? '' : `${code}: `}${message ?? String(error)}\n`);
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof Error && cause.stack !== undefined) io.stderr.write(`${cause.stack}\n`);
    return EXIT_FAILURE;
  }
}

/** The cloud's MPI rank hosts for a job of `ranks` ranks, each with its token and free slots. */
async function cloudHosts(
  ranks: number,
  server: string | undefined,
  token: string | undefined,
): Promise<MpiHost[]> {
  const { CloudClient } = await import('../cloud/client.ts');
  const client = await CloudClient.connect({
    ...(server === undefined ? {} : { server }),
    ...(token === undefined ? {} : { token }),
  });
  const placement = await client.mpiPlacement(ranks);
  return placement.map(({ address, token: hostToken, slots }) => ({ address, token: hostToken, slots }));
}

export const MPI_AGENT_HELP = `Usage: skein mpi-agent [--listen <address:port>] [--token <token>]

Listens for skein mpirun --hosts and starts the ranks it is given on this host, as processes that
talk to the other hosts' ranks over TCP. Ranks listen on the --listen address, so give one the other
hosts reach. A launcher must present the token (printed at start; default: $SKEIN_MPI_AGENT_TOKEN or a
random one). The program must be at the same path on every host. Stops on SIGINT or SIGTERM.

Options:
  --listen <address:port>   Where to listen (default 127.0.0.1:7207)
  --token <token>           The token launchers must present (at least 8 characters)
  -h, --help                Show this help
`;

export const MPI_AGENT_DEFAULT_PORT = 7207;

export async function mpiAgentCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: { listen: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help === true) {
    io.stdout.write(MPI_AGENT_HELP);
    return EXIT_OK;
  }
  const listen = values.listen ?? `127.0.0.1:${MPI_AGENT_DEFAULT_PORT}`;
  const at = listen.lastIndexOf(':');
  const port = Number(listen.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`--listen must be address:port (got ${JSON.stringify(listen)})`);
  }
  const { MpiAgent } = await import('../mpi/index.ts');
  const token = values.token ?? process.env.SKEIN_MPI_AGENT_TOKEN;
  const agent = new MpiAgent({
    host: listen.slice(0, at).replace(/^\[|\]$/g, ''),
    port,
    ...(token === undefined ? {} : { token }),
  });
  const address = await agent.listen();
  io.stdout.write(`skein mpi-agent listening on ${address}\ntoken ${agent.token}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await agent.close();
  return EXIT_OK;
}
