// Starts a job's ranks as child processes of this one (or, with hosts, on mpi-agents): opens the
// control server they report to (a Unix socket, or TCP for the tcp transport) in a private temporary
// directory, and returns the cleanup that closes it and removes the directory once the job ended.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SkeinError } from '../../errors.ts';
import type { ProcessRankConfig } from '../entry/process-rank.ts';
import type { ResolvedMpirunOptions } from '../options.ts';
import type { ProgramSpec } from '../runtime.ts';
import { CONNECT_TIMEOUT_MS, ControlServer } from './control-server.ts';
import { describeExit, type Job } from './job.ts';
import { spawnRank } from './spawn-rank.ts';

export async function launchProcesses(
  job: Job,
  spec: ProgramSpec,
  options: ResolvedMpirunOptions,
): Promise<() => Promise<void>> {
  // Unix sockets need a directory; TCP jobs need none.
  const dir = options.transport === 'process' ? await mkdtemp(join(tmpdir(), 'skein-mpi-')) : '';
  const removeDir = (): Promise<void> =>
    dir === '' ? Promise.resolve() : rm(dir, { recursive: true, force: true });
  const control = new ControlServer(job);
  try {
    await control.listen(
      options.transport === 'process' ? { path: join(dir, 'control.sock') } : { host: options.host },
    );
  } catch (error) {
    await removeDir();
    throw new SkeinError(
      'SKEIN_MPI_TRANSPORT',
      `mpirun could not open its control socket: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const cleanup = async (): Promise<void> => {
    control.close();
    await removeDir();
  };
  if (options.hosts.length > 0) {
    const { launchOnAgents } = await import('./agents.ts');
    try {
      await launchOnAgents(job, spec, options, control);
    } catch (error) {
      await cleanup();
      throw error;
    }
    return cleanup;
  }
  for (let rank = 0; rank < job.size; rank++) {
    const config: ProcessRankConfig = {
      control: control.address,
      token: control.token,
      rank,
      size: job.size,
      kind: options.transport === 'process' ? 'process' : 'tcp',
      where: options.transport === 'process' ? dir : options.host,
      spec,
      connectTimeout: CONNECT_TIMEOUT_MS,
    };
    const { child, exited } = spawnRank(config, options.argv, options.output);
    // Until the rank connects, killing it is the only way to reach it.
    job.attach(rank, { kill: () => child.kill('SIGKILL') });
    void exited.then(({ code, signal, error }) => {
      if (error !== undefined) job.message(rank, { type: 'failed', error, viaAbort: false });
      job.exited(rank, describeExit(code, signal));
    });
  }
  return cleanup;
}
