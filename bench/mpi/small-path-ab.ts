// small-path.ts as an A/B in one process: two checkouts' transports, engines and communicators side by
// side, their blocks alternated, so a change of load on a shared machine falls on both alike. Prints
// CPU time (this thread) per message for each: min and median over the rounds, and the median of the
// rounds' new/base ratios.
// Run: node bench/mpi/small-path-ab.ts --base DIR [bytes=8] [buffer|value|echo|value,buffer…] [--rounds 8]
// [--messages N] [--root DIR]. --root: the new checkout, this one by default. --messages: per block,
// 100000 by default; a thread's CPU time moves in ~4 ms ticks here, so a block of fast messages wants
// more of them to tell a 2% change, e.g. 400000 for the 8-byte buffer path. A comma-separated mode, e.g.
// value,buffer: each pair first runs a block of every mode but the last, which alone is measured (the
// buffer loop after the value loop, as in bench/mpi.ts).

import { parseArgs } from 'node:util';
import { cpuPerMessage, pairFrom } from './small-path-pair.ts';

const { values, positionals } = parseArgs({
  options: {
    base: { type: 'string' },
    root: { type: 'string' },
    rounds: { type: 'string', default: '8' },
    messages: { type: 'string', default: '100000' },
  },
  allowPositionals: true,
});
if (values.base === undefined) throw new Error('pass --base DIR: the checkout to compare against');
const roots = [values.base, values.root ?? new URL('../..', import.meta.url).pathname];
const bytes = Number(positionals[0] ?? 8);
const modes = (positionals[1] ?? 'buffer').split(',');
const mode = modes.at(-1)!;
const rounds = Number(values.rounds);
/** Messages per block: by default ~50 ms (8-byte buffers) to ~150 ms (1 KiB values) of CPU here. */
const MESSAGES = Number(values.messages);
if (
  !Number.isInteger(bytes) ||
  bytes < 0 ||
  !modes.every((each) => ['buffer', 'value', 'echo'].includes(each)) ||
  !(rounds >= 1) ||
  !Number.isInteger(MESSAGES) ||
  MESSAGES < 2
) {
  throw new Error(
    `usage: small-path-ab.ts --base DIR [bytes] [buffer|value|echo|value,buffer…] [--rounds N] [--messages N] (got ${process.argv.slice(2).join(' ')})`,
  );
}

const buffer = new Uint8Array(bytes).fill(1);

const pairs = [await pairFrom(roots[0]!), await pairFrom(roots[1]!)];
for (const pair of pairs) for (const each of modes) await cpuPerMessage(pair, each, buffer, MESSAGES);
const times: number[][] = [[], []];
const ratios: number[] = [];
for (let round = 0; round < rounds; round++) {
  // Alternate which side goes first, so neither always follows the other's garbage.
  const order = round % 2 === 0 ? [0, 1] : [1, 0];
  const got: number[] = [];
  for (const side of order) got[side] = await cpuPerMessage(pairs[side]!, mode, buffer, MESSAGES);
  times[0]!.push(got[0]!);
  times[1]!.push(got[1]!);
  ratios.push(got[1]! / got[0]!);
}
const median = (list: number[]) => [...list].sort((x, y) => x - y)[list.length >> 1]!;
const show = (list: number[]) =>
  `min ${Math.min(...list).toFixed(2)} median ${median(list).toFixed(2)} µs (${list.map((t) => t.toFixed(2)).join(' ')})`;
console.log(
  `${modes.join(' then ')} ${bytes} B, CPU per message, ${rounds} rounds of ${MESSAGES} messages each:`,
);
console.log(`  base ${roots[0]}: ${show(times[0]!)}`);
console.log(`  new  ${roots[1]}: ${show(times[1]!)}`);
console.log(`  new/base: median ${median(ratios).toFixed(3)} (${ratios.map((r) => r.toFixed(2)).join(' ')})`);
process.exit(0);
