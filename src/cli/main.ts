// The `skein` command line: parses arguments with node:util parseArgs and dispatches to a command.
// Usage errors (unknown command or option, bad value) print one clear line and exit 2; a command's own
// failure exits 1.

import { parseArgs } from 'node:util';
import { version } from '../version.ts';
import type { CloudCommandName } from './cloud-commands.ts';
import { DEMO_DEFAULTS, type DemoOptions } from './demo-options.ts';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.ts';
import type { CliIo } from './io.ts';
import { UsageError } from './usage-error.ts';

export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.ts';
export type { CliIo } from './io.ts';

const HELP = `Usage: skein <command> [options]

Parallel and distributed computing for TypeScript.

Commands:
  up            Start the cloud in this directory: API server, job store under .skein/
                and a local agent on every core; prints the URL and an admin token
  worker        Run a server's jobs on this machine: skein worker --server URL --token T
  agents        List the agents: state, resources, labels, running jobs
  submit        Submit a task as a job: skein submit tasks.ts:resize --args '[...]' --wait
  ps            List jobs (--state queued|running|succeeded|failed|dead|cancelled|scheduled)
  job           Show one job: state, attempts, result or error
  logs          Print what a job printed: skein logs <id> [-f] to follow it to its end
  cancel        Cancel a job
  retry         Run a dead or failed job again
  token         Create, list and revoke API tokens (admin)
  deploy        Bundle a module and deploy its tasks as functions: skein deploy ./fns.ts
  fn            List functions, or roll one back: skein fn rollback <name> <hash>
  invoke        Call a function: skein invoke <name> --args '[...]' [--async]
  schedule      Run a task or function periodically: skein schedule add <name> --every 5m
                tasks.ts:report; ls, show, pause, resume, rm
  mpirun        Run a program on N MPI ranks: skein mpirun -n 4 prog.ts [args]
                (threads; --procs for processes, --tcp over TCP, --hosts on mpi-agents)
  mpi-agent     Start MPI ranks on this host for skein mpirun --hosts
  demo          Render a Mandelbrot image sequentially, on a ThreadPool and on a
                ProcessPool; print wall times, speedup and parallel efficiency

Options:
  -h, --help    Show this help (skein <command> --help for a command's options)
  -v, --version Print Skein's version
`;

const DEMO_HELP = `Usage: skein demo [options]

Renders a Mandelbrot image three ways (sequentially in this thread, on a ThreadPool, on a
ProcessPool), with a progress bar on stderr, and prints for each the wall time, the speedup over
the sequential run, the parallel efficiency (speedup / workers) and a checksum of the image.
Exits 1 if the three images differ.

Options:
  --width <px>          Image width (default ${DEMO_DEFAULTS.width})
  --height <px>         Image height (default ${DEMO_DEFAULTS.height})
  --iterations <n>      Iterations per point (default ${DEMO_DEFAULTS.iterations})
  --rows-per-band <n>   Image rows per task (default ${DEMO_DEFAULTS.rowsPerBand})
  --workers <n>         Workers per pool (default: os.availableParallelism())
  --out <file.pgm>      Also write the image as a binary PGM file
  -h, --help            Show this help
`;

const MAX_DIMENSION_PX = 100_000;

function parseIntegerOption(name: string, value: string | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < 1 || number > max) {
    throw new UsageError(`--${name} must be an integer from 1 to ${max} (got ${JSON.stringify(value)})`);
  }
  return number;
}

async function demoCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      width: { type: 'string' },
      height: { type: 'string' },
      iterations: { type: 'string' },
      'rows-per-band': { type: 'string' },
      workers: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    io.stdout.write(DEMO_HELP);
    return EXIT_OK;
  }
  const options: { -readonly [K in keyof DemoOptions]: DemoOptions[K] } = {};
  const width = parseIntegerOption('width', values.width, MAX_DIMENSION_PX);
  const height = parseIntegerOption('height', values.height, MAX_DIMENSION_PX);
  const iterations = parseIntegerOption('iterations', values.iterations, 1_000_000);
  const rowsPerBand = parseIntegerOption('rows-per-band', values['rows-per-band'], MAX_DIMENSION_PX);
  const workers = parseIntegerOption('workers', values.workers, 1024);
  if (width !== undefined) options.width = width;
  if (height !== undefined) options.height = height;
  if (iterations !== undefined) options.iterations = iterations;
  if (rowsPerBand !== undefined) options.rowsPerBand = rowsPerBand;
  if (workers !== undefined) options.workers = workers;
  if (values.out !== undefined) {
    if (values.out === '') throw new UsageError('--out needs a file name');
    options.out = values.out;
  }
  // Loaded on use: help, version and usage errors never start the pools' modules.
  const { runDemo } = await import('./demo.ts');
  return runDemo(options, io);
}

type Command = (args: string[], io: CliIo) => Promise<number>;

/** A cloud command, loaded on use so that help and the demo never load the cloud's modules. */
function cloudCommand(name: CloudCommandName): Command {
  return async (args, io) => {
    const commands = await import('./cloud-commands.ts');
    return commands.CLOUD_COMMANDS[name](args, io);
  };
}

const COMMANDS: Readonly<Record<string, Command>> = Object.freeze({
  up: cloudCommand('up'),
  worker: cloudCommand('worker'),
  agents: cloudCommand('agents'),
  submit: cloudCommand('submit'),
  ps: cloudCommand('ps'),
  job: cloudCommand('job'),
  logs: cloudCommand('logs'),
  cancel: cloudCommand('cancel'),
  retry: cloudCommand('retry'),
  token: cloudCommand('token'),
  deploy: cloudCommand('deploy'),
  fn: cloudCommand('fn'),
  invoke: cloudCommand('invoke'),
  schedule: cloudCommand('schedule'),
  demo: demoCommand,
  mpirun: async (args, io) => (await import('./mpirun-command.ts')).mpirunCommand(args, io),
  'mpi-agent': async (args, io) => (await import('./mpirun-command.ts')).mpiAgentCommand(args, io),
});

/** parseArgs reports unknown options and missing values with these codes; they are usage errors. */
function isParseArgsError(error: unknown): error is Error {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/**
 * Runs the `skein` command line with `argv` (without the node and script paths).
 * @returns the process exit code: 0 success, 1 a command failed, 2 a usage error.
 * @example
 * process.exitCode = await main(process.argv.slice(2));
 */
export async function main(argv: readonly string[], io: CliIo = process): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(HELP);
    return EXIT_USAGE;
  }
  if (first === '-h' || first === '--help' || first === 'help') {
    io.stdout.write(HELP);
    return EXIT_OK;
  }
  if (first === '-v' || first === '--version') {
    io.stdout.write(`${version}\n`);
    return EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (command === undefined) {
    const what = first.startsWith('-')
      ? `unknown option ${JSON.stringify(first)}`
      : `unknown command ${JSON.stringify(first)}`;
    io.stderr.write(`skein: ${what}; run 'skein --help' to see the commands\n`);
    return EXIT_USAGE;
  }
  try {
    return await command(rest, io);
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      io.stderr.write(`skein ${first}: ${error.message}; run 'skein ${first} --help' to see the options\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
