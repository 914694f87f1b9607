// The queue conformance suite: what docs/sync.md promises for Queue, LifoQueue and PriorityQueue,
// registered once and run against the thread queues (shared memory) and ProcessQueue with each order
// (channel-thread.test.ts, channel-process.test.ts). Producers and consumers are async callers on the
// main thread and blocking callers on pool workers; what comes out is checked as a multiset, and per
// producer in order where the order promises it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { QueueOrder } from '../../src/channel/options.ts';
import type { WaitOptions } from '../../src/sync/wait.ts';
import { putNumberedItems } from '../fixtures/put-numbered-items.ts';
import { takeUntilClosed } from '../fixtures/take-until-closed.ts';
import { range, sortedNumbers, within } from './helpers.ts';
import {
  blockingOnMainFails,
  type Parties,
  rejectsCode,
  SHORT_MS,
  T,
  throwsCode,
  track,
  WAIT_MS,
} from './shared-objects.ts';

/** Options of put() and its forms, as both queues take them. */
export interface QueuePutOptions extends WaitOptions {
  readonly priority?: number;
}

/** What Queue (and its LIFO and priority subclasses) and ProcessQueue share. */
export interface QueueLike<T> extends AsyncIterable<T> {
  readonly options: { readonly capacity: number; readonly order: QueueOrder };
  readonly size: number;
  readonly closed: boolean;
  readonly unfinishedTasks: number;
  empty(): boolean;
  full(): boolean;
  put(value: T, options?: QueuePutOptions): void;
  putAsync(value: T, options?: QueuePutOptions): Promise<void>;
  putNowait(value: T, options?: { readonly priority?: number }): void;
  get(options?: WaitOptions): T;
  getAsync(options?: WaitOptions): Promise<T>;
  getNowait(): T;
  taskDone(): void;
  join(options?: WaitOptions): void;
  joinAsync(options?: WaitOptions): Promise<void>;
  close(): void;
}

export interface QueueImplementation extends Parties {
  /** The class a queue of `order` is made with, for test names: 'LifoQueue', 'ProcessQueue' … */
  readonly className: (order: QueueOrder) => string;
  /** Makes a queue of `order`; `options` go to the constructor as they are (bad ones included). */
  readonly makeQueue: <T>(order: QueueOrder, options?: { readonly capacity?: number }) => QueueLike<T>;
}

type Item = [producer: number, seq: number];

const ORDERS: readonly QueueOrder[] = ['fifo', 'lifo', 'priority'];

/** Put options for item `priority` on a priority queue; none on the others. */
function withPriority(
  order: QueueOrder,
  priority: number,
  options?: WaitOptions,
): QueuePutOptions | undefined {
  return order === 'priority' ? { ...options, priority } : options;
}

/**
 * Registers the queue conformance suite for one implementation, for each order.
 * @param impl how to make a queue of each order, the pool that shares them, and the documented differences
 */
