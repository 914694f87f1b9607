// A rank as a worker thread: the shared-memory transport over the job's fabric, the control plane over
// the worker's message port, then the common rank runtime.

import { parentPort, workerData } from 'node:worker_threads';
import { decode } from '../../codec/index.ts';
import type { ControlLink, LauncherMessage } from '../control.ts';
import { encodeRankMessage } from '../control-codec.ts';
import { type ProgramSpec, runRank } from '../runtime.ts';
import type { ThreadFabric } from '../transport/thread-fabric.ts';
import { ThreadTransport } from '../transport/thread-transport.ts';

export interface ThreadRankData {
  readonly fabric: ThreadFabric;
  readonly rank: number;
  readonly spec: ProgramSpec;
}

const data = workerData as ThreadRankData;
const port = parentPort!;
const link: ControlLink = {
  send: (message) => port.postMessage(encodeRankMessage(message)),
  onMessage: (handler) =>
    port.on('message', (bytes: Uint8Array) => handler(decode(bytes) as LauncherMessage)),
  close: () => port.removeAllListeners('message'),
};
await runRank(new ThreadTransport(data.fabric, data.rank), link, data.spec);
process.exit(0);
