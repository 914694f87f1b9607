// ProcessPipe across real child processes: values both ways in order (blocking and async ends), typed
// arrays intact, and close() seen by the other end once it received everything sent before.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProcessPipe } from '../../src/channel/process-pipe.ts';
import { toHandle } from '../../src/sync/shared.ts';
import { forkFixture, SOON_MS } from '../sync/process-children.ts';

const T = { timeout: 60_000 };

describe('ProcessPipe', () => {
  it(
    'carries values both ways in order, and the other end sees close() after the last value',
    T,
    async (t) => {
      for (const blocking of [true, false]) {
        const [mine, theirs] = ProcessPipe();
        const child = forkFixture(t, 'echo-over-pipe.ts');
        child.send({ end: toHandle(theirs), blocking });
        assert.equal(await mine.recvAsync({ timeout: SOON_MS }), 'hello');
        for (let i = 0; i < 50; i++) await mine.sendAsync(i);
        mine.send(new Int32Array([1, 2, 3]));
        for (let i = 0; i < 50; i++) assert.equal(await mine.recvAsync({ timeout: SOON_MS }), i * 2);
        assert.deepEqual(await mine.recvAsync({ timeout: SOON_MS }), new Int32Array([2, 4, 6]));
        await mine.sendAsync('stop');
        await child.finished('exit after stop');
        await assert.rejects(mine.recvAsync({ timeout: SOON_MS }), { code: 'SKEIN_CHANNEL_CLOSED' });
        await assert.rejects(mine.sendAsync(1), { code: 'SKEIN_CHANNEL_CLOSED' });
        assert.equal(theirs.closed, true);
      }
    },
  );

  it('is one-way with duplex: false, polls, and times out', async () => {
    const [receiver, sender] = ProcessPipe<string>({ duplex: false });
    assert.throws(() => receiver.send('x' as never), { code: 'SKEIN_CHANNEL_INVALID_ARGUMENT' });
    await assert.rejects(sender.recvAsync(), { code: 'SKEIN_CHANNEL_INVALID_ARGUMENT' });
    assert.equal(receiver.poll(), false);
    assert.equal(await receiver.pollAsync(10), false);
    await assert.rejects(receiver.recvAsync({ timeout: 10 }), { code: 'SKEIN_TIMEOUT' });
    const polled = receiver.pollAsync(SOON_MS);
    sender.send('one');
    assert.equal(await polled, true);
    assert.equal(receiver.recv(), 'one');
    assert.throws(() => receiver.recv(), { code: 'SKEIN_SYNC_WOULD_DEADLOCK' });
    sender.send('two');
    sender.close();
    assert.equal(receiver.poll(), true);
    const received: string[] = [];
    for await (const value of receiver) received.push(value);
    assert.deepEqual(received, ['two']);
  });
});
