// `skein mpirun -n N prog.ts [args]`: runs a program on N ranks (threads by default, --procs for
// processes, --tcp for processes over TCP on this host), each output line prefixed "[rank] ", and
// exits 0 when every rank finished, 1 when the job failed (the error names the rank), 2 on bad usage.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
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
  --host <address>            Address the TCP ranks listen on (default 127.0.0.1)
  --deadlock-timeout <ms>     Fail when every rank waits this long with no message moving (default 10000)
  --eager-limit <bytes>       Largest message sent without waiting for its receiver (default 65536)
  --timeout <ms>              Fail the job when it runs longer
  -h, --help                  Show this help
`;

/** Options with a value: the program starts at the first argument that is neither one nor its value. */
const VALUE_OPTIONS = new Set(['-n', '--np', '--host', '--deadlock-timeout', '--eager-limit', '--timeout']);

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
      'deadlock-timeout': { type: 'string' },
      'eager-limit': { type: 'string' },
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
  const transport = values.tcp === true ? 'tcp' : values.procs === true ? 'process' : 'thread';
  const { mpirun } = await import('../mpi/index.ts');
  const deadlockTimeout = integer('deadlock-timeout', values['deadlock-timeout'], 1);
  const eagerLimit = integer('eager-limit', values['eager-limit'], 0);
  const timeout = integer('timeout', values.timeout, 1);
  try {
    await mpirun(ranks, pathToFileURL(resolve(program)), {
      transport,
      argv: args.slice(split + 1),
      output: (line, rank, stream) =>
        (stream === 'stdout' ? io.stdout : io.stderr).write(`[${rank}] ${line}\n`),
      ...(values.host === undefined ? {} : { host: values.host }),
      ...(deadlockTimeout === undefined ? {} : { deadlockTimeout }),
      ...(eagerLimit === undefined ? {} : { eagerLimit }),
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
