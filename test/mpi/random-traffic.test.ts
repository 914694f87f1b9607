// Many messages of random sizes to random ranks, all in flight at once, received with ANY_SOURCE: the
// multiset of messages received equals the multiset sent, every payload arrives intact, and messages
// from one rank to another arrive in the order they were sent. Threads and processes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mpirun } from '../../src/mpi/index.ts';
import { randomTraffic } from '../fixtures/mpi/random-traffic.ts';

for (const [transport, size] of [
  ['thread', 6],
  ['process', 3],
] as const) {
  test(`${transport}: random traffic among ${size} ranks loses, alters and reorders nothing`, async () => {
    const results = await mpirun(size, randomTraffic, { transport, timeout: 60_000 });
    const sent: string[] = [];
    const received: string[] = [];
    for (const [source, { sent: plan }] of results.entries()) {
      for (const [dest, seq, words] of plan) sent.push(`${source}->${dest}#${seq}:${words}`);
    }
    for (const [dest, { seen }] of results.entries()) {
      const lastSeq = new Map<number, number>();
      for (const [source, seq, words] of seen) {
        assert.ok(words > 0, `a message from ${source} to ${dest} (#${seq}) arrived altered`);
        assert.ok(
          seq > (lastSeq.get(source) ?? -1),
          `rank ${dest} got #${seq} from ${source} after #${lastSeq.get(source)}`,
        );
        lastSeq.set(source, seq);
        received.push(`${source}->${dest}#${seq}:${words}`);
      }
    }
    assert.deepEqual(received.sort(), sent.sort());
  });
}
