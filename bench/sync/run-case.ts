// One sync benchmark variant in a fresh process: warm up, time, check the result, print one JSON line.
// bench/sync.ts runs this once per variant per round. Usage: node bench/sync/run-case.ts <case> <variant>

import { once } from 'node:events';
import { MessageChannel, Worker } from 'node:worker_threads';
import { Lock, RLock, Semaphore, toHandle } from '../../src/sync/index.ts';

const PARTNER = new URL('./partner.ts', import.meta.url);
const [caseId, variant] = process.argv.slice(2);

interface Measured {
  metrics: Record<string, number>;
  checksum: { expected: number; actual: number };
}

function cells(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(64));
}

/** Starts workers on `jobs`, waits until all are ready, releases them together and times until done. */
async function race(shared: Int32Array, jobs: object[], mainSide?: () => Promise<void>): Promise<number> {
  const workers = jobs.map(
    (job) =>
      new Worker(PARTNER, {
        workerData: { cells: shared.buffer, ...job },
        transferList: 'port' in job ? [job.port as never] : [],
      }),
  );
  const done = workers.map((worker) => once(worker, 'message'));
  while (Atomics.load(shared, 0) < workers.length) {
    const seen = Atomics.load(shared, 0);
    const wait = Atomics.waitAsync(shared, 0, seen, 1000);
    if (wait.async) await wait.value;
  }
  const start = performance.now();
  Atomics.store(shared, 1, 1);
  Atomics.notify(shared, 1);
  if (mainSide !== undefined) await mainSide();
  await Promise.all(done);
  const elapsed = performance.now() - start;
  await Promise.all(workers.map((worker) => worker.terminate()));
  return elapsed;
}

function uncontended(): Measured {
  const ops = 5_000_000;
  const run = (): number => {
    if (variant === 'bare-cas') {
      const c = cells();
      const start = performance.now();
      for (let i = 0; i < ops; i++) {
        Atomics.compareExchange(c, 0, 0, 1);
        Atomics.compareExchange(c, 0, 1, 0);
      }
      return performance.now() - start;
    }
    const lock = variant === 'skein-rlock' ? new RLock() : new Lock();
    const start = performance.now();
    for (let i = 0; i < ops; i++) {
      lock.acquire();
      lock.release();
    }
    return performance.now() - start;
  };
  run(); // warm-up: the same loop, so the timed one runs optimized
  const ms = run();
  return { metrics: { nsPerOp: (ms * 1e6) / ops }, checksum: { expected: ops, actual: ops } };
}

async function contended(): Promise<Measured> {
  const perThread = 1_000_000;
  const shared = cells();
  const lock = new Lock();
  const role = variant === 'bare-atomics-add' ? 'atomic-count' : 'lock-count';
  const job = { role, iterations: perThread, lock: toHandle(lock) };
  const ms = await race(shared, [job, job]);
  return {
    metrics: { opsPerSec: (2 * perThread) / (ms / 1000) },
    checksum: { expected: 2 * perThread, actual: shared[2] as number },
  };
}

async function wakeMainWorker(): Promise<Measured> {
  const trips = 20_000;
  const shared = cells();
  let answered = 0;
  if (variant === 'skein-semaphore') {
    const ping = new Semaphore(0);
    const pong = new Semaphore(0);
    const ms = await race(
      shared,
      [{ role: 'sem-pong', iterations: trips, ping: toHandle(ping), pong: toHandle(pong) }],
      async () => {
        for (let i = 0; i < trips; i++) {
          ping.release();
          await pong.acquireAsync();
          answered++;
        }
      },
    );
    return perTrip(ms, trips, answered);
  }
  if (variant === 'bare-atomics') {
    const ms = await race(shared, [{ role: 'atomic-pong', iterations: trips }], async () => {
      for (let i = 0; i < trips; i++) {
        for (;;) {
          const ball = Atomics.load(shared, 3);
          if ((ball & 1) === 0) break;
          const wait = Atomics.waitAsync(shared, 3, ball);
          if (wait.async) await wait.value;
        }
        Atomics.add(shared, 3, 1);
        Atomics.notify(shared, 3);
        answered++;
      }
    });
    return perTrip(ms, trips - 1, answered - 1);
  }
  const { port1, port2 } = new MessageChannel();
  const ms = await race(shared, [{ role: 'port-pong', iterations: trips, port: port2 }], async () => {
    for (let i = 0; i < trips; i++) {
      const reply = once(port1, 'message');
      port1.postMessage(i);
      await reply;
      answered++;
    }
    port1.close();
  });
  return perTrip(ms, trips, answered);
}

async function wakeWorkerWorker(): Promise<Measured> {
  const trips = 50_000;
  const shared = cells();
  let ms: number;
  if (variant === 'skein-semaphore') {
    const ping = toHandle(new Semaphore(0));
    const pong = toHandle(new Semaphore(0));
    ms = await race(shared, [
      { role: 'sem-ping', iterations: trips, ping, pong },
      { role: 'sem-pong', iterations: trips, ping, pong },
    ]);
  } else if (variant === 'bare-atomics') {
    ms = await race(shared, [
      { role: 'atomic-ping', iterations: trips },
      { role: 'atomic-pong', iterations: trips },
    ]);
  } else {
    const { port1, port2 } = new MessageChannel();
    ms = await race(shared, [
      { role: 'port-ping', iterations: trips, port: port1 },
      { role: 'port-pong', iterations: trips, port: port2 },
    ]);
  }
  return perTrip(ms, trips, trips);
}

function perTrip(ms: number, trips: number, answered: number): Measured {
  return {
    metrics: { usPerRoundTrip: (ms * 1000) / trips },
    checksum: { expected: trips, actual: answered },
  };
}

const CASES: Record<string, () => Measured | Promise<Measured>> = {
  'lock-uncontended': uncontended,
  'lock-contended': contended,
  'wake-main-worker': wakeMainWorker,
  'wake-worker-worker': wakeWorkerWorker,
};

const run = CASES[caseId ?? ''];
if (run === undefined) throw new Error(`unknown case ${caseId}; known: ${Object.keys(CASES).join(', ')}`);
const result = await run();
process.stdout.write(
  `${JSON.stringify({ case: caseId, variant, ok: result.checksum.expected === result.checksum.actual, ...result })}\n`,
);
