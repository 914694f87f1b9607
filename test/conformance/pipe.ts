// The pipe conformance suite: what docs/sync.md promises for Pipe, registered once and run against Pipe
// (shared memory) and ProcessPipe (the hub) in channel-thread.test.ts and channel-process.test.ts. The
// far end is used on the main thread or handed to a pool worker that echoes what it receives.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WaitOptions } from '../../src/sync/wait.ts';
import { echoUntilClosed } from '../fixtures/echo-until-closed.ts';
import { range, within } from './helpers.ts';
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

/** What Connection and ProcessConnection share. */
export interface ConnectionLike extends AsyncIterable<unknown> {
  readonly closed: boolean;
  send(value: unknown, options?: WaitOptions): void;
  sendAsync(value: unknown, options?: WaitOptions): Promise<void>;
  recv(options?: WaitOptions): unknown;
  recvAsync(options?: WaitOptions): Promise<unknown>;
  poll(timeout?: number): boolean;
  pollAsync(timeout?: number): Promise<boolean>;
  close(): void;
}

export interface PipeImplementation extends Parties {
  /** 'Pipe' or 'ProcessPipe', for test names. */
  readonly name: string;
  /** Makes a pipe; `options` go to it as they are (bad ones included). */
  readonly makePipe: (options?: { readonly duplex?: boolean }) => [ConnectionLike, ConnectionLike];
}

/**
 * Registers the pipe conformance suite for one implementation.
 * @param impl how to make a pipe, the pool that shares its ends, and the documented differences
 */
