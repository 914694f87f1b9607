// Baseline for the ProcessPool: a plain child_process.fork child answering [id, name, arg] messages with
// [id, result] over Node's built-in IPC channel. No library on either side.

import { noop, spin } from './work.ts';

const methods: Record<string, (x: number) => number> = { noop, spin };

process.on('message', (message: [number, string, number]) => {
  const [id, name, arg] = message;
  process.send!([id, methods[name]!(arg)]);
});
