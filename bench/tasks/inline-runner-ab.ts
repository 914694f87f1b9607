// The inline runner's cost per job, base against new in one process: two checkouts' inline-runner.ts
// side by side, blocks of 100,000 no-op jobs (100 in flight, each with a signal and onProgress as a
// Worker passes them) alternated for 8 rounds, so a change of load on the shared machine falls on both.
// Prints per side the min and median process CPU ns per job, and each round's.
// Usage: node bench/tasks/inline-runner-ab.ts <base checkout> [new checkout, default this one]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { task } from '../../src/task.ts';

const [baseDir, newDir = new URL('../..', import.meta.url).pathname] = process.argv.slice(2);
if (baseDir === undefined)
  throw new Error('usage: node bench/tasks/inline-runner-ab.ts <base checkout> [new checkout]');
const runnerOf = (dir: string): Promise<typeof import('../../src/tasks/inline-runner.ts')> =>
  import(pathToFileURL(resolve(dir, 'src/tasks/inline-runner.ts')).href);
const base = await runnerOf(baseDir);
const next = await runnerOf(newDir);
const noop = task({ url: 'file:///noop.ts' }, (x: number) => x);
const sides = { base: base.inlineRunner(), new: next.inlineRunner() } as const;
const N = 100_000;
const results: Record<string, number[]> = { base: [], new: [] };
for (let round = 0; round < 8; round++) {
  for (const name of ['base', 'new'] as const) {
    const runner = sides[name];
    const start = process.cpuUsage();
    for (let i = 0; i < N; i += 100) {
      const calls = [];
      for (let k = 0; k < 100; k++) {
        const controller = new AbortController();
        calls.push(
          runner.submit(noop as never, [i + k], { signal: controller.signal, onProgress: () => {} }),
        );
      }
      await Promise.all(calls);
    }
    const used = process.cpuUsage(start);
    results[name]!.push(((used.user + used.system) / N) * 1000);
  }
}
for (const [name, list] of Object.entries(results)) {
  const sorted = [...list].sort((a, b) => a - b);
  console.log(
    name,
    'ns/call min',
    sorted[0]!.toFixed(0),
    'median',
    sorted[4]!.toFixed(0),
    list.map((v) => v.toFixed(0)).join(' '),
  );
}
