// `skein demo`: one real parallel workload run three ways — sequentially in this thread, on a ThreadPool
// and on a ProcessPool — timed, compared and checked. The image's checksum must be identical every way,
// so the numbers can only come from the same work done in full.

import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import type { Executor, PoolOptions } from '../pool/index.ts';
import { ProcessPool, ThreadPool } from '../pool/index.ts';
import { DEMO_DEFAULTS, type DemoOptions } from './demo-options.ts';
import { renderMandelbrotBand, warmUp } from './demo-tasks.ts';
import {
  assembleImage,
  type MandelbrotView,
  type RenderedBand,
  splitIntoBands,
  toPgm,
} from './mandelbrot.ts';
import { ProgressBar, type ProgressStream } from './progress.ts';

/** Where the demo writes: the table to `stdout`, progress bars to `stderr`. */
export interface DemoIo {
  readonly stdout: ProgressStream;
  readonly stderr: ProgressStream;
}

interface RunResult {
  readonly label: string;
  readonly workers: number;
  readonly wallMs: number;
  /** Time to start the pool's workers, before the timed part; 0 for the sequential run. */
  readonly startupMs: number;
  readonly checksum: string;
  readonly image: Uint8Array;
}

const CHECKSUM_SHOWN_CHARS = 16;

function checksum(image: Uint8Array): string {
  return createHash('sha256').update(image).digest('hex');
}

function runSequential(view: MandelbrotView, rowsPerBand: number, io: DemoIo): RunResult {
  const bands = splitIntoBands(view, rowsPerBand);
  const bar = new ProgressBar('sequential', bands.length, io.stderr);
  const rendered: RenderedBand[] = [];
  const start = performance.now();
  for (const band of bands) {
    rendered.push(renderMandelbrotBand(band));
    bar.update(rendered.length);
  }
  const wallMs = performance.now() - start;
  bar.finish();
  const image = assembleImage(view, rendered);
  return { label: 'sequential', workers: 1, wallMs, startupMs: 0, checksum: checksum(image), image };
}

async function runOnPool(
  label: string,
  createPool: (options: PoolOptions) => Executor,
  view: MandelbrotView,
  rowsPerBand: number,
  workers: number,
  io: DemoIo,
): Promise<RunResult> {
  const bands = splitIntoBands(view, rowsPerBand);
  await using pool = createPool({ minWorkers: workers, maxWorkers: workers, name: 'skein-demo' });
  // Worker start-up (spawning, importing the task module) is measured apart, so the timed part compares
  // the same work as the sequential run.
  const startupStart = performance.now();
  await pool.broadcast(warmUp);
  const startupMs = performance.now() - startupStart;
  const bar = new ProgressBar(label, bands.length, io.stderr);
  const start = performance.now();
  const rendered = await pool.map(renderMandelbrotBand, bands, {
    chunkSize: 1,
    onProgress: (done) => bar.update(done),
  });
  const wallMs = performance.now() - start;
  bar.finish();
  const image = assembleImage(view, rendered);
  return { label, workers, wallMs, startupMs, checksum: checksum(image), image };
}

function formatTable(results: readonly RunResult[], baseline: RunResult): string {
  const rows = [['executor', 'workers', 'wall ms', 'speedup', 'efficiency', 'checksum']];
  for (const result of results) {
    const speedup = baseline.wallMs / result.wallMs;
    const parallel = result !== baseline;
    rows.push([
      result.label,
      String(result.workers),
      result.wallMs.toFixed(1),
      `${speedup.toFixed(2)}x`,
      parallel ? `${((speedup / result.workers) * 100).toFixed(1)}%` : '-',
      result.checksum.slice(0, CHECKSUM_SHOWN_CHARS),
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
        .join('  '),
    )
    .join('\n');
}

/**
 * Runs the demo and prints its table. Resolves to the process exit code: 0 when all three images match,
 * 1 when they differ.
 */
export async function runDemo(options: DemoOptions, io: DemoIo): Promise<number> {
  const view: MandelbrotView = {
    width: options.width ?? DEMO_DEFAULTS.width,
    height: options.height ?? DEMO_DEFAULTS.height,
    iterations: options.iterations ?? DEMO_DEFAULTS.iterations,
  };
  const rowsPerBand = options.rowsPerBand ?? DEMO_DEFAULTS.rowsPerBand;
  const workers = options.workers ?? availableParallelism();
  const bandCount = Math.ceil(view.height / rowsPerBand);
  io.stdout.write(
    `Mandelbrot ${view.width}x${view.height}, ${view.iterations} iterations, ${bandCount} tasks of ${rowsPerBand} rows; ` +
      `${workers} workers per pool on ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}\n`,
  );

  const sequential = runSequential(view, rowsPerBand, io);
  const threads = await runOnPool('ThreadPool', (o) => new ThreadPool(o), view, rowsPerBand, workers, io);
  const processes = await runOnPool('ProcessPool', (o) => new ProcessPool(o), view, rowsPerBand, workers, io);
  const results = [sequential, threads, processes];

  io.stdout.write(`${formatTable(results, sequential)}\n`);
  io.stdout.write(
    `worker start-up, not in the times above: ThreadPool ${threads.startupMs.toFixed(1)} ms, ProcessPool ${processes.startupMs.toFixed(1)} ms\n`,
  );
  io.stdout.write('speedup = sequential wall / wall; efficiency = speedup / workers\n');

  if (options.out !== undefined) {
    await writeFile(options.out, toPgm(view, sequential.image));
    io.stdout.write(`wrote ${options.out} (PGM, ${view.width}x${view.height})\n`);
  }

  if (results.some((result) => result.checksum !== sequential.checksum)) {
    io.stderr.write(
      `checksums differ: ${results.map((result) => `${result.label} ${result.checksum.slice(0, CHECKSUM_SHOWN_CHARS)}`).join(', ')}; ` +
        'the executors produced different images, this is a bug in Skein\n',
    );
    return 1;
  }
  io.stdout.write(`checksums: all ${results.length} match (sha256 ${sequential.checksum})\n`);
  return 0;
}