export function pipeSuite(impl: PipeImplementation): void {
  describe(`${impl.name} (shared with ${impl.workers}): pipe conformance`, () => {
    it('carries values both ways in the order sent, whichever send and recv forms were used', async () => {
      const [a, b] = impl.makePipe();
      a.send('one');
      await a.sendAsync({ two: [2, new Float64Array([2.5])] });
      // Something is there: the blocking form does not wait, so it works on the main thread too.
      assert.equal(b.recv({ timeout: WAIT_MS }), 'one');
      assert.deepStrictEqual(await b.recvAsync({ timeout: WAIT_MS }), { two: [2, new Float64Array([2.5])] });
      await b.sendAsync('back');
      b.send(new Int32Array([-1, 1]));
      assert.equal(await a.recvAsync(), 'back');
      assert.deepStrictEqual(a.recv(), new Int32Array([-1, 1]));
      for (const n of range(200)) await a.sendAsync(n);
      const received: unknown[] = [];
      for (let i = 0; i < 200; i++) received.push(await b.recvAsync({ timeout: WAIT_MS }));
      assert.deepEqual(received, range(200));
    });

    it(
      'poll says whether recv would return without waiting; pollAsync waits up to its timeout',
      T,
      async () => {
        const [a, b] = impl.makePipe();
        assert.equal(b.poll(), false);
        assert.equal(await b.pollAsync(), false);
        assert.equal(await b.pollAsync(SHORT_MS), false);
        a.send(1);
        assert.equal(b.poll(), true);
        assert.equal(await b.pollAsync(), true);
        assert.equal(b.recv(), 1);
        const polling = track(b.pollAsync(WAIT_MS));
        await a.sendAsync(2);
        assert.equal(await within(polling, WAIT_MS, 'pollAsync while a value arrives'), true);
        assert.equal(await b.recvAsync(), 2);
        a.close();
        assert.equal(b.poll(), true, 'recv would not wait: it would throw');
      },
    );

    it(
      'close(): the other end receives what was sent, then ChannelClosedError; sends fail on both ends',
      T,
      async () => {
        const [a, b] = impl.makePipe();
        a.send('x');
        await a.sendAsync('y');
        a.close();
        a.close();
        assert.equal(a.closed, true);
        assert.equal(b.closed, false);
        assert.equal(b.recv(), 'x');
        assert.equal(await b.recvAsync(), 'y');
        await rejectsCode(
          b.recvAsync({ timeout: WAIT_MS }),
          'SKEIN_CHANNEL_CLOSED',
          'recvAsync once drained',
        );
        // Closed and drained: the blocking form does not wait, so it works on the main thread too.
        throwsCode(() => b.recv({ timeout: WAIT_MS }), 'SKEIN_CHANNEL_CLOSED', 'recv once drained');
        throwsCode(() => b.send('z'), 'SKEIN_CHANNEL_CLOSED', 'send to a closed end');
        await rejectsCode(b.sendAsync('z'), 'SKEIN_CHANNEL_CLOSED', 'sendAsync to a closed end');
        throwsCode(() => a.send('z'), 'SKEIN_CHANNEL_CLOSED', 'send on a closed end');
        throwsCode(() => a.recv(), 'SKEIN_CHANNEL_CLOSED', 'recv on a closed end');
        throwsCode(() => a.poll(), 'SKEIN_CHANNEL_CLOSED', 'poll on a closed end');
      },
    );

    it('close() wakes a recvAsync waiting at the other end with ChannelClosedError', T, async () => {
      const [a, b] = impl.makePipe();
      const waiting = track(b.recvAsync({ timeout: WAIT_MS }));
      a.close();
      await rejectsCode(waiting, 'SKEIN_CHANNEL_CLOSED', 'the waiting recvAsync');
    });

    it('for await receives until the other end closes and everything it sent was received', T, async () => {
      const [a, b] = impl.makePipe();
      const seen: unknown[] = [];
      const reading = (async () => {
        for await (const value of b) seen.push(value);
      })();
      for (const n of range(50)) await a.sendAsync(n);
      a.close();
      await within(reading, WAIT_MS, 'for await over a closed pipe');
      assert.deepEqual(seen, range(50));
    });

    it(
      'recvAsync times out or aborts and loses nothing; an already-aborted signal rejects at once',
      T,
      async () => {
        const [a, b] = impl.makePipe();
        await rejectsCode(b.recvAsync({ timeout: SHORT_MS }), 'SKEIN_TIMEOUT', 'recvAsync on an empty pipe');
        const controller = new AbortController();
        const waiting = track(b.recvAsync({ signal: controller.signal }));
        const reason = new Error('receiver gave up');
        controller.abort(reason);
        const aborted = await rejectsCode(waiting, 'SKEIN_ABORTED', 'aborted recvAsync');
        assert.equal((aborted as Error).cause, reason);
        a.send('kept');
        const signal = AbortSignal.abort();
        await rejectsCode(b.recvAsync({ signal }), 'SKEIN_ABORTED', 'recvAsync with an aborted signal');
        throwsCode(() => b.recv({ signal }), 'SKEIN_ABORTED', 'recv with an aborted signal');
        await rejectsCode(
          a.sendAsync('never', { signal }),
          'SKEIN_ABORTED',
          'sendAsync with an aborted signal',
        );
        assert.equal(await b.recvAsync({ timeout: WAIT_MS }), 'kept');
        assert.equal(b.poll(), false, 'nothing else was sent');
      },
    );

    it('a one-way pipe gives [receiver, sender]: each end refuses the other direction', async () => {
      const [receiver, sender] = impl.makePipe({ duplex: false });
      sender.send('one way');
      assert.equal(await receiver.recvAsync({ timeout: WAIT_MS }), 'one way');
      throwsCode(() => receiver.send('back'), 'SKEIN_CHANNEL_INVALID_ARGUMENT', 'send on the receiving end');
      throwsCode(() => sender.recv(), 'SKEIN_CHANNEL_INVALID_ARGUMENT', 'recv on the sending end');
      throwsCode(() => sender.poll(), 'SKEIN_CHANNEL_INVALID_ARGUMENT', 'poll on the sending end');
    });

    it('refuses bad options and wait options with SKEIN_CHANNEL_INVALID_ARGUMENT', async () => {
      for (const options of [5, { duplex: 'yes' }]) {
        throwsCode(
          () => impl.makePipe(options as { duplex?: boolean }),
          'SKEIN_CHANNEL_INVALID_ARGUMENT',
          `options ${JSON.stringify(options)}`,
        );
      }
      const [a, b] = impl.makePipe();
      for (const options of [5, { timeout: -1 }, { signal: 'abort' }]) {
        const what = JSON.stringify(options);
        await rejectsCode(
          () => b.recvAsync(options as WaitOptions),
          'SKEIN_CHANNEL_INVALID_ARGUMENT',
          `recvAsync ${what}`,
        );
        throwsCode(() => b.recv(options as WaitOptions), 'SKEIN_CHANNEL_INVALID_ARGUMENT', `recv ${what}`);
        await rejectsCode(
          () => a.sendAsync(1, options as WaitOptions),
          'SKEIN_CHANNEL_INVALID_ARGUMENT',
          `sendAsync ${what}`,
        );
      }
      assert.equal(b.poll(), false, 'nothing was sent');
    });

    const blockingName =
      impl.blockingOnMain === 'waits'
        ? 'a blocking recv() on the main thread with nothing to receive waits and times out'
        : 'a blocking recv() on the main thread, which runs the hub, refuses to wait';
    it(blockingName, () => {
      const [, b] = impl.makePipe();
      blockingOnMainFails(impl, () => b.recv({ timeout: SHORT_MS }), 'blocking recv');
      assert.equal(b.closed, false);
    });

    it(
      `an end handed to one of the ${impl.workers} echoes every value back in order, both ways`,
      T,
      async () => {
        const [mine, theirs] = impl.makePipe();
        const echo = track(impl.pool().run(echoUntilClosed, theirs));
        const values = [...range(150), 'text', { nested: [new Float64Array([1.5, -1])] }, null, true];
        const sending = (async () => {
          for (const value of values) await mine.sendAsync(value);
        })();
        const back: unknown[] = [];
        for (let i = 0; i < values.length; i++) back.push(await mine.recvAsync({ timeout: WAIT_MS }));
        await sending;
        assert.deepStrictEqual(back, values);
        mine.close();
        assert.equal(await within(echo, WAIT_MS, 'the echoing worker'), values.length);
      },
    );
  });
}
