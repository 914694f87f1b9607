// A process pool: Python's `multiprocessing.Pool` with map, starmap and imap_unordered. Items go to
// the children in chunks; `map` keeps input order, `imapUnordered` yields results as they finish.
//   node examples/processes/process-pool.ts [--big]

import { task } from '../../src/index.ts';
import { ProcessPool } from '../../src/pool/index.ts';

const N = process.argv.includes('--big') ? 100_000 : 1_000;

export const square = task(import.meta, (n: number): number => n * n);
export const power = task(import.meta, (base: number, exponent: number): number => base ** exponent);

async function main(): Promise<void> {
  await using pool = new ProcessPool({ maxWorkers: 2 });
  const items = Array.from({ length: N }, (_, i) => i + 1);
  const squares = await pool.map(square, items);
  console.log(`map: first ${squares.slice(0, 5).join(' ')}; sum ${squares.reduce((a, b) => a + b, 0)}`);
  console.log(
    `starmap: ${(
      await pool.starmap(power, [
        [2, 10],
        [3, 3],
        [10, 2],
      ])
    ).join(' ')}`,
  );
  let unordered = 0;
  for await (const s of pool.imapUnordered(square, items)) unordered += s;
  console.log(`imapUnordered: sum ${unordered} (expected ${(N * (N + 1) * (2 * N + 1)) / 6})`);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
