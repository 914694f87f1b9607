// Starts a job's ranks as worker threads of this process over one shared-memory fabric.

import { Worker } from 'node:worker_threads';
import { decode, encode } from '../../codec/index.ts';
import type { RankMessage } from '../control.ts';
import type { ThreadRankData } from '../entry/thread-rank.ts';
import type { ResolvedMpirunOptions } from '../options.ts';
import type { ProgramSpec } from '../runtime.ts';
import { createThreadFabric, defaultRingBytes } from '../transport/thread-fabric.ts';
import { describeExit, type Job } from './job.ts';
import { forwardOutput } from './output.ts';

const ENTRY = new URL('../entry/thread-rank.ts', import.meta.url);

export function launchThreads(job: Job, spec: ProgramSpec, options: ResolvedMpirunOptions): void {
  const fabric = createThreadFabric(job.size, options.ringBytes ?? defaultRingBytes(job.size));
  const piped = options.output !== 'inherit';
  for (let rank = 0; rank < job.size; rank++) {
    const workerData: ThreadRankData = { fabric, rank, spec };
    const worker = new Worker(ENTRY, { workerData, argv: [...options.argv], stdout: piped, stderr: piped });
    const outputs = piped
      ? Promise.all([
          forwardOutput(worker.stdout, rank, 'stdout', options.output),
          forwardOutput(worker.stderr, rank, 'stderr', options.output),
        ])
      : Promise.resolve();
    worker.on('message', (bytes: Uint8Array) => job.message(rank, decode(bytes) as RankMessage));
    worker.on('error', (error) => job.message(rank, { type: 'failed', error, viaAbort: false }));
    worker.on('exit', (code) => {
      void outputs.then(() => job.exited(rank, describeExit(code, null)));
    });
    job.attach(rank, {
      send: (message) => worker.postMessage(encode(message)),
      kill: () => void worker.terminate(),
    });
  }
}
