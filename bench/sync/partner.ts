// The worker side of the sync benchmark cases (bench/sync/run-case.ts): counts under a lock or with
// Atomics.add, or answers ping-pongs through a Skein Semaphore pair, bare Atomics or a MessagePort.

import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { fromHandle, type Lock, type Semaphore, type SharedHandle } from '../../src/sync/index.ts';

interface Job {
  readonly role:
    | 'lock-count'
    | 'atomic-count'
    | 'sem-pong'
    | 'sem-ping'
    | 'atomic-pong'
    | 'atomic-ping'
    | 'port-pong'
    | 'port-ping';
  readonly iterations: number;
  readonly cells: SharedArrayBuffer;
  readonly lock?: SharedHandle;
  readonly ping?: SharedHandle;
  readonly pong?: SharedHandle;
  readonly port?: MessagePort;
}

const job = workerData as Job;
const cells = new Int32Array(job.cells);
const READY = 0;
const GO = 1;
const COUNTER = 2;

// Everyone reports ready, then waits for the go signal, so timing starts with all threads running.
Atomics.add(cells, READY, 1);
Atomics.notify(cells, READY);
Atomics.wait(cells, GO, 0);

switch (job.role) {
  case 'lock-count': {
    const lock = fromHandle<Lock>(job.lock as SharedHandle);
    for (let i = 0; i < job.iterations; i++) {
      lock.acquire();
      cells[COUNTER] = (cells[COUNTER] as number) + 1;
      lock.release();
    }
    break;
  }
  case 'atomic-count':
    for (let i = 0; i < job.iterations; i++) Atomics.add(cells, COUNTER, 1);
    break;
  case 'sem-pong':
  case 'sem-ping': {
    const ping = fromHandle<Semaphore>(job.ping as SharedHandle);
    const pong = fromHandle<Semaphore>(job.pong as SharedHandle);
    for (let i = 0; i < job.iterations; i++) {
      if (job.role === 'sem-ping') {
        ping.release();
        pong.acquire();
      } else {
        ping.acquire();
        pong.release();
      }
    }
    break;
  }
  case 'atomic-pong':
  case 'atomic-ping': {
    // Cell 3 is the ball: odd = at the ponger, even = at the pinger.
    const BALL = 3;
    const mine = job.role === 'atomic-ping' ? 0 : 1;
    for (let i = 0; i < job.iterations; i++) {
      for (;;) {
        const ball = Atomics.load(cells, BALL);
        if ((ball & 1) === mine) break;
        Atomics.wait(cells, BALL, ball);
      }
      Atomics.add(cells, BALL, 1);
      Atomics.notify(cells, BALL);
    }
    break;
  }
  case 'port-pong': {
    const port = job.port as MessagePort;
    let left = job.iterations;
    port.on('message', (value: number) => {
      port.postMessage(value);
      if (--left === 0) {
        port.close();
        parentPort?.postMessage('done');
      }
    });
    break;
  }
  case 'port-ping': {
    const port = job.port as MessagePort;
    let left = job.iterations;
    port.on('message', (value: number) => {
      if (--left === 0) {
        port.close();
        parentPort?.postMessage('done');
      } else port.postMessage(value + 1);
    });
    port.postMessage(0);
    break;
  }
}
if (job.role !== 'port-pong' && job.role !== 'port-ping') parentPort?.postMessage('done');
