// A recorded timeline of a run: a pool with `trace: true` records when each task waited in the queue
// and ran on which worker; writeChromeTrace saves it for chrome://tracing or https://ui.perfetto.dev
// (one track per worker, one for the queue).
//   node examples/debugging/trace.ts [--out run.trace.json]

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { task } from '../../src/index.ts';
import { ThreadPool } from '../../src/pool/index.ts';
import { writeChromeTrace } from '../../src/trace/index.ts';

export const fib = task(import.meta, (n: number): number => {
  let [a, b] = [0, 1];
  for (let i = 0; i < n * 10_000; i++) [a, b] = [b, (a + b) % 1_000_007];
  return a;
});

async function main(): Promise<void> {
  const at = process.argv.indexOf('--out');
  const keep = at > 0 ? process.argv[at + 1] : undefined;
  const dir = keep === undefined ? await mkdtemp(join(tmpdir(), 'skein-trace-')) : undefined;
  const path = keep ?? join(dir!, 'run.trace.json');
  try {
    await using pool = new ThreadPool({ maxWorkers: 2, trace: true });
    await pool.map(
      fib,
      Array.from({ length: 12 }, (_, i) => i + 1),
      { chunkSize: 1 },
    );
    const spans = pool.spans();
    await writeChromeTrace(path, spans);
    const kinds = Object.groupBy(spans, (s) => s.kind);
    const workers = new Set((kinds.task ?? []).map((s) => s.track));
    console.log(
      `${kinds.task?.length ?? 0} task spans on ${workers.size} workers, ${kinds.queued?.length ?? 0} queued spans`,
    );
    const file = JSON.parse(await readFile(path, 'utf8')) as { traceEvents?: unknown[] } | unknown[];
    const events = Array.isArray(file) ? file : (file.traceEvents ?? []);
    console.log(
      `wrote ${events.length} trace events${keep === undefined ? '' : ` to ${path}`}; open it in https://ui.perfetto.dev`,
    );
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
