// Coroutines and task manipulation: asyncio's gather, cancel and wait_for, with AbortSignal. An async
// function is a coroutine; `Promise.all` gathers; an AbortController cancels; AbortSignal.timeout
// bounds a wait. The same signal cancels work running on a pool thread.
//   node examples/async/coroutines.ts

import { setTimeout as sleep } from 'node:timers/promises';
import { task, taskContext } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';

/** A coroutine: sleeps, then answers; its sleep ends early if its signal aborts. */
async function fetchLater(name: string, ms: number, signal?: AbortSignal): Promise<string> {
  await sleep(ms, undefined, { signal });
  return name;
}

/** Runs on a thread until cancelled: checks the shared-memory flag inside its synchronous loop. */
export const crunch = task(import.meta, (): number => {
  const ctx = taskContext();
  let n = 0;
  while (!ctx.cancelled) n++;
  return n;
});

async function main(): Promise<void> {
  console.log(
    `gather: ${(await Promise.all([fetchLater('a', 30), fetchLater('b', 10), fetchLater('c', 20)])).join(' ')}`,
  );

  const cancel = new AbortController();
  const cancelled = fetchLater('never', 10_000, cancel.signal);
  cancel.abort();
  console.log(`cancel: ${await cancelled.catch((e: Error) => e.name)}`);

  const timedOut = fetchLater('slow', 10_000, AbortSignal.timeout(20));
  console.log(`timeout: ${await timedOut.catch((e: Error) => e.name)}`);

  await using pool = new ThreadPool({ maxWorkers: 1 });
  const stop = new AbortController();
  const running = pool.submit(crunch, [], { signal: stop.signal });
  setTimeout(() => stop.abort(), 50);
  console.log(`cancel on a thread: ${await running.catch((e: { code: string }) => e.code)}`);
  const timed = pool.submit(crunch, [], { timeout: 50 });
  console.log(`timeout on a thread: ${await timed.catch((e: { code: string }) => e.code)}`);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
