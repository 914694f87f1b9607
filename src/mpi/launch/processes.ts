// Starts a job's ranks as child processes of this one: a control server (a Unix socket, or TCP for the
// tcp transport) that every rank reports to, the peer address table sent once all ranks listen, and
// each rank's output forwarded. The same entry runs ranks that mpi-agents start on other hosts.

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
  const dir = await mkdtemp(join(tmpdir(), 'skein-mpi-'));
  const control = new ControlServer(job);
  try {
    await control.listen(
      options.transport === 'process' ? { path: join(dir, 'control.sock') } : { host: options.host },
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new SkeinError(
      'SKEIN_MPI_TRANSPORT',
      `mpirun could not open its control socket: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const cleanup = async (): Promise<void> => {
    control.close();
    await rm(dir, { recursive: true, force: true });
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