export function queueSuite(impl: QueueImplementation): void {
  const classes = [...new Set(ORDERS.map(impl.className))].join(', ');
  describe(`${classes} (shared with ${impl.workers}): queue conformance`, () => {
    for (const order of ORDERS) {
      const make = <T>(options?: { readonly capacity?: number }): QueueLike<T> =>
        impl.makeQueue<T>(order, options);
      describe(`${impl.className(order)}, order '${order}'`, () => {
        it(`hands items out in ${order} order, whichever put and get forms were used`, async () => {
          const queue = make<string>();
          assert.equal(queue.options.order, order);
          assert.equal(queue.options.capacity, Number.POSITIVE_INFINITY);
          assert.equal(queue.empty(), true);
          // Priorities: a 3, b 1, c 2, d 1, e 0 → e, b, d, c, a (FIFO among equals).
          queue.putNowait('a', order === 'priority' ? { priority: 3 } : undefined);
          await queue.putAsync('b', withPriority(order, 1, { timeout: WAIT_MS }));
          // Room left: the blocking form does not wait, so it works on the main thread too.
          queue.put('c', withPriority(order, 2, { timeout: WAIT_MS }));
          queue.putNowait('d', order === 'priority' ? { priority: 1 } : undefined);
          await queue.putAsync('e', withPriority(order, 0));
          assert.equal(queue.size, 5);
          assert.equal(queue.empty(), false);
          assert.equal(queue.full(), false);
          const taken = [
            queue.getNowait(),
            await queue.getAsync({ timeout: WAIT_MS }),
            queue.get({ timeout: WAIT_MS }),
            await queue.getAsync(),
            queue.getNowait(),
          ];
          const expected = {
            fifo: ['a', 'b', 'c', 'd', 'e'],
            lifo: ['e', 'd', 'c', 'b', 'a'],
            priority: ['e', 'b', 'd', 'c', 'a'],
          }[order];
          assert.deepEqual(taken, expected);
          assert.equal(queue.size, 0);
          assert.equal(queue.empty(), true);
        });

        it('async gets waiting on one thread each take a different item', T, async () => {
          const queue = make<number>();
          for (let round = 0; round < 10; round++) {
            const gets = range(4).map(() => track(queue.getAsync({ timeout: WAIT_MS })));
            for (const n of range(4, round * 4)) await queue.putAsync(n, withPriority(order, n));
            const got = await within(Promise.all(gets), WAIT_MS, `round ${round}: the waiting gets`);
            assert.deepEqual(sortedNumbers(got), range(4, round * 4), `round ${round}`);
          }
        });

        it('delivers a copy of each value: nested objects and typed arrays survive', async () => {
          const queue = make<unknown>();
          const value = {
            name: 'ünïcødé ✓',
            list: [1, -0.5, null, true, 'two'],
            samples: new Float64Array([1.5, -2.25, Number.MAX_VALUE]),
            bytes: new Uint8Array([0, 1, 254, 255]),
            nested: { deeper: { deepest: [new Int32Array([-7, 7])] } },
          };
          await queue.putAsync(value);
          const out = await queue.getAsync({ timeout: WAIT_MS });
          assert.deepStrictEqual(out, value);
          assert.notEqual(out, value);
        });

        it(
          'capacity: a full queue refuses putNowait with QueueFullError and makes put wait for a get',
          T,
          async () => {
            const queue = make<number>({ capacity: 2 });
            assert.equal(queue.options.capacity, 2);
            queue.putNowait(1);
            queue.putNowait(2);
            assert.equal(queue.full(), true);
            assert.equal(queue.size, 2);
            throwsCode(() => queue.putNowait(3), 'SKEIN_CHANNEL_FULL', 'putNowait on a full queue');
            await rejectsCode(
              queue.putAsync(3, { timeout: SHORT_MS }),
              'SKEIN_TIMEOUT',
              'putAsync on a full queue',
            );
            assert.equal(queue.size, 2, 'the timed-out put put nothing');
            const waiting = track(queue.putAsync(3, { timeout: WAIT_MS }));
            const first = await queue.getAsync({ timeout: WAIT_MS });
            await within(waiting, WAIT_MS, 'the put waiting for room');
            assert.equal(queue.size, 2);
            const rest = [queue.getNowait(), queue.getNowait()];
            assert.deepEqual(
              [first, ...rest].sort((a, b) => a - b),
              [1, 2, 3],
            );
          },
        );

        it(
          'an empty queue refuses getNowait with QueueEmptyError; getAsync times out or aborts and loses nothing',
          T,
          async () => {
            const queue = make<string>();
            throwsCode(() => queue.getNowait(), 'SKEIN_CHANNEL_EMPTY', 'getNowait on an empty queue');
            await rejectsCode(
              queue.getAsync({ timeout: SHORT_MS }),
              'SKEIN_TIMEOUT',
              'getAsync on an empty queue',
            );
            const controller = new AbortController();
            const waiting = track(queue.getAsync({ signal: controller.signal }));
            const reason = new Error('consumer gave up');
            controller.abort(reason);
            const aborted = await rejectsCode(waiting, 'SKEIN_ABORTED', 'aborted getAsync');
            assert.equal((aborted as Error).cause, reason);
            queue.putNowait('kept');
            assert.equal(await queue.getAsync({ timeout: WAIT_MS }), 'kept', 'the aborted get took nothing');
          },
        );

        it('an already-aborted signal rejects at once: nothing is put or taken', async () => {
          const queue = make<string>();
          queue.putNowait('there');
          const signal = AbortSignal.abort();
          await rejectsCode(queue.getAsync({ signal }), 'SKEIN_ABORTED', 'getAsync');
          await rejectsCode(queue.putAsync('more', { signal }), 'SKEIN_ABORTED', 'putAsync');
          await rejectsCode(queue.joinAsync({ signal }), 'SKEIN_ABORTED', 'joinAsync');
          throwsCode(() => queue.get({ signal }), 'SKEIN_ABORTED', 'get');
          throwsCode(() => queue.put('more', { signal }), 'SKEIN_ABORTED', 'put');
          assert.equal(queue.size, 1);
          assert.equal(queue.getNowait(), 'there');
        });

        it('taskDone() counts items off; join waits until every item put was marked', T, async () => {
          const queue = make<number>();
          queue.join({ timeout: WAIT_MS });
          await queue.joinAsync({ timeout: WAIT_MS });
          for (const n of [1, 2, 3]) queue.putNowait(n);
          assert.equal(queue.unfinishedTasks, 3);
          await rejectsCode(
            queue.joinAsync({ timeout: SHORT_MS }),
            'SKEIN_TIMEOUT',
            'joinAsync with work left',
          );
          for (let i = 0; i < 3; i++) await queue.getAsync({ timeout: WAIT_MS });
          assert.equal(queue.unfinishedTasks, 3, 'taking an item does not finish it');
          queue.taskDone();
          queue.taskDone();
          const joining = track(queue.joinAsync({ timeout: WAIT_MS }));
          assert.equal(queue.unfinishedTasks, 1);
          queue.taskDone();
          await within(joining, WAIT_MS, 'joinAsync after the last taskDone');
          assert.equal(queue.unfinishedTasks, 0);
          // Nothing unfinished: the blocking form does not wait, so it works on the main thread too.
          queue.join({ timeout: WAIT_MS });
          throwsCode(() => queue.taskDone(), 'SKEIN_CHANNEL_INVALID_ARGUMENT', 'one taskDone too many');
        });

        it(
          'close(): puts fail at once, gets drain what is left and then fail, and waiters wake',
          T,
          async () => {
            const queue = make<string>({ capacity: 2 });
            const empty = make<string>();
            const waitingGet = track(empty.getAsync({ timeout: WAIT_MS }));
            queue.putNowait('x');
            queue.putNowait('y');
            const waitingPut = track(queue.putAsync('z', { timeout: WAIT_MS }));
            queue.close();
            empty.close();
            queue.close();
            assert.equal(queue.closed, true);
            await rejectsCode(waitingPut, 'SKEIN_CHANNEL_CLOSED', 'a put waiting for room at close()');
            await rejectsCode(
              waitingGet,
              'SKEIN_CHANNEL_CLOSED',
              'a get waiting on an empty queue at close()',
            );
            throwsCode(() => queue.putNowait('late'), 'SKEIN_CHANNEL_CLOSED', 'putNowait after close()');
            await rejectsCode(queue.putAsync('late'), 'SKEIN_CHANNEL_CLOSED', 'putAsync after close()');
            throwsCode(
              () => queue.put('late', { timeout: WAIT_MS }),
              'SKEIN_CHANNEL_CLOSED',
              'put after close()',
            );
            const drained = [queue.getNowait(), await queue.getAsync({ timeout: WAIT_MS })];
            assert.deepEqual(drained.sort(), ['x', 'y']);
            throwsCode(() => queue.getNowait(), 'SKEIN_CHANNEL_CLOSED', 'getNowait once drained');
            await rejectsCode(
              queue.getAsync({ timeout: WAIT_MS }),
              'SKEIN_CHANNEL_CLOSED',
              'getAsync once drained',
            );
            // Closed and drained: the blocking form does not wait, so it works on the main thread too.
            throwsCode(() => queue.get({ timeout: WAIT_MS }), 'SKEIN_CHANNEL_CLOSED', 'get once drained');
          },
        );

        it('for await takes the items left and ends once the queue is closed and drained', T, async () => {
          const queue = make<number>();
          for (const n of [1, 2, 3]) await queue.putAsync(n);
          const seen: number[] = [];
          const reading = (async () => {
            for await (const n of queue) {
              seen.push(n);
              if (seen.length === 3) queue.close();
            }
          })();
          await within(reading, WAIT_MS, 'for await over a queue closed after its third item');
          assert.deepEqual(
            seen.sort((a, b) => a - b),
            [1, 2, 3],
          );
          assert.equal(queue.closed, true);
        });

        const blockingName =
          impl.blockingOnMain === 'waits'
            ? 'blocking get, put and join on the main thread wait and time out when they must wait'
            : 'blocking get, put and join on the main thread, which runs the hub, refuse to wait';
        it(blockingName, () => {
          const queue = make<number>({ capacity: 1 });
          blockingOnMainFails(impl, () => queue.get({ timeout: SHORT_MS }), 'get on an empty queue');
          queue.putNowait(1);
          blockingOnMainFails(impl, () => queue.put(2, { timeout: SHORT_MS }), 'put on a full queue');
          blockingOnMainFails(impl, () => queue.join({ timeout: SHORT_MS }), 'join with work left');
          assert.equal(queue.size, 1);
          assert.equal(queue.getNowait(), 1);
        });

        it('refuses bad options, priorities and wait options with SKEIN_CHANNEL_INVALID_ARGUMENT', async () => {
          for (const capacity of [0, -1, 1.5, Number.NaN, '2', 2 ** 31]) {
            throwsCode(
              () => impl.makeQueue(order, { capacity: capacity as number }),
              'SKEIN_CHANNEL_INVALID_ARGUMENT',
              `capacity ${String(capacity)}`,
            );
          }
          throwsCode(
            () => impl.makeQueue(order, 5 as unknown as { capacity?: number }),
            'SKEIN_CHANNEL_INVALID_ARGUMENT',
            'options 5',
          );
          const queue = make<number>();
          if (order === 'priority') {
            throwsCode(
              () => queue.putNowait(1, { priority: Number.NaN }),
              'SKEIN_CHANNEL_INVALID_ARGUMENT',
              'priority NaN',
            );
            await rejectsCode(
              () => queue.putAsync(1, { priority: '1' as unknown as number }),
              'SKEIN_CHANNEL_INVALID_ARGUMENT',
              "priority '1'",
            );
          } else {
            throwsCode(
              () => queue.putNowait(1, { priority: 1 }),
              'SKEIN_CHANNEL_INVALID_ARGUMENT',
              `a priority on a ${order} queue`,
            );
          }
          for (const options of [5, { timeout: -1 }, { signal: 'abort' }]) {
            const what = JSON.stringify(options);
            await rejectsCode(
              () => queue.getAsync(options as WaitOptions),
              'SKEIN_CHANNEL_INVALID_ARGUMENT',
              `getAsync ${what}`,
            );
            await rejectsCode(
              () => queue.putAsync(1, options as WaitOptions),
              'SKEIN_CHANNEL_INVALID_ARGUMENT',
              `putAsync ${what}`,
            );
            throwsCode(
              () => queue.get(options as WaitOptions),
              'SKEIN_CHANNEL_INVALID_ARGUMENT',
              `get ${what}`,
            );
          }
          assert.equal(queue.size, 0);
        });

        it(
          `many producers and consumers, async on the main thread and blocking on ${impl.workers}: nothing lost or duplicated${order === 'lifo' ? '' : ', each producer in order'}`,
          T,
          async () => {
            const pool = impl.pool();
            const perProducer = 150;
            for (let round = 0; round < 2; round++) {
              const queue = make<Item>({ capacity: 8 });
              const consumers = [
                track(pool.run(takeUntilClosed, queue, true)),
                track(takeUntilClosed(queue, false)),
                track(takeUntilClosed(queue, false)),
              ];
              const produced = await within(
                Promise.all([
                  pool.run(putNumberedItems, queue, 0, perProducer, true),
                  putNumberedItems(queue, 1, perProducer, false),
                  putNumberedItems(queue, 2, perProducer, false),
                ]),
                WAIT_MS,
                `round ${round}: producers`,
              );
              assert.deepEqual(produced, [perProducer, perProducer, perProducer]);
              // Every consumer marks each item it took: join returns once all were taken.
              await queue.joinAsync({ timeout: WAIT_MS });
              queue.close();
              const taken = (await within(
                Promise.all(consumers),
                WAIT_MS,
                `round ${round}: consumers`,
              )) as Item[][];
              const all = taken.flat().map(([producer, seq]) => producer * perProducer + seq);
              assert.deepEqual(
                all.sort((a, b) => a - b),
                Array.from({ length: 3 * perProducer }, (_, i) => i),
                `round ${round}: every item exactly once`,
              );
              if (order !== 'lifo') {
                // FIFO: items leave in the order they were put. Priority (= seq): an item of a producer
                // is taken only after its smaller-seq predecessors, which were in the queue before it.
                for (const [consumer, items] of taken.entries()) {
                  for (let producer = 0; producer < 3; producer++) {
                    const seqs = items.filter(([p]) => p === producer).map(([, seq]) => seq);
                    assert.deepEqual(
                      seqs,
                      [...seqs].sort((a, b) => a - b),
                      `round ${round}: consumer ${consumer} got producer ${producer}'s items out of order`,
                    );
                  }
                }
              }
              assert.equal(queue.size, 0);
              assert.equal(queue.unfinishedTasks, 0);
            }
          },
        );
      });
    }
  });
}
