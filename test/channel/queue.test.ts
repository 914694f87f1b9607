// Queue in one thread: FIFO, LIFO and priority order, capacity in items and bytes, the nowait errors,
// messages too large or not encodable, close and taskDone semantics, and the async forms' timeouts and
// aborts on the main thread (the cross-thread behaviour is in queue-threads.test.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LifoQueue, PriorityQueue, Queue } from '../../src/channel/index.ts';
import { AbortError, InvalidArgumentError, type SkeinError, TimeoutError } from '../../src/errors.ts';
import { fromHandle, toHandle } from '../../src/sync/index.ts';

function hasCode(code: string): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.equal((error as SkeinError).code, code, (error as Error).message);
    return true;
  };
}

function drain<T>(queue: Queue<T>): T[] {
  const out: T[] = [];
  while (!queue.empty()) out.push(queue.getNowait());
  return out;
}

test('a FIFO queue hands items out in the order they were put, across many wraps of its ring', () => {
  const queue = new Queue<number[]>({ bufferBytes: 256 });
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 500; round++) {
    // Lengths vary so records straddle the end of the ring at every offset.
    const length = round % 9;
    for (let k = 0; k < 3; k++) queue.put(Array.from({ length }, () => next++));
    for (let k = 0; k < 3; k++) {
      for (const value of queue.get()) assert.equal(value, expected++);
    }
  }
  assert.equal(expected, next);
  assert.equal(queue.size, 0);
});

test('a LIFO queue hands out the newest item first', () => {
  const queue = new LifoQueue<string>();
  for (const word of ['a', 'b', 'c']) queue.put(word);
  assert.equal(queue.get(), 'c');
  queue.put('d');
  assert.deepEqual(drain(queue), ['d', 'b', 'a']);
  assert.equal(new Queue({ order: 'lifo' }).options.order, 'lifo');
});

test('a priority queue hands out the smallest priority first and equal priorities in put order', () => {
  const queue = new PriorityQueue<string>({ bufferBytes: 4096 });
  const puts: [string, number][] = [
    ['e1', 5],
    ['a1', 1],
    ['e2', 5],
    ['z', Number.POSITIVE_INFINITY],
    ['m', -3.5],
    ['a2', 1],
    ['d', 0],
    ['a3', 1],
  ];
  for (const [value, priority] of puts) queue.put(value, { priority });
  queue.put('d2'); // priority 0 by default
  assert.deepEqual(drain(queue), ['m', 'd', 'd2', 'a1', 'a2', 'a3', 'e1', 'e2', 'z']);
});

test('a priority queue stays ordered while its arena is compacted again and again', () => {
  const queue = new PriorityQueue<[number, number, string]>({ bufferBytes: 1024 });
  const model: [number, number, number][] = []; // priority, arrival, value
  let arrival = 0;
  let seed = 7;
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fff_ffff;
    return seed;
  };
  for (let step = 0; step < 4000; step++) {
    if (model.length > 0 && (random() % 3 === 0 || queue.full())) {
      model.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const [priority, , value] = model.shift()!;
      const got = queue.getNowait();
      assert.deepEqual([got[0], got[1]], [priority, value], `step ${step}`);
    } else {
      const priority = random() % 5;
      const value = random();
      try {
        queue.putNowait([priority, value, 'x'.repeat(random() % 60)], { priority });
        model.push([priority, arrival++, value]);
      } catch (error) {
        hasCode('SKEIN_CHANNEL_FULL')(error);
      }
    }
  }
  assert.equal(queue.size, model.length);
});

test('capacity bounds the items: putNowait throws QueueFullError, put with a timeout throws TimeoutError', () => {
  const queue = new Queue<number>({ capacity: 2 });
  queue.put(1);
  queue.putNowait(2);
  assert.equal(queue.full(), true);
  assert.throws(() => queue.putNowait(3), hasCode('SKEIN_CHANNEL_FULL'));
  assert.throws(() => queue.put(3, { timeout: 0 }), TimeoutError);
  assert.throws(
    () => queue.put(3, { timeout: 5 }),
    /Queue.put did not succeed within 5 ms \(the queue stayed full\)/,
  );
  assert.equal(queue.get(), 1);
  queue.put(3);
  assert.deepEqual(drain(queue), [2, 3]);
});

test('bufferBytes bounds the bytes: a queue of unlimited capacity is full when its ring is', () => {
  const queue = new Queue<string>({ bufferBytes: 64 });
  let puts = 0;
  assert.throws(() => {
    for (;;) {
      queue.putNowait('0123456789');
      puts++;
    }
  }, hasCode('SKEIN_CHANNEL_FULL'));
  assert.ok(puts >= 3 && puts <= 4, `${puts} messages of 15 bytes in 64`);
  assert.equal(queue.full(), true);
  assert.equal(queue.get(), '0123456789');
  queue.putNowait('0123456789');
});

