// The functions the cloud recipes run: an ordinary task module. `skein submit` names it by path
// (module:export, relative to where `skein up` runs); `skein deploy` bundles it and serves each export
// as an HTTP function. It imports `skein` by package name, as a user's project does.

import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
import { task, taskContext } from 'skein';

/** Counts words: small input, small output, the shape of a typical function. */
export const wordCount = task(import.meta, (text: string): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const word of text.toLowerCase().split(/\W+/).filter(Boolean)) counts[word] = (counts[word] ?? 0) + 1;
  return counts;
});

/** Says which process (agent) and thread ran it, after `ms` of simulated work (abortable). */
export const whereAmI = task(import.meta, async (ms: number) => {
  await sleep(ms, undefined, { signal: taskContext().signal });
  return { host: hostname(), pid: process.pid, threadId };
});
