// Threads, defined and named: Python's `threading.Thread(target=f, name=…)` and `current_thread()`.
// In Skein a thread is a pool worker and the target is a task; the pool's `name` names its threads
// (`<name>-<workerId>`, shown in debuggers and as `threadName`), and inside a task `threadName`,
// `threadId` (node:worker_threads) and `taskContext().workerId` say which thread runs it.
//   node examples/threads/define-threads.ts

import { threadId, threadName } from 'node:worker_threads';
import { task, taskContext } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';

/** The thread's target: says who runs it. */
export const whoAmI = task(import.meta, (label: string) => ({
  label,
  threadName,
  threadId,
  workerId: taskContext().workerId,
}));

async function main(): Promise<void> {
  console.log(`main thread: threadId ${threadId}, workerId ${whoAmI('main').workerId}`);
  // `name` shows in the threads' names (debuggers, traces); broadcast runs the target once per thread.
  await using pool = new ThreadPool({ name: 'cookbook', minWorkers: 3, maxWorkers: 3 });
  const seen = await pool.broadcast(whoAmI, 'broadcast');
  for (const s of seen.sort((a, b) => a.workerId - b.workerId)) {
    console.log(`thread ${s.threadName}: threadId ${s.threadId}, workerId ${s.workerId}`);
  }
  console.log(`${new Set(seen.map((s) => s.threadId)).size} distinct threads, none of them main`);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