test('getNowait on an empty queue throws QueueEmptyError; get with a timeout throws TimeoutError', () => {
  const queue = new Queue();
  assert.throws(() => queue.getNowait(), hasCode('SKEIN_CHANNEL_EMPTY'));
  assert.throws(() => queue.get({ timeout: 0 }), hasCode('SKEIN_TIMEOUT'));
  assert.throws(() => queue.get({ timeout: 5 }), /the queue stayed empty/);
});

test('a message larger than the ring can ever hold is refused, naming its size and bufferBytes', () => {
  for (const order of ['fifo', 'lifo', 'priority'] as const) {
    const queue = new Queue<Uint8Array>({ bufferBytes: 128, order });
    let needed = 0;
    assert.throws(
      () => queue.put(new Uint8Array(200)),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.equal(error.code, 'SKEIN_CHANNEL_MESSAGE_TOO_LARGE');
        const match = /A message of 20\d bytes .* bufferBytes of 128 .* bufferBytes >= (\d+)/.exec(
          error.message,
        );
        assert.ok(match !== null, error.message);
        needed = Number(match[1]);
        return true;
      },
    );
    assert.equal(queue.size, 0);
    // The size the message asks for is enough, and no less would do.
    const enough = new Queue<Uint8Array>({ bufferBytes: needed, order });
    enough.putNowait(new Uint8Array(200));
    assert.equal(enough.getNowait().length, 200);
    const short = new Queue<Uint8Array>({ bufferBytes: needed - 8, order });
    assert.throws(() => short.putNowait(new Uint8Array(200)), hasCode('SKEIN_CHANNEL_MESSAGE_TOO_LARGE'));
  }
});

test('a value the codec cannot carry is refused with SKEIN_CODEC_UNSUPPORTED naming its path', async () => {
  const queue = new Queue();
  assert.throws(
    () => queue.put({ jobs: [1, { run: () => 1 }] }),
    (error: unknown) => {
      hasCode('SKEIN_CODEC_UNSUPPORTED')(error);
      assert.match((error as Error).message, /jobs\[1\]\.run/);
      return true;
    },
  );
  await assert.rejects(queue.putAsync(Symbol('s')), hasCode('SKEIN_CODEC_UNSUPPORTED'));
  assert.equal(queue.size, 0);
  assert.equal(queue.unfinishedTasks, 0);
});

test('values come out as copies of what went in: 1 KiB strings, typed arrays, maps, dates, bigints', () => {
  const queue = new Queue<unknown>({ bufferBytes: 8192 });
  const values: unknown[] = [
    'k'.repeat(1024),
    new Float64Array([1.5, -0, Number.NaN]),
    new Uint8Array(1024).map((_, i) => i & 255),
    new BigInt64Array([-(2n ** 63n)]),
    new Map<unknown, unknown>([['a', new Set([1, 2])]]),
    new Date(86_400_000),
    2n ** 100n,
    { nested: { array: [null, undefined, true] } },
  ];
  for (const value of values) queue.put(value);
  for (const value of values) assert.deepEqual(queue.get(), value);
  const view = new Uint16Array(new ArrayBuffer(16), 4, 3).fill(7);
  queue.put(view);
  const copy = queue.get() as Uint16Array;
  assert.deepEqual([...copy], [7, 7, 7]);
  assert.notEqual(copy.buffer, view.buffer);
});

test('close() refuses puts at once and lets gets drain what is left, then refuses them too', async () => {
  const queue = new Queue<number>();
  queue.put(1);
  queue.put(2);
  queue.close();
  queue.close();
  assert.equal(queue.closed, true);
  assert.throws(() => queue.put(3), hasCode('SKEIN_CHANNEL_CLOSED'));
  assert.throws(() => queue.putNowait(3), hasCode('SKEIN_CHANNEL_CLOSED'));
  await assert.rejects(queue.putAsync(3), hasCode('SKEIN_CHANNEL_CLOSED'));
  assert.equal(queue.get(), 1);
  assert.equal(await queue.getAsync(), 2);
  assert.throws(() => queue.get(), hasCode('SKEIN_CHANNEL_CLOSED'));
  assert.throws(() => queue.getNowait(), hasCode('SKEIN_CHANNEL_CLOSED'));
  await assert.rejects(queue.getAsync(), hasCode('SKEIN_CHANNEL_CLOSED'));
});

test('close() wakes async getters and putters that are waiting', async () => {
  const empty = new Queue();
  const full = new Queue({ capacity: 1 });
  full.put('x');
  const getting = empty.getAsync({ timeout: 10_000 });
  const putting = full.putAsync('y', { timeout: 10_000 });
  empty.close();
  full.close();
  await assert.rejects(getting, hasCode('SKEIN_CHANNEL_CLOSED'));
  await assert.rejects(putting, hasCode('SKEIN_CHANNEL_CLOSED'));
  assert.equal(full.get(), 'x');
});

