// Processes: spawn, name, run in the background, kill. Python's `multiprocessing.Process(target=f,
// name=…)`, `start()`, `join()`, `terminate()`. In Skein a process is a ProcessPool worker and the
// target a task; a call not awaited runs in the background; an AbortSignal with
// `cancelMode: 'terminate'` kills the process running it (the pool starts a fresh one).
//   node examples/processes/spawn.ts

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { task, taskContext } from '../../src/index.ts';
import { ProcessPool } from '../../src/pool/index.ts';

export const whoAmI = task(import.meta, (label: string) => ({
  label,
  pid: process.pid,
  // A pool process is named `<pool name>-<workerId>`, as its threads are: process.title, and in ps.
  title: process.title,
  workerId: taskContext().workerId,
}));

/** A background job: sleeps a little, then answers. */
export const slowAnswer = task(import.meta, async (ms: number) => {
  await sleep(ms);
  return { answer: 42, pid: process.pid };
});

/** A process that never ends by itself and never checks for cancellation: only a kill stops it. */
export const spinForever = task(import.meta, (): never => {
  for (;;) {}
});

async function main(): Promise<void> {
  console.log(`main process: pid ${process.pid}`);
  // `name` names the pool's processes (`cookbook-1`, …), its traces and the `skein:pool:task`
  // diagnostics channel, where every finished task is published with the worker that ran it.
  const finished: string[] = [];
  const onTask = (message: unknown): void => {
    const { pool, workerId } = message as { pool: string; workerId: number };
    finished.push(`${pool}-${workerId}`);
  };
  subscribe('skein:pool:task', onTask);
  await using pool = new ProcessPool({ name: 'cookbook', maxWorkers: 2 });
  const me = await pool.run(whoAmI, 'first');
  unsubscribe('skein:pool:task', onTask);
  console.log(
    `spawned ${finished[0]}: pid ${me.pid} (not main: ${me.pid !== process.pid}), workerId ${me.workerId}, named ${me.title}`,
  );

  const background = pool.run(slowAnswer, 50); // started, not awaited: runs while we go on
  console.log('background job started; main goes on');
  console.log(`background job answered ${(await background).answer}`);

  const kill = new AbortController();
  const doomed = pool.submit(spinForever, [], { signal: kill.signal, cancelMode: 'terminate' });
  setTimeout(() => kill.abort(new Error('enough')), 100);
  try {
    await doomed;
  } catch (error) {
    console.log(`killed: ${(error as { code: string }).code}`);
  }
  const after = await pool.run(whoAmI, 'after');
  console.log(`the pool still answers after the kill: pid ${after.pid}`);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
