// Microbenchmark of the shared-memory ring behind skein/channel: Queue put/get throughput between two
// worker threads (a producer blocking in put(), a consumer blocking in get()) beside MessagePort
// postMessage between the same two threads, for 8-byte and 1 KiB Uint8Array messages. Each variant runs
// in a fresh process, the order reversed every round; every run is checked by a checksum.
//
//   node bench/channel-ring.ts [--rounds 5] [--out results.jsonl]
//
// One file plays three parts: the driver (no flags), a variant process (--variant), and its workers.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MessageChannel, type MessagePort, parentPort, Worker, workerData } from 'node:worker_threads';
import { Queue } from '../src/channel/index.ts';
import { fromHandle, type SharedHandle, toHandle } from '../src/sync/index.ts';

const SELF = fileURLToPath(import.meta.url);
const VARIANTS = ['skein-queue', 'message-port'] as const;
type Variant = (typeof VARIANTS)[number];
/** Message sizes and how many messages a timed run sends of each. */
const SIZES = [
  { bytes: 8, messages: 400_000 },
  { bytes: 1024, messages: 100_000 },
] as const;
/** Messages sent before timing starts, so both sides run optimized code. */
const WARMUP_MESSAGES = 50_000;
const CHILD_TIMEOUT_MS = 120_000;
const GO = 0;
const WARM = 1;

function signal(cells: Int32Array, index: number): void {
  Atomics.store(cells, index, 1);
  Atomics.notify(cells, index);
}

interface Job {
  readonly role: 'producer' | 'consumer';
  readonly variant: Variant;
  readonly bytes: number;
  readonly messages: number;
  readonly queue?: SharedHandle;
  readonly port?: MessagePort;
  /** Cell GO: set by the variant process to start the timed run; cell WARM: set by the consumer. */
  readonly go: SharedArrayBuffer;
}

/** What the consumer checks: the sum of the message numbers in bytes 0-3, and the last byte of each. */
function expectedChecksum(messages: number): number {
  return (messages * (messages - 1)) / 2;
}

function fill(message: Uint8Array, n: number): void {
  message[0] = n & 255;
  message[1] = (n >>> 8) & 255;
  message[2] = (n >>> 16) & 255;
  message[3] = (n >>> 24) & 255;
  message[message.length - 1] = n & 255;
}

/** The number in a message, or -1 when its last byte disagrees (a torn or mixed-up message). */
function numberOf(message: Uint8Array): number {
  const n = message[0]! | (message[1]! << 8) | (message[2]! << 16) | (message[3]! << 24);
  return message[message.length - 1] === (n & 255) ? n : -1;
}

// --- worker side -------------------------------------------------------------------------------------

function runWorker(job: Job): void {
  const go = new Int32Array(job.go);
  const total = WARMUP_MESSAGES + job.messages;
  if (job.variant === 'skein-queue') {
    const queue = fromHandle<Queue<Uint8Array>>(job.queue!);
    if (job.role === 'producer') {
      const message = new Uint8Array(job.bytes);
      for (let n = 0; n < total; n++) {
        if (n === WARMUP_MESSAGES) Atomics.wait(go, GO, 0);
        fill(message, n - (n < WARMUP_MESSAGES ? 0 : WARMUP_MESSAGES));
        queue.put(message);
      }
      parentPort!.postMessage({ done: true });
    } else {
      let sum = 0;
      let bad = 0;
      for (let n = 0; n < total; n++) {
        const value = numberOf(queue.get());
        if (n === WARMUP_MESSAGES - 1) signal(go, WARM);
        if (n < WARMUP_MESSAGES) continue;
        if (value < 0) bad++;
        else sum += value;
      }
      parentPort!.postMessage({ sum, bad, end: performance.now() + performance.timeOrigin });
    }
    return;
  }
  const port = job.port!;
  if (job.role === 'producer') {
    const message = new Uint8Array(job.bytes);
    for (let n = 0; n < total; n++) {
      // The timed run starts once the consumer has taken the whole warm-up.
      if (n === WARMUP_MESSAGES) Atomics.wait(go, GO, 0);
      fill(message, n - (n < WARMUP_MESSAGES ? 0 : WARMUP_MESSAGES));
      port.postMessage(message);
    }
    parentPort!.postMessage({ done: true });
    return;
  }
  let n = 0;
  let sum = 0;
  let bad = 0;
  port.on('message', (message: Uint8Array) => {
    const value = numberOf(message);
    if (n >= WARMUP_MESSAGES) {
      if (value < 0) bad++;
      else sum += value;
    }
    n++;
    if (n === WARMUP_MESSAGES) signal(go, WARM);
    if (n === total) {
      parentPort!.postMessage({ sum, bad, end: performance.now() + performance.timeOrigin });
      port.close();
    }
  });
}

// --- one variant in this process ---------------------------------------------------------------------

interface RunResult {
  readonly variant: Variant;
  readonly bytes: number;
  readonly messages: number;
  readonly ok: boolean;
  readonly messagesPerSec: number;
  readonly checksum: { readonly expected: number; readonly actual: number; readonly bad: number };
}

