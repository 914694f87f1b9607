// Type tests (checked by `npm run typecheck`, never run): argument and result types flow from a task
// reference through every pool method, and misuse does not compile.

import { actor, task } from '../../src/index.ts';
import type { ActorProxy, ProcessPool, ThreadPool } from '../../src/pool/index.ts';

const add = task(import.meta, (a: number, b: number): number => a + b);
const shout = task(import.meta, async (s: string): Promise<string> => s.toUpperCase());
const Counter = actor(
  import.meta,
  class Counter {
    n = 0;
    add(k: number): number {
      return (this.n += k);
    }
    async label(prefix: string): Promise<string> {
      return `${prefix}${this.n}`;
    }
  },
);

export async function typeChecks(pool: ThreadPool | ProcessPool): Promise<void> {
  const sum: number = await pool.run(add, 1, 2);
  const upper: string = await pool.run(shout, 'a');
  const viaSubmit: number = await pool.submit(add, [1, 2], { timeout: 10, priority: 1 });
  const mapped: string[] = await pool.map(shout, ['a', 'b']);
  const starred: number[] = await pool.starmap(add, [
    [1, 2],
    [3, 4],
  ]);
  for await (const value of pool.imap(shout, ['x'])) {
    const s: string = value;
    void s;
  }
  const inline: number = await pool.run((x: number) => x * 2, 21);
  const counter: ActorProxy<InstanceType<typeof Counter>> = await pool.actor(Counter);
  const n: number = await counter.add(1);
  const label: string = await counter.label('#');
  await counter[Symbol.asyncDispose]();
  void [sum, upper, viaSubmit, mapped, starred, inline, n, label];

  // @ts-expect-error: wrong argument type
  await pool.run(add, 1, '2');
  // @ts-expect-error: missing argument
  await pool.run(add, 1);
  // @ts-expect-error: the result is a string, not a number
  const wrong: number = await pool.run(shout, 'a');
  // @ts-expect-error: map items must match the task's parameter
  await pool.map(shout, [1, 2]);
  // @ts-expect-error: submit takes the arguments as an array
  await pool.submit(add, 1, 2);
  // @ts-expect-error: actor methods return promises of their results
  const notAPromise: number = counter.add(1);
  // @ts-expect-error: unknown option
  await pool.submit(add, [1, 2], { timout: 5 });
  void [wrong, notAPromise];
}
