// The software cost of the small-message path on thread ranks, without cross-core effects: both ranks'
// transports, engines and communicators in one thread over one fabric, so every receive finds its
// message already in the ring. Prints CPU time (this thread) per message, min and median of 5 blocks.
// Run: node bench/mpi/small-path.ts [bytes=8] [buffer|value|echo|value,buffer…] [--root DIR] (DIR: another
// checkout, for A/B in alternating runs).

import { parseArgs } from 'node:util';
import { cpuPerMessage, pairFrom } from './small-path-pair.ts';

const { values, positionals } = parseArgs({ options: { root: { type: 'string' } }, allowPositionals: true });
const root = values.root ?? new URL('../..', import.meta.url).pathname;
const pair = await pairFrom(root);
const bytes = Number(positionals[0] ?? 8);
// A comma-separated sequence, e.g. "value,buffer": each mode's blocks in turn, as bench/mpi.ts's loops
// follow each other (the buffer loop after the value loop).
const modes = (positionals[1] ?? 'buffer').split(',');
const buffer = new Uint8Array(bytes);
const MESSAGES = 100_000;
for (const mode of modes) {
  const perMessage: number[] = [];
  for (let block = 0; block < 5; block++) {
    perMessage.push(await cpuPerMessage(pair, mode, buffer, MESSAGES));
  }
  const blocks = perMessage.map((us) => us.toFixed(2)).join(' ');
  perMessage.sort((x, y) => x - y);
  console.log(
    `${root} ${mode} ${bytes} B: ${perMessage[0]!.toFixed(2)} µs CPU per message (median ${perMessage[2]!.toFixed(2)}; blocks ${blocks})`,
  );
}
process.exit(0);
