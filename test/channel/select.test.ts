// select(): completes exactly one ready case and leaves the others untouched, wakes when another thread
// makes a case ready (get, recv and put cases), reports closed receive cases, and handles timeout 0
// (nothing ready: index -1), timeouts, aborts and malformed cases.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pipe, Queue, select } from '../../src/channel/index.ts';
import { AbortError, type SkeinError, TimeoutError } from '../../src/errors.ts';
import { toHandle } from '../../src/sync/index.ts';
import { cellsOf, SOON_MS } from '../sync/helpers.ts';
import { spawn } from '../sync/spawn.ts';

function hasCode(code: string): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.equal((error as SkeinError).code, code, (error as Error).message);
    return true;
  };
}

test('select takes from exactly one ready queue, leaves the other untouched, and favours neither', async () => {
  const picked = [0, 0];
  for (let round = 0; round < 200; round++) {
    const first = new Queue<string>();
    const second = new Queue<number>();
    first.put('a');
    second.put(2);
    const result = await select([{ get: first }, { get: second }]);
    assert.equal(result.closed, false);
    if (result.index === 0) {
      const text: string = result.value;
      assert.equal(text, 'a');
      assert.deepEqual([first.size, second.size], [0, 1]);
    } else if (result.index === 1) {
      const number: number = result.value;
      assert.equal(number, 2);
      assert.deepEqual([first.size, second.size], [1, 0]);
    } else {
      assert.fail(`index ${result.index}`);
    }
    picked[result.index]!++;
  }
  assert.ok(picked[0]! > 0 && picked[1]! > 0, `picked ${picked.join(' / ')}`);
});

test('select wakes when a worker puts into one of several empty channels and takes only that item', async () => {
  const idle = new Queue<[number, number, string]>();
  const target = new Queue<[number, number, string]>();
  const [quiet] = Pipe();
  const selecting = select([{ get: idle }, { recv: quiet }, { get: target }], { timeout: SOON_MS });
  const producer = spawn('queue-producer.ts', {
    queue: toHandle(target),
    producer: 5,
    count: 2,
    paddingBytes: 0,
  });
  const { index, value } = await selecting;
  assert.equal(index, 2);
  assert.deepEqual(value, [5, 0, '']);
  await producer.done;
  assert.deepEqual([idle.size, target.size], [0, 1]);
  assert.equal(quiet.poll(), false);
});

test('select over a queue and a pipe receives everything a worker sends, then reports the pipe closed', async () => {
  const jobs = new Queue<number>();
  const [receiver, sender] = Pipe<number>({ duplex: false, bufferBytes: 64 });
  const worker = spawn('pipe-sender.ts', { end: toHandle(sender), count: 300 });
  const got: number[] = [];
  for (;;) {
    const result = await select([{ get: jobs }, { recv: receiver }], { timeout: SOON_MS });
    assert.equal(result.index, 1);
    if (result.closed) break;
    got.push(result.value as number);
  }
  await worker.done;
  assert.deepEqual(
    got,
    Array.from({ length: 300 }, (_, i) => i),
  );
});

test('a put case completes when a consumer thread makes room, and the get case beside it takes nothing', async () => {
  const full = new Queue<[number, number]>({ capacity: 1 });
  const idle = new Queue<number>();
  full.put([1, 0]);
  const gate = cellsOf(1);
  const selecting = select([{ put: full, value: [1, 1] }, { get: idle }], { timeout: SOON_MS });
  const consumer = spawn<Int32Array>('queue-consumer.ts', {
    queue: toHandle(full),
    gate: gate.buffer,
    maxItems: 1,
  });
  assert.deepEqual(await selecting, { index: 0, value: undefined, closed: false });
  assert.deepEqual([...(await consumer.done)], [1, 0]);
  assert.deepEqual(full.getNowait(), [1, 1]);
  assert.equal(idle.size, 0);
});

test('a send case completes on a pipe with room', async () => {
  const [a, b] = Pipe<string, string>();
  assert.deepEqual(await select([{ send: a, value: 'hi' }]), { index: 0, value: undefined, closed: false });
  assert.equal(b.recv(), 'hi');
});

test('with timeout 0 select returns index -1 when no case is ready, and takes a ready one', async () => {
  const empty = new Queue();
  assert.deepEqual(await select([{ get: empty }], { timeout: 0 }), {
    index: -1,
    value: undefined,
    closed: false,
  });
  empty.put('x');
  assert.deepEqual(await select([{ get: empty }], { timeout: 0 }), { index: 0, value: 'x', closed: false });
});

test('select rejects with TimeoutError after a timeout and AbortError on abort, taking nothing later', async () => {
  const queue = new Queue<number>();
  await assert.rejects(select([{ get: queue }], { timeout: 10 }), TimeoutError);
  const controller = new AbortController();
  const selecting = select([{ get: queue }], { signal: controller.signal });
  controller.abort();
  await assert.rejects(selecting, AbortError);
  queue.put(1);
  assert.equal(await queue.getAsync({ timeout: SOON_MS }), 1);
});

test('a closed and drained queue is a ready case with closed: true; a put case on it rejects', async () => {
  const queue = new Queue();
  queue.close();
  assert.deepEqual(await select([{ get: new Queue() }, { get: queue }]), {
    index: 1,
    value: undefined,
    closed: true,
  });
  await assert.rejects(select([{ put: queue, value: 1 }]), hasCode('SKEIN_CHANNEL_CLOSED'));
});

test('malformed cases are refused with SKEIN_CHANNEL_INVALID_ARGUMENT naming the case', async () => {
  const queue = new Queue();
  await assert.rejects(select([]), /non-empty array of cases/);
  await assert.rejects(select([{ get: queue }, { get: {} } as never]), /cases\[1\]\.get must be a Queue/);
  await assert.rejects(
    select([{ get: queue, recv: queue } as never]),
    /exactly one of get, recv, put, send \(got get, recv\)/,
  );
  await assert.rejects(select([{ put: queue, value: () => 1 }]), hasCode('SKEIN_CODEC_UNSUPPORTED'));
  await assert.rejects(select([{ get: queue }], { timeout: -1 }), hasCode('SKEIN_CHANNEL_INVALID_ARGUMENT'));
});
