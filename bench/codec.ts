// Codec microbenchmark: encode + decode round trips per second for Skein's codec beside
// v8.serialize/deserialize and msgpackr, on five payloads. Each (library × payload) runs in a fresh
// process (this file with --variant), the order of variants is reversed every round, and every decoded
// result feeds a checksum that must agree across libraries, so no work can be optimized away.
//
//   node bench/codec.ts [--rounds 5] [--time 150] [--json] [--payloads int,string8,...]

import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { Packr } from 'msgpackr';
import { decode, Encoder, encode } from '../src/codec/index.ts';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    time: { type: 'string', default: '150' },
    json: { type: 'boolean', default: false },
    payloads: { type: 'string' },
    variant: { type: 'string' },
  },
});

interface Payload {
  readonly id: string;
  readonly title: string;
  make(): unknown;
  /** A number read from the decoded value, summed into the checksum. */
  check(decoded: unknown): number;
}

const PAYLOADS: readonly Payload[] = [
  { id: 'int', title: 'a small int (42)', make: () => 42, check: (v) => v as number },
  {
    id: 'string8',
    title: 'an 8-byte string',
    make: () => 'skein-01',
    check: (v) => (v as string).charCodeAt(7),
  },
  {
    id: 'small',
    title: 'a small object {id, name, tags: [3]}',
    make: () => ({ id: 1234, name: 'worker-7', tags: ['cpu', 'fast', 'eu'] }),
    check: (v) => (v as { id: number; tags: string[] }).id + (v as { tags: string[] }).tags.length,
  },
  {
    id: 'object1k',
    title: 'a 1 KiB object (nested records, strings, floats)',
    make: () => ({
      id: 981_237,
      name: 'render job 12',
      owner: { user: 'ada', team: 'graphics', email: 'ada@example.com' },
      active: true,
      priority: 3,
      score: 0.8125,
      created: 1_718_000_000_000,
      tags: ['mandelbrot', 'tile', 'float64', 'threads', 'batch'],
      tiles: Array.from({ length: 20 }, (_, i) => ({
        x: i * 64,
        y: (i % 4) * 64,
        done: i % 3 === 0,
        ms: 1.5 + i * 0.25,
        worker: `w${i % 4}`,
      })),
      note: 'Rendered on four workers; tiles are 64 px squares, row-major, checksummed per tile.',
    }),
    check: (v) => (v as { tiles: { x: number }[] }).tiles[19]!.x + (v as { priority: number }).priority,
  },
  {
    id: 'float64k',
    title: 'a 1 KiB Float64Array (128 elements)',
    make: () => Float64Array.from({ length: 128 }, (_, i) => i * 0.5),
    check: (v) => (v as Float64Array)[127]!,
  },
];

interface Library {
  readonly id: string;
  readonly title: string;
  /** Returns a function that encodes and decodes one value. */
  setup(): (value: unknown) => unknown;
  /** Encoded size of a value, in bytes. */
  size(value: unknown): number;
}

const LIBRARIES: readonly Library[] = [
  {
    id: 'skein',
    title: 'skein Encoder',
    setup: () => {
      const encoder = new Encoder();
      return (value) => decode(encoder.encode(value));
    },
    size: (value) => encode(value).length,
  },
  {
    id: 'skein-copy',
    title: 'skein encode()',
    setup: () => (value) => decode(encode(value)),
    size: (value) => encode(value).length,
  },
  {
    id: 'v8',
    title: 'v8.serialize',
    setup: () => (value) => v8.deserialize(v8.serialize(value)),
    size: (value) => v8.serialize(value).length,
  },
  {
    id: 'msgpackr',
    title: 'msgpackr',
    setup: () => {
      const packr = new Packr({ moreTypes: true });
      return (value) => packr.unpack(packr.pack(value));
    },
    size: (value) => new Packr({ moreTypes: true }).pack(value).length,
  },
];

interface VariantResult {
  readonly library: string;
  readonly payload: string;
  readonly opsPerSec: number;
  readonly checksum: number;
  readonly bytes: number;
}