test('for await takes items until the queue is closed and drained', async () => {
  const queue = new Queue<number>();
  for (let i = 0; i < 5; i++) queue.put(i);
  const seen: number[] = [];
  const loop = (async () => {
    for await (const item of queue) {
      seen.push(item);
      if (item === 4) {
        queue.close();
      }
    }
  })();
  await loop;
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
});

test('getAsync waits for a later putAsync without blocking the event loop', async () => {
  const queue = new Queue<string>({ capacity: 1 });
  const got = queue.getAsync({ timeout: 10_000 });
  await queue.putAsync('first');
  await queue.putAsync('second');
  const third = queue.putAsync('third', { timeout: 10_000 });
  assert.equal(await got, 'first');
  assert.equal(await queue.getAsync(), 'second');
  await third;
  assert.equal(queue.getNowait(), 'third');
});

test('the async forms reject with TimeoutError after their timeout and with AbortError on abort', async () => {
  const queue = new Queue({ capacity: 1 });
  await assert.rejects(queue.getAsync({ timeout: 10 }), TimeoutError);
  const controller = new AbortController();
  const getting = queue.getAsync({ signal: controller.signal });
  controller.abort(new Error('stop'));
  await assert.rejects(getting, (error: unknown) => {
    assert.ok(error instanceof AbortError);
    assert.equal((error.cause as Error).message, 'stop');
    return true;
  });
  await queue.putAsync(1);
  await assert.rejects(queue.putAsync(2, { timeout: 10 }), TimeoutError);
  const putting = queue.putAsync(2, { signal: AbortSignal.timeout(10) });
  await assert.rejects(putting, TimeoutError);
  // An aborted wait leaves nothing behind: the queue still holds exactly the one item.
  assert.equal(queue.size, 1);
  assert.equal(queue.getNowait(), 1);
  await assert.rejects(queue.joinAsync({ timeout: 10 }), /1 items not marked/);
});

test('an already-aborted signal rejects at once with no side effects', async () => {
  const queue = new Queue({ capacity: 1 });
  const signal = AbortSignal.abort();
  await assert.rejects(queue.putAsync('x', { signal }), AbortError);
  assert.throws(() => queue.put('x', { signal }), AbortError);
  assert.equal(queue.size, 0);
  queue.put('y');
  await assert.rejects(queue.getAsync({ signal }), AbortError);
  assert.equal(queue.size, 1);
});

test('taskDone counts down the items put; join returns at zero; one call too many is refused', async () => {
  const queue = new Queue<number>();
  queue.join({ timeout: 0 });
  queue.put(1);
  queue.put(2);
  assert.equal(queue.unfinishedTasks, 2);
  assert.throws(() => queue.join({ timeout: 0 }), TimeoutError);
  queue.get();
  queue.taskDone();
  const joined = queue.joinAsync({ timeout: 10_000 });
  queue.get();
  queue.taskDone();
  await joined;
  assert.throws(
    () => queue.taskDone(),
    (error: unknown) => {
      assert.ok(error instanceof InvalidArgumentError);
      assert.equal(error.code, 'SKEIN_CHANNEL_INVALID_ARGUMENT');
      assert.match(error.message, /taskDone\(\) called more times than items were put/);
      return true;
    },
  );
});

test('a priority is refused on a queue that is not a priority queue, and NaN on one that is', () => {
  assert.throws(
    () => new Queue().put(1, { priority: 1 }),
    /order is 'fifo'; create it with order: 'priority'/,
  );
  assert.throws(
    () => new PriorityQueue().put(1, { priority: Number.NaN }),
    hasCode('SKEIN_CHANNEL_INVALID_ARGUMENT'),
  );
});

test('a bad timeout or signal is refused with SKEIN_CHANNEL_INVALID_ARGUMENT', async () => {
  const queue = new Queue();
  assert.throws(() => queue.get({ timeout: -1 }), /Queue.get timeout must be a number of milliseconds >= 0/);
  await assert.rejects(
    queue.getAsync({ signal: 'stop' as never }),
    hasCode('SKEIN_CHANNEL_INVALID_ARGUMENT'),
  );
});

test('a queue revived from its handle shares the items, the options and the class', () => {
  for (const queue of [
    new Queue({ capacity: 3 }),
    new LifoQueue(),
    new PriorityQueue({ bufferBytes: 512 }),
  ]) {
    const twin = fromHandle<Queue<number>>(toHandle(queue));
    assert.equal(twin.constructor, queue.constructor);
    assert.deepEqual(twin.options, queue.options);
    queue.put(7);
    assert.equal(twin.size, 1);
    assert.equal(twin.get(), 7);
    twin.close();
    assert.equal(queue.closed, true);
  }
});