async function runVariant(variant: Variant, bytes: number, messages: number): Promise<RunResult> {
  const go = new Int32Array(new SharedArrayBuffer(8));
  const base = { variant, bytes, messages, go: go.buffer as SharedArrayBuffer };
  let producerJob: Job;
  let consumerJob: Job;
  const transfer: MessagePort[][] = [[], []];
  if (variant === 'skein-queue') {
    const queue = toHandle(new Queue<Uint8Array>());
    producerJob = { ...base, role: 'producer', queue };
    consumerJob = { ...base, role: 'consumer', queue };
  } else {
    const { port1, port2 } = new MessageChannel();
    producerJob = { ...base, role: 'producer', port: port1 };
    consumerJob = { ...base, role: 'consumer', port: port2 };
    transfer[0] = [port1];
    transfer[1] = [port2];
  }
  const consumer = new Worker(SELF, { workerData: consumerJob, transferList: transfer[1]! });
  const producer = new Worker(SELF, { workerData: producerJob, transferList: transfer[0]! });
  const consumed = new Promise<{ sum: number; bad: number; end: number }>((resolve, reject) => {
    consumer.once('message', resolve);
    consumer.once('error', reject);
  });
  producer.once('error', (error) => {
    throw error;
  });
  const warm = Atomics.waitAsync(go, WARM, 0, CHILD_TIMEOUT_MS);
  if (warm.async) await warm.value;
  const start = performance.now() + performance.timeOrigin;
  signal(go, GO);
  const { sum, bad, end } = await consumed;
  await Promise.all([consumer.terminate(), producer.terminate()]);
  const expected = expectedChecksum(messages);
  return {
    variant,
    bytes,
    messages,
    ok: sum === expected && bad === 0,
    messagesPerSec: messages / ((end - start) / 1000),
    checksum: { expected, actual: sum, bad },
  };
}

// --- driver ------------------------------------------------------------------------------------------

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function format(n: number): string {
  return n >= 1e5 ? `${(n / 1e6).toFixed(2)}M` : n.toFixed(0);
}

function drive(rounds: number, out: string | undefined): void {
  console.log(
    `# Node ${process.version} · ${os.cpus()[0]?.model ?? 'unknown CPU'} · ${os.availableParallelism()} cores · load ${os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')} · ${rounds} rounds`,
  );
  const records: object[] = [];
  const rates = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    const order = SIZES.flatMap((size) => VARIANTS.map((variant) => ({ ...size, variant })));
    if (round % 2 === 1) order.reverse();
    for (const { variant, bytes, messages } of order) {
      const child = spawnSync(
        process.execPath,
        [SELF, '--variant', variant, '--bytes', `${bytes}`, '--messages', `${messages}`],
        { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS },
      );
      const line = child.stdout.trim().split('\n').at(-1) ?? '';
      let result: RunResult;
      try {
        result = JSON.parse(line) as RunResult;
      } catch {
        console.error(`${variant}/${bytes} B failed: ${child.stderr.slice(-2000)}`);
        continue;
      }
      records.push({ round, ...result });
      if (!result.ok) {
        console.error(`${variant}/${bytes} B: checksum mismatch, result dropped: ${line}`);
        continue;
      }
      const key = `${bytes}/${variant}`;
      rates.set(key, [...(rates.get(key) ?? []), result.messagesPerSec]);
    }
  }
  for (const { bytes } of SIZES) {
    console.log(`\n## ${bytes}-byte messages, worker → worker (messages/s, higher is better)\n`);
    console.log('| variant | median | min – max | rounds | Queue ÷ this |');
    console.log('| --- | ---: | ---: | --- | ---: |');
    const skein = median(rates.get(`${bytes}/skein-queue`) ?? []);
    for (const variant of VARIANTS) {
      const rows = rates.get(`${bytes}/${variant}`) ?? [];
      if (rows.length === 0) {
        console.log(`| ${variant} | failed | | | |`);
        continue;
      }
      const mid = median(rows);
      console.log(
        `| ${variant} | ${format(mid)} | ${format(Math.min(...rows))} – ${format(Math.max(...rows))} | ${rows.map(format).join(' ')} | ${(skein / mid).toFixed(2)}× |`,
      );
    }
  }
  if (out !== undefined) writeFileSync(out, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
}

if (parentPort !== null) {
  runWorker(workerData as Job);
} else {
  const { values: flags } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      out: { type: 'string' },
      variant: { type: 'string' },
      bytes: { type: 'string' },
      messages: { type: 'string' },
    },
  });
  if (flags.variant !== undefined) {
    const variant = flags.variant as Variant;
    if (!VARIANTS.includes(variant)) throw new Error(`--variant must be one of ${VARIANTS.join(', ')}`);
    const result = await runVariant(variant, Number(flags.bytes), Number(flags.messages));
    console.log(JSON.stringify(result));
  } else {
    const rounds = Number(flags.rounds);
    if (!Number.isInteger(rounds) || rounds < 1)
      throw new Error(`--rounds must be an integer >= 1 (got ${flags.rounds})`);
    drive(rounds, flags.out);
  }
}