/** Child: runs one variant for --time ms after a warm-up and prints one JSON line. */
function runVariant(spec: string): void {
  const [libraryId, payloadId] = spec.split(':');
  const library = LIBRARIES.find((l) => l.id === libraryId);
  const payload = PAYLOADS.find((p) => p.id === payloadId);
  if (library === undefined || payload === undefined) throw new Error(`unknown variant ${spec}`);
  const value = payload.make();
  const roundTrip = library.setup();
  const timeMs = Number(flags.time);
  const BATCH = 256;
  // What one decoded value contributes to the checksum; every measured op must contribute exactly it.
  const perOp = payload.check(roundTrip(value));
  const measure = (ms: number): number => {
    let checksum = 0;
    let ops = 0;
    const start = performance.now();
    const deadline = start + ms;
    let now = start;
    while (now < deadline) {
      for (let i = 0; i < BATCH; i++) checksum += payload.check(roundTrip(value));
      ops += BATCH;
      now = performance.now();
    }
    if (Math.abs(checksum - perOp * ops) > 1e-6 * Math.abs(perOp * ops)) {
      throw new Error(`${spec}: checksum ${checksum} != ${perOp} × ${ops} ops`);
    }
    return (ops / (now - start)) * 1000;
  };
  measure(Math.max(50, timeMs / 2));
  const opsPerSec = measure(timeMs);
  const result: VariantResult = {
    library: library.id,
    payload: payload.id,
    opsPerSec,
    checksum: perOp,
    bytes: library.size(value),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function median(values: readonly number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function formatOps(ops: number): string {
  if (ops >= 1e6) return `${(ops / 1e6).toFixed(2)} M/s`;
  return `${(ops / 1e3).toFixed(0)} k/s`;
}

function main(): void {
  const rounds = Number(flags.rounds);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds must be an integer >= 1 (got ${flags.rounds})`);
  const chosen = flags.payloads?.split(',');
  const payloads = PAYLOADS.filter((p) => chosen?.includes(p.id) ?? true);
  const self = fileURLToPath(import.meta.url);
  const out = flags.json ? process.stderr : process.stdout;
  const cpus = os.cpus();
  const header = {
    node: process.version,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    loadavg: os.loadavg().map((l) => Number(l.toFixed(2))),
    rounds,
    timeMs: Number(flags.time),
  };
  out.write(
    `codec bench: Node ${header.node}, ${header.cpu}, ${header.cores} cores, load ${header.loadavg.join(' ')}, ` +
      `${rounds} rounds × ${header.timeMs} ms per variant\n`,
  );
  if (flags.json) process.stdout.write(`${JSON.stringify({ type: 'header', ...header })}\n`);

  const variants = payloads.flatMap((p) => LIBRARIES.map((l) => `${l.id}:${p.id}`));
  const results = new Map<string, VariantResult[]>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : variants.toReversed();
    for (const variant of order) {
      const child = spawnSync(process.execPath, [self, '--variant', variant, '--time', String(flags.time)], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      if (child.status !== 0) throw new Error(`variant ${variant} failed: ${child.stderr}`);
      const result = JSON.parse(child.stdout) as VariantResult;
      if (flags.json) process.stdout.write(`${JSON.stringify({ type: 'round', round, ...result })}\n`);
      results.set(variant, [...(results.get(variant) ?? []), result]);
    }
  }

  for (const payload of payloads) {
    const rows = LIBRARIES.map((library) => {
      const runs = results.get(`${library.id}:${payload.id}`)!;
      const ops = runs.map((r) => r.opsPerSec);
      return { library, runs, ops, median: median(ops) };
    });
    const checksums = new Set(rows.flatMap((r) => r.runs.map((run) => run.checksum)));
    if (checksums.size !== 1) throw new Error(`${payload.id}: libraries disagree on the decoded value`);
    const skein = rows[0]!.median;
    out.write(`\n${payload.title}: encode + decode round trips\n\n`);
    out.write('| library | median | min – max | bytes | skein Encoder / this | rounds (k/s) |\n');
    out.write('| --- | ---: | ---: | ---: | ---: | --- |\n');
    for (const row of rows) {
      out.write(
        `| ${row.library.title} | ${formatOps(row.median)} | ${formatOps(Math.min(...row.ops))} – ${formatOps(Math.max(...row.ops))} | ` +
          `${row.runs[0]!.bytes} | ${(skein / row.median).toFixed(2)}× | ${row.ops.map((o) => (o / 1e3).toFixed(0)).join(' ')} |\n`,
      );
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify({ type: 'summary', payload: payload.id, library: row.library.id, median: row.median, min: Math.min(...row.ops), max: Math.max(...row.ops), ratio: skein / row.median })}\n`,
        );
      }
    }
  }
}

if (flags.variant !== undefined) runVariant(flags.variant);
else main();
