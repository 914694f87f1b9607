// Synchronizing processes: three child processes increment a counter kept in a file (read, add,
// write: not atomic) under a ProcessLock, and meet at a ProcessBarrier between two phases. A
// ProcessQueue records the order of phases as the children pass them.
//   node examples/processes/barrier-lock.ts

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessQueue } from '../../src/channel/index.ts';
import { task } from '../../src/index.ts';
import { ProcessPool } from '../../src/pool/index.ts';
import { ProcessBarrier, ProcessLock } from '../../src/sync/index.ts';

const CHILDREN = 3;
const INCREMENTS = 20;

export const child = task(
  import.meta,
  async (lock: ProcessLock, barrier: ProcessBarrier, log: ProcessQueue<string>, file: string, me: number) => {
    for (let phase = 1; phase <= 2; phase++) {
      for (let i = 0; i < INCREMENTS; i++) {
        using _held = await lock.acquireAsync({ timeout: 10_000 });
        const value = Number(await readFile(file, 'utf8'));
        await writeFile(file, String(value + 1));
      }
      await log.putAsync(`${phase}:${me}`);
      await barrier.waitAsync({ timeout: 10_000 });
    }
  },
);

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'skein-cookbook-'));
  try {
    const file = join(dir, 'counter');
    await writeFile(file, '0');
    const lock = new ProcessLock();
    const barrier = new ProcessBarrier(CHILDREN);
    const log = new ProcessQueue<string>();
    await using pool = new ProcessPool({ maxWorkers: CHILDREN });
    await Promise.all(
      Array.from({ length: CHILDREN }, (_, me) => pool.run(child, lock, barrier, log, file, me)),
    );
    const order: string[] = [];
    while (!log.empty()) order.push(await log.getAsync());
    console.log(`order: ${order.join(' ')}`);
    const ordered = order.every((e, i) => i === 0 || e[0]! >= order[i - 1]![0]!);
    console.log(`all phase 1 before any phase 2: ${ordered}`);
    const total = Number(await readFile(file, 'utf8'));
    console.log(`counter ${total} (expected ${CHILDREN * INCREMENTS * 2})`);
    if (!ordered || total !== CHILDREN * INCREMENTS * 2) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
