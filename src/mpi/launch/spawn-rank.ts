// Starts one rank process (for mpirun's local processes and for an mpi-agent's ranks): node with the
// process-rank entry, its configuration in the environment, its output forwarded line by line, and
// its exit reported only after that output was drained.

import { type ChildProcess, spawn } from 'node:child_process';
import type { ProcessRankConfig } from '../entry/process-rank.ts';
import type { OutputMode } from '../options.ts';
import { forwardOutput } from './output.ts';

export const PROCESS_RANK_ENTRY = new URL('../entry/process-rank.ts', import.meta.url);

export interface SpawnedRank {
  readonly child: ChildProcess;
  /** Settles with the exit once the rank's output was forwarded. */
  readonly exited: Promise<{ code: number | null; signal: string | null; error?: Error }>;
}

export function spawnRank(
  config: ProcessRankConfig,
  argv: readonly string[],
  output: OutputMode,
): SpawnedRank {
  const piped = output !== 'inherit';
  const child = spawn(
    process.execPath,
    [...process.execArgv.filter((arg) => !arg.startsWith('--test')), PROCESS_RANK_ENTRY.pathname, ...argv],
    {
      env: { ...process.env, SKEIN_MPI_RANK_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', piped ? 'pipe' : 'inherit', piped ? 'pipe' : 'inherit'],
    },
  );
  const outputs = piped
    ? Promise.all([
        forwardOutput(child.stdout!, config.rank, 'stdout', output),
        forwardOutput(child.stderr!, config.rank, 'stderr', output),
      ])
    : Promise.resolve();
  const exited = new Promise<{ code: number | null; signal: string | null; error?: Error }>((resolve) => {
    child.once('error', (error) => void outputs.then(() => resolve({ code: null, signal: null, error })));
    child.once('exit', (code, signal) => void outputs.then(() => resolve({ code, signal })));
  });
  return { child, exited };
}
