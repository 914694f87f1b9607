// Type tests (checked by `npm run typecheck`, never run): item types flow through Queue and Pipe ends,
// select() results are typed per case index, and misuse does not compile.

import { type Connection, Pipe, PriorityQueue, Queue, select } from '../../src/channel/index.ts';

export async function typeChecks(): Promise<void> {
  const numbers = new Queue<number>({ capacity: 10 });
  numbers.put(1);
  const n: number = await numbers.getAsync();
  // @ts-expect-error a Queue<number> takes numbers only
  numbers.put('one');
  for await (const item of numbers) {
    const each: number = item;
    void each;
  }
  await new PriorityQueue<string>().putAsync('job', { priority: 2 });

  const [parent, child] = Pipe<string, number>();
  parent.send('hello');
  const length: number = await parent.recvAsync();
  const text: string = child.recv();
  // @ts-expect-error the parent end sends strings
  parent.send(5);
  const [receiver, sender] = Pipe<Date>({ duplex: false });
  sender.send(new Date());
  const when: Date = receiver.recv();
  const end: Connection<number, string> = child;

  const result = await select([{ get: numbers }, { recv: parent }, { put: numbers, value: 3 }]);
  if (result.index === 0 && !result.closed) {
    const fromQueue: number = result.value;
    void fromQueue;
  } else if (result.index === 1 && !result.closed) {
    const fromPipe: number = result.value;
    // @ts-expect-error case 1 yields what the parent end receives (numbers)
    const wrong: string = result.value;
    void [fromPipe, wrong];
  } else if (result.index === 2) {
    const nothing: undefined = result.value;
    void nothing;
  }
  // @ts-expect-error a put case needs a value of the queue's type
  await select([{ put: numbers, value: 'x' }]);
  void [n, length, text, when, end];
}
