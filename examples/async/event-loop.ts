// The event loop: asyncio's `call_soon`, `call_later` and `run_until_complete`, in Node's own loop.
// Microtasks (promise callbacks) run before the next macrotask; setImmediate after I/O polling;
// timers when due. The recipe records the order the callbacks ran in.
//   node examples/async/event-loop.ts

import { setTimeout as sleep } from 'node:timers/promises';

async function main(): Promise<void> {
  const ran: string[] = [];
  setTimeout(() => ran.push('call_later(10 ms)'), 10);
  setImmediate(() => ran.push('call_soon (setImmediate)'));
  queueMicrotask(() => ran.push('microtask'));
  ran.push('synchronous code');
  await sleep(30); // run_until_complete: wait until everything scheduled above had its turn
  console.log(ran.join(' -> '));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
