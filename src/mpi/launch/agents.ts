// Runs a job's ranks on mpi-agents (skein mpirun --hosts): connect to every agent first, then deal the
// ranks out in blocks and ask each agent to start its share; their output and exits come back over
// the same connections. A lost agent counts as the exit of every rank it had not reported.

import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { encode } from '../../codec/index.ts';
import { SkeinError } from '../../errors.ts';
import type { AgentLaunch, AgentMessage } from '../agent.ts';
import { readControl, writeControl } from '../control-stream.ts';
import type { MpiHost, ResolvedMpirunOptions } from '../options.ts';
import type { ProgramSpec } from '../runtime.ts';
import { CONNECT_TIMEOUT_MS, type ControlServer } from './control-server.ts';
import { describeExit, type Job } from './job.ts';

const AGENT_CONNECT_TIMEOUT_MS = 10_000;

/** Ranks of host i when n ranks are dealt over h hosts in blocks. */
export function blockOf(index: number, hosts: number, ranks: number): number[] {
  const start = Math.floor((index * ranks) / hosts);
  const end = Math.floor(((index + 1) * ranks) / hosts);
  return Array.from({ length: end - start }, (_, i) => start + i);
}

/**
 * The ranks of every host, as contiguous blocks in host order: by slots when every host has them
 * (hosts filled in order; ranks past the total slots dealt in equal blocks over all hosts), else equal
 * blocks.
 */
export function dealRanks(hosts: readonly MpiHost[], ranks: number): number[][] {
  const counts = hosts.map((_, index) => blockOf(index, hosts.length, ranks).length);
  if (hosts.length > 0 && hosts.every((host) => host.slots !== undefined)) {
    let left = ranks;
    for (const [index, host] of hosts.entries()) {
      counts[index] = Math.min(host.slots!, left);
      left -= counts[index]!;
    }
    for (const [index] of hosts.entries()) counts[index]! += blockOf(index, hosts.length, left).length;
  }
  let next = 0;
  return counts.map((count) => Array.from({ length: count }, () => next++));
}

async function connect(address: string): Promise<Socket> {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  const socket = createConnection({ host, port: Number(address.slice(at + 1)) });
  socket.setTimeout(AGENT_CONNECT_TIMEOUT_MS, () =>
    socket.destroy(new Error(`no answer within ${AGENT_CONNECT_TIMEOUT_MS} ms`)),
  );
  try {
    await once(socket, 'connect');
  } catch (error) {
    throw new SkeinError(
      'SKEIN_MPI_TRANSPORT',
      `mpirun could not reach the mpi-agent at ${address}: ${(error as Error).message}; start one there with skein mpi-agent`,
      { cause: error },
    );
  }
  socket.setTimeout(0);
  socket.setNoDelay(true);
  return socket;
}

export async function launchOnAgents(
  job: Job,
  spec: ProgramSpec,
  options: ResolvedMpirunOptions,
  control: ControlServer,
): Promise<void> {
  const deals = dealRanks(options.hosts, job.size);
  // A host dealt no ranks (more hosts than ranks, or no slots) is not contacted at all.
  const used = options.hosts.flatMap((host, index) =>
    deals[index]!.length > 0 ? [{ host, ranks: deals[index]! }] : [],
  );
  const sockets = await Promise.all(used.map(({ host }) => connect(host.address)));
  const emit =
    typeof options.output === 'function'
      ? options.output
      : (line: string, rank: number, stream: 'stdout' | 'stderr') =>
          (stream === 'stdout' ? process.stdout : process.stderr).write(
            options.output === 'prefix' ? `[${rank}] ${line}\n` : `${line}\n`,
          );
  for (const [index, socket] of sockets.entries()) {
    const { host, ranks } = used[index]!;
    const pending = new Set(ranks);
    socket.on('error', () => {});
    readControl(socket, (message) => {
      const m = message as AgentMessage;
      if (m.type === 'output') emit(m.line, m.rank, m.stream);
      else if (m.type === 'exit' && pending.delete(m.rank))
        job.exited(m.rank, describeExit(m.code, m.signal));
      else if (m.type === 'refused') {
        job.fail(
          new SkeinError(
            'SKEIN_MPI_TRANSPORT',
            `the mpi-agent at ${host.address} refused the job: ${m.message}`,
          ),
        );
      }
    });
    socket.on('close', () => {
      for (const rank of pending) job.exited(rank, `lost its mpi-agent at ${host.address}`);
      pending.clear();
    });
    for (const rank of ranks)
      job.attach(rank, { kill: () => writeControl(socket, encode({ type: 'kill', rank })) });
    const launch: AgentLaunch = {
      type: 'launch',
      token: host.token ?? options.agentToken ?? process.env.SKEIN_MPI_AGENT_TOKEN ?? '',
      ranks,
      config: {
        control: control.address,
        token: control.token,
        size: job.size,
        kind: 'tcp',
        spec,
        connectTimeout: CONNECT_TIMEOUT_MS,
      },
      argv: options.argv,
    };
    writeControl(socket, encode(launch));
  }
  void job.settled
    .catch(() => {})
    .finally(() => {
      for (const socket of sockets) socket.end();
    });
}
