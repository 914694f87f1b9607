// Pipe: both directions between the main thread and a worker (values of every codec kind, 1 KiB
// messages through a small ring), one-way pipes, poll, close seen from either end, timeouts and aborts
// of the async forms, and the refusals (wrong direction, message too large, new Connection()).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Connection, Pipe } from '../../src/channel/index.ts';
import { AbortError, type SkeinError, TimeoutError } from '../../src/errors.ts';
import { fromHandle, toHandle } from '../../src/sync/index.ts';
import { SOON_MS } from '../sync/helpers.ts';
import { spawn } from '../sync/spawn.ts';

function hasCode(code: string): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.equal((error as SkeinError).code, code, (error as Error).message);
    return true;
  };
}

test('a worker echoes what one end sends: both directions carry every value whole and in order', async () => {
  const [here, there] = Pipe<unknown, unknown>({ bufferBytes: 2048 });
  const echo = spawn<number>('pipe-echo.ts', { end: toHandle(there) });
  const values: unknown[] = [
    'k'.repeat(1024),
    new Float32Array([1, 2.5, -3]),
    new Uint8Array(1000).fill(9),
    { id: 1, tags: new Set(['a']), when: new Date(0), big: 2n ** 70n },
    [null, undefined, -0, Number.NaN],
  ];
  // Send ahead of receiving so the ring fills and both sides block at times.
  for (let round = 0; round < 40; round++) {
    const sending = (async () => {
      for (const value of values) await here.sendAsync(value, { timeout: SOON_MS });
    })();
    for (const value of values) assert.deepEqual(await here.recvAsync({ timeout: SOON_MS }), value);
    await sending;
  }
  here.close();
  assert.equal(await echo.done, 40 * values.length);
  // The worker closed its end after ours: our recv now finds it closed and drained.
  await assert.rejects(here.recvAsync({ timeout: SOON_MS }), hasCode('SKEIN_CHANNEL_CLOSED'));
});

test('a one-way pipe delivers everything sent before the sender closed, then for await ends', async () => {
  const [receiver, sender] = Pipe<number>({ duplex: false, bufferBytes: 64 });
  const worker = spawn('pipe-sender.ts', { end: toHandle(sender), count: 2000 });
  let next = 0;
  for await (const value of receiver) assert.equal(value, next++);
  assert.equal(next, 2000);
  await worker.done;
  assert.equal(receiver.poll(), true, 'a closed and drained pipe polls true: recv would not wait');
  assert.throws(() => receiver.recv(), hasCode('SKEIN_CHANNEL_CLOSED'));
});

test('the ends of a one-way pipe refuse the other direction', () => {
  const [receiver, sender] = Pipe({ duplex: false });
  assert.throws(() => (receiver as Connection).send(1), /receiving end of a one-way pipe/);
  assert.throws(() => (sender as Connection).recv({ timeout: 0 }), /sending end of a one-way pipe/);
});

test('poll says whether recv would return at once, waiting up to its timeout', async () => {
  const [a, b] = Pipe<string, string>();
  assert.equal(b.poll(), false);
  assert.equal(b.poll(5), false);
  assert.equal(await b.pollAsync(5), false);
  a.send('x');
  assert.equal(b.poll(), true);
  assert.equal(await b.pollAsync(), true);
  assert.equal(b.recv(), 'x');
  const polling = a.pollAsync(SOON_MS);
  b.send('y');
  assert.equal(await polling, true);
});

test('after one end closes, the other receives what was sent, then gets ChannelClosedError; its sends fail at once', async () => {
  const [a, b] = Pipe<number, number>();
  a.send(1);
  a.send(2);
  a.close();
  a.close();
  assert.equal(a.closed, true);
  assert.equal(b.closed, false);
  assert.throws(() => a.send(3), /closed end of a pipe/);
  assert.throws(() => a.recv(), /closed end of a pipe/);
  assert.equal(b.recv(), 1);
  assert.equal(await b.recvAsync(), 2);
  assert.throws(() => b.recv(), /other end is closed and has nothing left/);
  assert.throws(() => b.send(4), /other end is closed; nothing would receive it/);
});

test('close() wakes a recvAsync and a sendAsync waiting on the other end', async () => {
  const [a, b] = Pipe<number, number>({ bufferBytes: 64 });
  const receiving = b.recvAsync({ timeout: SOON_MS });
  let sent = 0;
  while (sent < 100) {
    try {
      b.send(sent, { timeout: 0 });
      sent++;
    } catch {
      break;
    }
  }
  assert.ok(sent > 0 && sent < 100, `${sent} fit`);
  const sending = b.sendAsync(-1, { timeout: SOON_MS });
  a.close();
  await assert.rejects(receiving, hasCode('SKEIN_CHANNEL_CLOSED'));
  await assert.rejects(sending, hasCode('SKEIN_CHANNEL_CLOSED'));
});

test('recvAsync and sendAsync reject with TimeoutError and AbortError', async () => {
  const [a, b] = Pipe<number, number>({ bufferBytes: 64 });
  await assert.rejects(b.recvAsync({ timeout: 10 }), TimeoutError);
  assert.throws(() => b.recv({ timeout: 5 }), TimeoutError);
  const controller = new AbortController();
  const receiving = b.recvAsync({ signal: controller.signal });
  controller.abort();
  await assert.rejects(receiving, AbortError);
  while (true) {
    try {
      a.send(0, { timeout: 0 });
    } catch (error) {
      assert.ok(error instanceof TimeoutError);
      break;
    }
  }
  await assert.rejects(a.sendAsync(1, { signal: AbortSignal.timeout(10) }), TimeoutError);
  await assert.rejects(a.sendAsync(1, { signal: AbortSignal.abort() }), AbortError);
  // Nothing aborted was sent: b drains only zeros.
  for (;;) {
    if (!b.poll()) break;
    assert.equal(b.recv(), 0);
  }
});

test('a message larger than the pipe can ever hold is refused with SKEIN_CHANNEL_MESSAGE_TOO_LARGE', () => {
  const [a] = Pipe({ bufferBytes: 64 });
  assert.throws(
    () => a.send('x'.repeat(100)),
    (error: unknown) => {
      hasCode('SKEIN_CHANNEL_MESSAGE_TOO_LARGE')(error);
      assert.match((error as Error).message, /bufferBytes of 64 hold at most 60 bytes/);
      return true;
    },
  );
});

test('ends are made by Pipe() only; a revived end works on the same pipe', () => {
  assert.throws(() => new Connection(), /call Pipe\(\) instead/);
  const [a, b] = Pipe<string, string>();
  const twin = fromHandle<Connection<string, string>>(toHandle(b));
  a.send('hi');
  assert.equal(twin.recv(), 'hi');
  twin.send('back');
  assert.equal(a.recv(), 'back');
  assert.throws(() => Pipe({ duplex: 'yes' as never }), /duplex must be a boolean/);
});
